"""Agent runs traced end to end: the instrumentor and the transport on one SDK tracer provider that
exports over OTLP/HTTP to ``OtlpReceiver``, so the tests read the spans as a collector gets them.

The ``rig`` fixture checks after every test that each span started was ended exactly once and
was received, and that nothing complained about a context it could not detach.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import Simulator
from axio_transport_anthropic.telemetry import AxioInstrumentor, TelemetryConfig

from .conftest import SECRET
from .otlp_receiver import OtlpReceiver, attributes
from .test_tracing import Ledger

__all__ = ["CHAT", "Node", "Rig", "attrs", "rig", "shape", "status", "tree"]

CHAT = "chat claude-sonnet-4-6"


@dataclass
class Rig:
    sim: Simulator
    session: aiohttp.ClientSession
    receiver: OtlpReceiver
    provider: TracerProvider
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    ledger: Ledger = field(default_factory=Ledger)

    def transport(self, **telemetry: Any) -> AnthropicTransport:
        config = TelemetryConfig(tracer_provider=self.provider, registry=self.registry, logs=False, **telemetry)
        return AnthropicTransport(
            api_key=SECRET, base_url=self.sim.base_url, session=self.session, telemetry=config, idle_timeout=5.0
        )

    async def spans(self) -> list[Span]:
        # The exporter blocks; from a thread it cannot stall the loop the simulator runs on.
        assert await asyncio.to_thread(self.provider.force_flush, 5000)
        return self.receiver.spans()

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def rig(caplog: pytest.LogCaptureFixture) -> AsyncIterator[Rig]:
    caplog.set_level(logging.WARNING)
    async with OtlpReceiver() as receiver, Simulator(api_key=SECRET) as sim, aiohttp.ClientSession() as session:
        provider = TracerProvider()
        state = Rig(sim, session, receiver, provider)
        provider.add_span_processor(state.ledger)
        exporter = OTLPSpanExporter(endpoint=receiver.url + "/v1/traces", compression=Compression.Gzip)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        instrumentor = AxioInstrumentor()
        instrumentor.instrument(tracer_provider=provider, registry=state.registry)
        try:
            yield state
        finally:
            instrumentor.uninstrument()
        await asyncio.to_thread(provider.shutdown)
        ledger = state.ledger
        assert Counter(ledger.ended) == Counter(ledger.started), "a span was never ended, or ended twice"
        assert sorted(int.from_bytes(s.span_id) for s in receiver.spans()) == sorted(ledger.started)
    logged = "\n".join(record.getMessage() for record in [*caplog.get_records("call"), *caplog.records])
    for complaint in ("ended span", "Failed to detach context", "Failed to export", "Could not"):
        assert complaint not in logged


def attrs(span: Span) -> dict[str, Any]:
    return attributes(span.attributes)


def status(span: Span) -> tuple[int, str]:
    return span.status.code, span.status.message


@dataclass
class Node:
    span: Span
    children: list[Node]

    @property
    def name(self) -> str:
        return self.span.name

    def find(self, name: str) -> list[Node]:
        return [child for child in self.children if child.name == name]


def tree(spans: list[Span]) -> list[Node]:
    """The received spans as trees: roots (no parent received) in start order, children likewise.
    Every child is checked to be in its parent's trace and within its parent's time."""
    nodes = {span.span_id: Node(span, []) for span in spans}
    roots: list[Node] = []
    for node in sorted(nodes.values(), key=lambda n: n.span.start_time_unix_nano):
        parent = nodes.get(node.span.parent_span_id)
        if parent is None:
            roots.append(node)
            continue
        assert node.span.trace_id == parent.span.trace_id, f"{node.name} is in another trace than its parent"
        assert parent.span.start_time_unix_nano <= node.span.start_time_unix_nano
        assert node.span.end_time_unix_nano <= parent.span.end_time_unix_nano, f"{node.name} outlived its parent"
        parent.children.append(node)
    return roots


def shape(node: Node) -> tuple[str, list[Any]]:
    """Names only, children in start order: the tree as a picture."""
    return node.name, [shape(child) for child in node.children]
