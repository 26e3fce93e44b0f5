"""``telemetry.setup()``: OTLP export, a scrapeable ``/metrics``, JSON logs with trace ids, a clean
shutdown, and the demo saying where to look."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.demo import run_demo
from axio_transport_anthropic.simulator import Fault, Simulator
from axio_transport_anthropic.telemetry.logs import REQUEST_END, REQUEST_RETRY, REQUEST_START
from axio_transport_anthropic.telemetry.setup import current, setup

from .conftest import SECRET
from .otel_globals import clean_globals, dead_endpoint, shutdown_threads  # noqa: F401
from .otlp_receiver import OtlpReceiver
from .support import collect

#: No global providers, no structlog configuration, no OTEL_*/ANTHROPIC_* variables, before and after.
pytestmark = pytest.mark.usefixtures("clean_globals")


def _json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def _hex(value: bytes) -> str:
    return value.hex()


async def test_exports_serves_metrics_and_logs_json_with_trace_ids(
    sim: Simulator, transport: AnthropicTransport, session: aiohttp.ClientSession
) -> None:
    logs = io.StringIO()
    root_handlers = list(logging.getLogger().handlers)
    async with OtlpReceiver() as receiver:
        handle = setup(
            service_name="setup-test",
            otlp_endpoint=receiver.url,
            metrics_port=0,
            registry=CollectorRegistry(),
            log_stream=logs,
            log_level=logging.DEBUG,
        )
        assert handle.otlp_endpoint == receiver.url and handle.service_name == "setup-test"
        assert handle.metrics_url is not None and re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", handle.metrics_url)
        transport.telemetry = handle.telemetry_config()
        sim.inject(Fault.rate_limited(retry_after=0.01))
        await collect(transport)
        with trace.get_tracer("host").start_as_current_span("host work") as host_span:
            logging.getLogger("host.app").warning("plain stdlib line")
        host_trace = format(host_span.get_span_context().trace_id, "032x")

        async with session.get(handle.metrics_url) as response:
            assert response.status == 200
            scraped = await response.text()
        assert (
            'axio_anthropic_requests_total{model="claude-sonnet-4-6",outcome="ok",provider="anthropic"} 1.0'
        ) in scraped
        assert (
            'axio_anthropic_retries_total{model="claude-sonnet-4-6",provider="anthropic",reason="rate_limited"} 1.0'
        ) in scraped

        handle.shutdown()
        spans = receiver.spans()
        assert receiver.metrics, "the meter provider flushes its OTLP exporter on shutdown"
        resource = receiver.trace_resource()
        assert resource["service.name"] == "setup-test"
        bodies = b"".join(receiver.bodies)

    lines = _json_lines(logs)  # every line, structlog's and stdlib's, is one JSON object
    ours = [line for line in lines if line["event"].startswith("anthropic.")]
    assert [line["event"] for line in ours] == [REQUEST_START, REQUEST_RETRY, REQUEST_END]
    assert all(line["logger"] == "axio_transport_anthropic" and "timestamp" in line for line in ours)
    assert ours[1]["level"] == "warning" and ours[2]["level"] == "info"
    request_spans = [span for span in spans if not span.parent_span_id and span.name != "host work"]
    assert len(request_spans) == 1
    ids = {"trace_id": _hex(request_spans[0].trace_id), "span_id": _hex(request_spans[0].span_id)}
    assert all({key: line[key] for key in ids} == ids for line in ours)
    # A plain stdlib line is rendered the same way, with the ids of the span current when it was logged.
    (plain,) = [line for line in lines if line["event"] == "plain stdlib line"]
    assert plain["logger"] == "host.app" and plain["level"] == "warning" and plain["trace_id"] == host_trace
    assert SECRET.encode() not in bodies and SECRET not in logs.getvalue() and SECRET not in scraped

    # Shutdown put everything back.
    assert current() is None and not structlog.is_configured()
    assert logging.getLogger().handlers == root_handlers
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(handle.metrics_url):
            pass


async def test_twice_is_the_same_handle_and_shutdown_restores_the_host_config() -> None:
    host_buffer = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()], logger_factory=structlog.PrintLoggerFactory(host_buffer)
    )
    host_config = structlog.get_config()
    root = logging.getLogger()
    level = root.level
    first = setup(metrics_port=0, registry=CollectorRegistry(), log_stream=io.StringIO())
    assert setup(metrics_port=0, registry=CollectorRegistry()) is first
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    assert first.otlp_endpoint is None and first.meter_provider is None
    first.shutdown()
    first.shutdown()
    assert structlog.get_config() == host_config and root.level == level
    second = setup(metrics_port=0, registry=CollectorRegistry(), log_stream=io.StringIO())
    assert second is not first and second.metrics_url != first.metrics_url
    second.shutdown()
    structlog.get_logger("host").info("still mine")
    assert json.loads(host_buffer.getvalue()) == {"event": "still mine"}


def test_a_host_tracer_provider_is_left_in_place() -> None:
    host = TracerProvider()
    trace.set_tracer_provider(host)
    handle = setup(metrics_port=None, configure_logging=False)
    assert handle.tracer_provider is None and handle.metrics_url is None
    handle.shutdown()
    assert trace.get_tracer_provider() is host


async def test_the_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
        handle = setup(metrics_port=None, configure_logging=False)
        assert handle.otlp_endpoint == receiver.url and handle.service_name == "from-env"
        with trace.get_tracer("test").start_as_current_span("hello"):
            pass
        handle.shutdown()
        assert [span.name for span in receiver.spans()] == ["hello"]


async def test_a_traces_only_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{receiver.url}/v1/traces")
        handle = setup(metrics_port=None, configure_logging=False)
        assert handle.otlp_endpoint == f"{receiver.url}/v1/traces" and handle.meter_provider is None
        with trace.get_tracer("test").start_as_current_span("traced"):
            pass
        handle.shutdown()
        assert [span.name for span in receiver.spans()] == ["traced"] and not receiver.metrics


def test_a_taken_port_raises_and_leaves_nothing_behind() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            setup(metrics_port=port, log_stream=io.StringIO())
    assert current() is None and not structlog.is_configured()
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


@pytest.fixture
def no_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a core install (no ``[otel]`` extra): the OpenTelemetry SDK and exporters do not import."""
    blocked = ("opentelemetry.sdk", "opentelemetry.exporter")
    for name in [*blocked, *(name for name in sys.modules if name.startswith(blocked))]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.timeout(30)
