"""Leak checks shared by the robustness tests: connections, gauges, spans and tasks after a call.

A test captures its telemetry with ``Captured`` (an SDK tracer provider with an in-memory exporter
and a span ledger, plus a fresh Prometheus registry), runs its scenario, then calls
``assert_released`` while the session is still open and ``assert_no_stray_tasks`` once the
session and the server are closed. A test that a secret goes nowhere runs its stream with
``stream_error`` inside ``structlog_lines`` and asks ``outputs_holding`` where the secret shows.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aiohttp
import pytest
import structlog
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from axio_transport_anthropic import AnthropicError, AnthropicTransport
from axio_transport_anthropic.simulator import Simulator
from axio_transport_anthropic.telemetry import TelemetryConfig

from .support import collect

__all__ = [
    "Captured",
    "SpanLedger",
    "acquired_connections",
    "assert_no_stray_tasks",
    "assert_released",
    "eventually",
    "metric_values",
    "outputs_holding",
    "stray_tasks",
    "stream_error",
    "structlog_lines",
]


class SpanLedger(SpanProcessor):
    """Every span the SDK started and every end it saw, to prove each span ends exactly once."""

    def __init__(self) -> None:
        self.started: dict[int, str] = {}
        self.ended: Counter[int] = Counter()

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        self.started[span.get_span_context().span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.ended[span.context.span_id] += 1

    def open_spans(self) -> list[str]:
        return [name for span_id, name in self.started.items() if not self.ended[span_id]]

    def ended_twice(self) -> list[str]:
        return [self.started.get(span_id, "?") for span_id, count in self.ended.items() if count > 1]


@dataclass
class Captured:
    """The telemetry of one test: spans in memory, metrics in a registry of its own."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    ledger: SpanLedger = field(default_factory=SpanLedger)
    provider: TracerProvider = field(default_factory=lambda: TracerProvider(shutdown_on_exit=False))

    def __post_init__(self) -> None:
        self.provider.add_span_processor(self.ledger)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def config(self, *, logs: bool = True) -> TelemetryConfig:
        return TelemetryConfig(tracer_provider=self.provider, registry=self.registry, logs=logs)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def value(self, name: str, model: str, **labels: str) -> float:
        """The sum of ``name``'s samples for ``model`` with these labels, over the providers that
        are not named (``provider=...`` narrows it to one)."""
        wanted = {"model": model, **labels}
        return sum(
            sample.value
            for family in self.registry.collect()
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items())
        )

    def by(self, name: str, label: str, model: str) -> dict[str, float]:
        return metric_values(self.registry, name, label, model)


def metric_values(registry: CollectorRegistry, name: str, label: str, model: str) -> dict[str, float]:
    """Non-zero samples of one family for one model, keyed by the value of ``label``."""
    found: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name and sample.labels.get("model") == model and sample.value:
                found[sample.labels[label]] = found.get(sample.labels[label], 0.0) + sample.value
    return found


def acquired_connections(session: aiohttp.ClientSession) -> int:
    """Connections (and connect placeholders) the session's pool has handed out and not got back."""
    connector = session.connector
    return 0 if connector is None else len(connector._acquired)


async def eventually(predicate: Callable[[], bool], within: float = 2.0, interval: float = 0.005) -> bool:
    """Whether ``predicate`` holds within ``within`` seconds (checked every ``interval``)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    while not predicate():
        if loop.time() >= until:
            return predicate()
        await asyncio.sleep(interval)
    return True


async def assert_released(
    session: aiohttp.ClientSession,
    captured: Captured,
    models: tuple[str, ...],
    sim: Simulator | None = None,
) -> None:
    """Nothing the calls held is still held: connections, in-flight gauges, spans, server bodies."""

    def in_flight() -> dict[str, float]:
        values = {m: captured.value("axio_anthropic_in_flight_requests", m) for m in models}
        return {m: v for m, v in values.items() if v}

    def settled() -> bool:
        open_bodies = sim.open_streams if sim is not None else 0
        return not (acquired_connections(session) or in_flight() or captured.ledger.open_spans() or open_bodies)

    await eventually(settled)
    assert acquired_connections(session) == 0, f"{acquired_connections(session)} connection(s) still acquired"
    assert in_flight() == {}, f"in-flight gauge not back to 0: {in_flight()}"
    assert captured.ledger.open_spans() == [], f"spans never ended: {captured.ledger.open_spans()}"
    assert captured.ledger.ended_twice() == [], f"spans ended twice: {captured.ledger.ended_twice()}"
    if sim is not None:
        assert sim.open_streams == 0, f"the simulator still writes {sim.open_streams} body(ies)"


def stray_tasks() -> set[asyncio.Task[object]]:
    current = asyncio.current_task()
    return {task for task in asyncio.all_tasks() if task is not current and not task.done()}


async def assert_no_stray_tasks(within: float = 2.0) -> None:
    """No task but the caller's is pending (give closing connections a few loop turns first).

    Also collects garbage, so a socket or transport dropped without ``close()`` raises its
    ``ResourceWarning`` here (tests run with ``error::ResourceWarning``).
    """
    await eventually(lambda: not stray_tasks(), within)
    left = stray_tasks()
    assert not left, "tasks left pending: " + "; ".join(repr(task) for task in left)
    gc.collect()


@contextmanager
def structlog_lines(logs: str) -> Iterator[io.StringIO]:
    """For ``logs="structlog"``, a host's own structlog pipeline rendering JSON lines into the stream
    yielded; for ``"stdlib"`` the stream stays empty. structlog is reset when the block ends."""
    rendered = io.StringIO()
    if logs == "structlog":
        structlog.configure(
            processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
            logger_factory=structlog.PrintLoggerFactory(rendered),
        )
    try:
        yield rendered
    finally:
        structlog.reset_defaults()


async def stream_error(transport: AnthropicTransport) -> AnthropicError | None:
    """Run one stream to its end: the ``AnthropicError`` it failed with, or None."""
    try:
        await collect(transport)
    except AnthropicError as exc:
        return exc
    return None


def outputs_holding(
    secret: str,
    *,
    transport: AnthropicTransport,
    error: BaseException | None,
    captured: Captured,
    caplog: pytest.LogCaptureFixture,
    rendered: io.StringIO,
) -> list[str]:
    """Which of the places a person or a collector reads hold ``secret``: the error, stdlib and
    structlog logs, spans, metrics and the transport's reprs and redacted dump."""
    outputs: dict[str, str] = {
        "error": f"{error!s} {error!r} {getattr(error, 'message', '')}" if error else "",
        "stdlib logs": caplog.text + json.dumps([getattr(r, "anthropic", None) for r in caplog.records], default=str),
        "structlog logs": rendered.getvalue(),
        "spans": "\n".join(span.to_json() for span in captured.spans()),
        "metrics": generate_latest(captured.registry).decode(),
        "repr": repr(transport) + str(transport) + json.dumps(transport.to_dict(redact=True)),
    }
    return [name for name, text in outputs.items() if secret in text]
