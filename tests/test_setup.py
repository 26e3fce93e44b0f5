"""``telemetry.setup()``: OTLP export, a scrapeable ``/metrics``, JSON logs with trace ids, a clean
shutdown, and the demo saying where to look."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util._once import Once
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.demo import run_demo
from axio_transport_anthropic.simulator import Fault, Simulator
from axio_transport_anthropic.telemetry.logs import REQUEST_END, REQUEST_RETRY, REQUEST_START
from axio_transport_anthropic.telemetry.setup import current, setup

from .conftest import SECRET
from .otlp_receiver import OtlpReceiver, attributes
from .support import collect

_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
)


@pytest.fixture(autouse=True)
def _clean_globals(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no global providers and no structlog configuration, and ends so."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", None)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER_SET_ONCE", Once())
    structlog.reset_defaults()
    yield
    if (handle := current()) is not None:
        handle.shutdown()
        pytest.fail("a test left setup() in effect")
    structlog.reset_defaults()


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
        assert 'axio_anthropic_requests_total{model="claude-sonnet-4-6",outcome="ok"} 1.0' in scraped
        assert 'axio_anthropic_retries_total{model="claude-sonnet-4-6",reason="rate_limited"} 1.0' in scraped

        handle.shutdown()
        spans = receiver.spans()
        assert receiver.metrics, "the meter provider flushes its OTLP exporter on shutdown"
        resource = attributes(receiver.traces[0].resource_spans[0].resource.attributes)
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


def test_without_the_otel_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ImportError, match=r"\[otel\] extra"):
        setup()


async def test_the_demo_says_where_to_look() -> None:
    out = io.StringIO()
    assert await run_demo(out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert re.search(
        r"\[metrics: \d+ requests, \d+ tokens, \$\d+\.\d{4}; Prometheus scrapes them at "
        r"http://127\.0\.0\.1:\d+/metrics while the program runs\]",
        text,
    ), text
    assert "set OTEL_EXPORTER_OTLP_ENDPOINT=" in text
    assert current() is None


async def test_the_demo_exports_traces_when_an_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        out = io.StringIO()
        assert await run_demo(out=out) == 0, out.getvalue()
        assert f"[traces: exported over OTLP to {receiver.url}]" in out.getvalue()
        names = {span.name for span in receiver.spans()}
    assert "chat claude-sonnet-4-6" in names


async def test_the_demo_leaves_the_host_setup_running() -> None:
    handle = setup(metrics_port=0, registry=CollectorRegistry(), log_stream=io.StringIO())
    try:
        out = io.StringIO()
        assert await run_demo(out=out) == 0
        assert current() is handle and handle.metrics_url and handle.metrics_url in out.getvalue()
        assert "[metrics: 2 requests," in out.getvalue()
    finally:
        handle.shutdown()