async def test_without_the_sdk_it_serves_metrics_and_logs(
    no_sdk: None, transport: AnthropicTransport, session: aiohttp.ClientSession
) -> None:
    logs = io.StringIO()
    handle = setup(metrics_port=0, registry=CollectorRegistry(), log_stream=logs)
    try:
        assert handle.tracer_provider is None and handle.meter_provider is None and handle.otlp_endpoint is None
        assert not handle.sdk_installed
        transport.telemetry = handle.telemetry_config()
        await collect(transport)
        assert handle.metrics_url is not None
        async with session.get(handle.metrics_url) as response:
            scraped = await response.text()
        assert (
            'axio_anthropic_requests_total{model="claude-sonnet-4-6",outcome="ok",provider="anthropic"} 1.0'
        ) in scraped
        ours = [line["event"] for line in _json_lines(logs) if line["logger"] == "axio_transport_anthropic"]
        assert ours == [REQUEST_END]
    finally:
        handle.shutdown()
    assert not structlog.is_configured()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "asked_by",
    [
        "otlp_endpoint",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ],
)
def test_without_the_sdk_asking_for_otlp_export_names_the_extra(
    no_sdk: None, monkeypatch: pytest.MonkeyPatch, asked_by: str
) -> None:
    endpoint = "http://127.0.0.1:9"
    if asked_by != "otlp_endpoint":
        monkeypatch.setenv(asked_by, endpoint)
    with pytest.raises(ImportError, match=r"needs the \[otel\] extra") as raised:
        setup(otlp_endpoint=endpoint if asked_by == "otlp_endpoint" else None, log_stream=io.StringIO())
    assert asked_by in str(raised.value)
    assert current() is None and not structlog.is_configured()


