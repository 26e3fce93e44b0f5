"""Exemplars carry trace ids only where the traces go somewhere: not when the ``setup()`` in effect
records spans without exporting them (``TelemetryConfig.exemplars`` overrides)."""

from __future__ import annotations

import io

import aiohttp
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import Simulator
from axio_transport_anthropic.telemetry import TelemetryConfig
from axio_transport_anthropic.telemetry.setup import setup

from .otel_globals import clean_globals  # noqa: F401
from .otlp_receiver import OtlpReceiver
from .support import collect, keyless_sim

__all__ = ["keyless_sim"]  # fixtures

pytestmark = [pytest.mark.usefixtures("clean_globals"), pytest.mark.timeout(60)]

DURATION = "axio_anthropic_request_duration_seconds"


def _exemplars(registry: CollectorRegistry) -> list[dict[str, str]]:
    return [
        dict(sample.exemplar.labels)
        for family in registry.collect()
        if family.name == DURATION
        for sample in family.samples
        if sample.exemplar is not None
    ]


async def _one_request(sim: Simulator, session: aiohttp.ClientSession, config: TelemetryConfig) -> None:
    transport = AnthropicTransport(api_key="sk-x", base_url=sim.base_url, session=session, telemetry=config)
    await collect(transport)


async def test_no_exemplars_when_setup_exports_no_traces(sim: Simulator, session: aiohttp.ClientSession) -> None:
    handle = setup(metrics_port=None, registry=CollectorRegistry(), log_stream=io.StringIO())
    try:
        assert handle.tracer_provider is not None  # spans are recorded (log lines carry their ids)...
        registry = CollectorRegistry()
        await _one_request(sim, session, TelemetryConfig(registry=registry))
        assert _exemplars(registry) == [], "...but nothing stores them: an exemplar would lead nowhere"
        forced = CollectorRegistry()
        await _one_request(sim, session, TelemetryConfig(registry=forced, exemplars=True))
        assert len(_exemplars(forced)) == 1
    finally:
        await handle.ashutdown()


async def test_exemplars_when_setup_exports_traces(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with OtlpReceiver() as receiver:
        handle = setup(
            otlp_endpoint=receiver.url, metrics_port=None, registry=CollectorRegistry(), log_stream=io.StringIO()
        )
        try:
            registry = CollectorRegistry()
            await _one_request(sim, session, TelemetryConfig(registry=registry))
            off = CollectorRegistry()
            await _one_request(sim, session, TelemetryConfig(registry=off, exemplars=False))
        finally:
            await handle.ashutdown()
        chat = next(span for span in receiver.spans() if span.name.startswith("chat "))
    (exemplar,) = _exemplars(registry)
    assert exemplar["trace_id"] == chat.trace_id.hex()
    assert _exemplars(off) == []


async def test_exemplars_with_a_provider_of_the_hosts_own(sim: Simulator, session: aiohttp.ClientSession) -> None:
    # Without setup() the exporters are the host's business: exemplars stay on.
    trace.set_tracer_provider(TracerProvider())
    registry = CollectorRegistry()
    await _one_request(sim, session, TelemetryConfig(registry=registry))
    assert len(_exemplars(registry)) == 1