async def test_the_demo_says_where_to_look() -> None:
    out = io.StringIO()
    assert await run_demo(out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert re.search(
        r"\[metrics: Prometheus can scrape http://127\.0\.0\.1:\d+/metrics while the agent runs\]", text
    ), text
    assert re.search(r"\[metrics: [\d,]+ requests, [\d,]+ tokens, \$\d+\.\d{4}\]", text), text
    assert "[traces: recorded for the log lines' trace ids, not exported: set OTEL_EXPORTER_OTLP_ENDPOINT=" in text
    assert current() is None


async def test_the_demo_exports_traces_when_an_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        out = io.StringIO()
        assert await run_demo(out=out) == 0, out.getvalue()
        assert f"[traces: {len(receiver.spans())} spans exported to {receiver.url}]" in out.getvalue()
        names = {span.name for span in receiver.spans()}
    assert "chat claude-sonnet-4-6" in names


@pytest.mark.timeout(30)
async def test_the_demo_shuts_telemetry_down_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = shutdown_threads(monkeypatch)
    assert await run_demo(out=io.StringIO()) == 0
    assert threads and threading.get_ident() not in threads, "a dead collector would stall the loop"
    assert current() is None


async def test_the_demo_leaves_the_host_setup_running() -> None:
    handle = setup(metrics_port=0, registry=CollectorRegistry(), log_stream=io.StringIO())
    try:
        out = io.StringIO()
        assert await run_demo(out=out) == 0
        assert current() is handle and handle.metrics_url and handle.metrics_url in out.getvalue()
        assert "[metrics: 2 requests," in out.getvalue()
    finally:
        handle.shutdown()


# ── shutdown: bounded, in order, logged through the configured pipeline ─────────────────────


@pytest.mark.timeout(30)
def test_a_hung_collector_holds_shutdown_only_as_long_as_its_bound(hung_endpoint: str) -> None:
    logs = io.StringIO()
    handle = setup(otlp_endpoint=hung_endpoint, metrics_port=None, registry=CollectorRegistry(), log_stream=logs)
    with trace.get_tracer("test").start_as_current_span("never delivered"):
        pass
    started = time.perf_counter()
    handle.shutdown(timeout=1.0)
    waited = time.perf_counter() - started
    assert waited < 2.0, f"shutdown took {waited:.2f} s"
    lines = _json_lines(logs)
    (gave_up,) = [line for line in lines if line["logger"] == "axio_transport_anthropic" and "exports" in line["event"]]
    assert gave_up["level"] == "warning"
    said = re.search(r"did not finish in (\d+\.\d) s", gave_up["event"])
    assert said is not None and 1.0 <= float(said[1]) < 2.0, gave_up["event"]
    assert current() is None and not structlog.is_configured()


@pytest.mark.timeout(30)
def test_a_refused_export_is_logged_through_the_pipeline_and_stops_at_once(capfd: pytest.CaptureFixture[str]) -> None:
    logs = io.StringIO()
    handle = setup(otlp_endpoint=dead_endpoint(), metrics_port=None, registry=CollectorRegistry(), log_stream=logs)
    with trace.get_tracer("test").start_as_current_span("never delivered"):
        pass
    started = time.perf_counter()
    handle.shutdown(timeout=5.0)
    waited = time.perf_counter() - started
    assert waited < 1.0, f"shutdown took {waited:.2f} s on a collector that refuses connections"

    lines = _json_lines(logs)
    exporter = [line for line in lines if line["logger"].startswith("opentelemetry.exporter")]
    assert exporter and all("timestamp" in line for line in exporter), "the exporter's failure, as a JSON line"
    ours = [line for line in lines if line["logger"] == "axio_transport_anthropic"]
    assert ours and all(line["level"] == "warning" and "(connection refused)" in line["event"] for line in ours), ours
    # The exporters were stopped, not left retrying in the background.
    assert not [thread for thread in threading.enumerate() if thread.name == "axio-telemetry-shutdown"]
    raw = capfd.readouterr().err
    assert "export" not in raw, raw  # nothing bypassed the pipeline as plain text
    assert current() is None and not structlog.is_configured()


@pytest.mark.timeout(30)
async def test_ashutdown_keeps_the_event_loop_running(hung_endpoint: str) -> None:
    handle = setup(
        otlp_endpoint=hung_endpoint, metrics_port=None, registry=CollectorRegistry(), log_stream=io.StringIO()
    )
    with trace.get_tracer("test").start_as_current_span("never delivered"):
        pass
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - last)
            last = loop.time()

    ticker = asyncio.create_task(tick())
    try:
        async with asyncio.timeout(10):
            await handle.ashutdown(timeout=1.0)
    finally:
        ticker.cancel()
    assert sum(gaps) > 0.5 and max(gaps) < 0.25, f"the loop stalled for {max(gaps):.2f} s"
    assert current() is None


class _Witness(SpanProcessor):
    """Notes, when the provider flushes and shuts down, whether logging and /metrics are still up."""

    def __init__(self, state: Callable[[], tuple[bool, bool]]) -> None:
        self.state = state
        self.seen: list[tuple[str, bool, bool]] = []

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.seen.append(("flush", *self.state()))
        return True

    def shutdown(self) -> None:
        self.seen.append(("providers shut down", *self.state()))


def _serving(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.timeout(30)
def test_shutdown_flushes_then_stops_providers_then_the_server_then_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    logs = io.StringIO()
    root = logging.getLogger()
    handle = setup(metrics_port=0, registry=CollectorRegistry(), log_stream=logs)
    assert handle.tracer_provider is not None and handle.metrics_url is not None
    url = handle.metrics_url

    def logging_up() -> bool:
        return any(getattr(handler, "stream", None) is logs for handler in root.handlers)

    witness = _Witness(lambda: (logging_up(), _serving(url)))
    handle.tracer_provider.add_span_processor(witness)
    remove = root.removeHandler

    def removing(handler: logging.Handler) -> None:
        if getattr(handler, "stream", None) is logs:
            witness.seen.append(("logging restored", logging_up(), _serving(url)))
        remove(handler)

    monkeypatch.setattr(root, "removeHandler", removing)
    handle.shutdown()
    # (step, logging still installed, /metrics still served)
    assert witness.seen == [
        ("flush", True, True),
        ("providers shut down", True, True),
        ("logging restored", True, False),
    ]


# ── setup() again after shutdown() ───────────────────────────────────────────────────────────


@pytest.mark.timeout(30)
async def test_setup_shutdown_setup_in_one_process() -> None:
    first = setup(metrics_port=0, registry=CollectorRegistry(), log_stream=io.StringIO())
    await first.ashutdown()
    async with OtlpReceiver() as receiver:
        logs = io.StringIO()
        second = setup(otlp_endpoint=receiver.url, metrics_port=0, registry=CollectorRegistry(), log_stream=logs)
        assert current() is second and second.tracer_provider is not None and second.meter_provider is not None
        assert trace.get_tracer_provider() is second.tracer_provider
        assert metrics_internal._METER_PROVIDER is second.meter_provider
        with trace.get_tracer("host").start_as_current_span("after the re-setup"):
            structlog.get_logger("host").info("logged")
        await second.ashutdown()
        assert [span.name for span in receiver.spans()] == ["after the re-setup"]
    assert [line["event"] for line in _json_lines(logs)] == ["logged"]
    assert current() is None and not structlog.is_configured()


@pytest.mark.timeout(30)
async def test_a_transport_that_streamed_follows_a_re_setup(sim: Simulator, transport: AnthropicTransport) -> None:
    first = setup(metrics_port=None, registry=CollectorRegistry(), log_stream=io.StringIO())
    assert first.tracer_provider is not None
    seen_first = InMemorySpanExporter()
    first.tracer_provider.add_span_processor(SimpleSpanProcessor(seen_first))
    await collect(transport)
    assert [span.name for span in seen_first.get_finished_spans() if span.parent is None] == ["chat claude-sonnet-4-6"]
    await first.ashutdown()

    async with OtlpReceiver() as receiver:
        logs = io.StringIO()
        second = setup(otlp_endpoint=receiver.url, metrics_port=None, registry=CollectorRegistry(), log_stream=logs)
        await collect(transport)  # the same transport, its telemetry built under the first setup()
        await second.ashutdown()
        chats = [span for span in receiver.spans() if span.name == "chat claude-sonnet-4-6"]
    assert len(chats) == 1, "the request span of the second stream reached the second provider"
    (end,) = [line for line in _json_lines(logs) if line["event"] == REQUEST_END]
    assert end["trace_id"] == _hex(chats[0].trace_id)
