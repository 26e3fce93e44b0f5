"""Structured request logs: the events, their fields, where they go, and that no secret gets out."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from axio.events import TextDelta
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from axio_transport_anthropic import AnthropicError, AnthropicTransport, APIStatusError
from axio_transport_anthropic.simulator import Fault, Reply, Simulator
from axio_transport_anthropic.telemetry import RequestInfo, TelemetryConfig
from axio_transport_anthropic.telemetry import logs as logs_module
from axio_transport_anthropic.telemetry.logs import (
    EVENTS,
    LOGGER_NAME,
    REQUEST_CANCELLED,
    REQUEST_END,
    REQUEST_ERROR,
    REQUEST_RETRY,
    REQUEST_START,
    scrub,
)

from .conftest import SECRET
from .support import collect, user

WRONG_KEY = "sk-ant-wrong-key-XYZ"


@pytest.fixture(autouse=True)
def _unconfigured_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def json_logs() -> io.StringIO:
    buffer = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(buffer),
    )
    return buffer


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(transport: AnthropicTransport, spans: InMemorySpanExporter) -> AnthropicTransport:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    transport.telemetry = TelemetryConfig(tracer_provider=provider, metrics=False)
    return transport


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def _request_span(spans: InMemorySpanExporter) -> ReadableSpan:
    roots = [span for span in spans.get_finished_spans() if span.parent is None]
    assert len(roots) == 1, roots
    return roots[0]


def _ids(span: ReadableSpan) -> dict[str, str]:
    context = span.get_span_context()
    assert context is not None
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def _records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.anthropic for r in caplog.records if hasattr(r, "anthropic")]


async def test_two_rate_limits_then_success_as_json(
    sim: Simulator, traced: AnthropicTransport, json_logs: io.StringIO, spans: InMemorySpanExporter
) -> None:
    sim.inject(Fault.rate_limited(retry_after=0.01), Fault.rate_limited(retry_after=0.01))
    sim.enqueue(Reply.text("all good now"))
    await collect(traced)
    lines = _lines(json_logs)
    assert [line["event"] for line in lines] == [REQUEST_START, REQUEST_RETRY, REQUEST_RETRY, REQUEST_END]
    assert [line["level"] for line in lines] == ["debug", "warning", "warning", "info"]
    start, first, second, end = lines
    assert start["model"] == "claude-sonnet-4-6"
    assert start["url"] == f"{sim.base_url}/messages"
    assert start["max_tokens"] > 0
    if "max_attempts" in RequestInfo.__dataclass_fields__:  # the attempt budget, once the transport reports it
        assert start["max_attempts"] == 4 and first["max_attempts"] == 4
    for attempt, retry in enumerate((first, second), start=1):
        assert retry["attempt"] == attempt
        assert retry["reason"] == "rate_limited" and retry["status"] == 429
        assert retry["error_type"] == "rate_limit_error"
        assert retry["request_id"] == sim.requests[attempt - 1].request_id
        assert retry["delay_s"] == pytest.approx(0.01)
        assert retry["server_requested"] is True
    assert end["attempts"] == 3 and end["stop_reason"] == "end_turn"
    assert end["request_id"] == sim.requests[2].request_id
    assert end["response_id"].startswith("msg_")
    assert end["output_tokens"] > 0 and end["cost_usd"] > 0
    assert {"input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"} <= end.keys()
    assert 0 < end["time_to_first_token_s"] <= end["duration_s"]
    ids = _ids(_request_span(spans))
    for line in lines:
        assert {key: line[key] for key in ids} == ids


async def test_authentication_failure_is_one_error_event(
    sim: Simulator, traced: AnthropicTransport, json_logs: io.StringIO, spans: InMemorySpanExporter
) -> None:
    traced.api_key = WRONG_KEY
    with pytest.raises(APIStatusError):
        await collect(traced)
    start, error = _lines(json_logs)
    assert (start["event"], error["event"], error["level"]) == (REQUEST_START, REQUEST_ERROR, "error")
    assert error["error"] == "APIStatusError" and error["error_type"] == "authentication_error"
    assert error["status"] == 401 and error["attempts"] == 1
    assert error["request_id"] == sim.requests[0].request_id
    assert error["message"] and "time_to_first_token_s" not in error
    assert {key: error[key] for key in ("trace_id", "span_id")} == _ids(_request_span(spans))


async def test_cancelled_after_first_token(
    sim: Simulator, traced: AnthropicTransport, json_logs: io.StringIO, spans: InMemorySpanExporter
) -> None:
    sim.enqueue(Reply.text(" ".join(f"word{i}" for i in range(50))))
    stream = traced.stream(user("hi"), [], "")
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    start, cancelled = _lines(json_logs)
    assert (start["event"], cancelled["event"], cancelled["level"]) == (REQUEST_START, REQUEST_CANCELLED, "info")
    assert cancelled["attempts"] == 1 and cancelled["time_to_first_token_s"] is not None
    assert "error" not in cancelled
    assert {key: cancelled[key] for key in ("trace_id", "span_id")} == _ids(_request_span(spans))


async def test_stdlib_only_at_the_default_level_shows_retries_and_failures(
    sim: Simulator, transport: AnthropicTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    sim.inject(Fault.overloaded(), Fault.http_error(400, "invalid_request_error", "bad request"))
    with pytest.raises(APIStatusError):
        await collect(transport)
    records = _records(caplog)
    assert [r["event"] for r in records] == [REQUEST_RETRY, REQUEST_ERROR]
    assert records[0]["reason"] == "overloaded" and records[0]["status"] == 529
    assert records[1]["status"] == 400 and records[1]["attempts"] == 2
    lines = [r.getMessage() for r in caplog.records if hasattr(r, "anthropic")]
    assert lines[0].startswith(f"{REQUEST_RETRY} model=claude-sonnet-4-6 attempt=1 max_attempts=4 reason=overloaded")
    assert 'message="bad request"' in lines[1]
    assert [r.levelno for r in caplog.records if hasattr(r, "anthropic")] == [logging.WARNING, logging.ERROR]


async def test_stdlib_debug_shows_every_event_with_ids(
    sim: Simulator, traced: AnthropicTransport, caplog: pytest.LogCaptureFixture, spans: InMemorySpanExporter
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    sim.inject(Fault.rate_limited(retry_after=0.01))
    await collect(traced)
    records = _records(caplog)
    assert [r["event"] for r in records] == [REQUEST_START, REQUEST_RETRY, REQUEST_END]
    ids = _ids(_request_span(spans))
    assert all({key: r[key] for key in ids} == ids for r in records)
    levels = [r.levelno for r in caplog.records if hasattr(r, "anthropic")]
    assert levels == [EVENTS[r["event"]] for r in records]


async def test_unconfigured_prints_nothing_to_stdout(
    sim: Simulator, transport: AnthropicTransport, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.inject(Fault.rate_limited(retry_after=0.01))
    await collect(transport)
    transport.api_key = WRONG_KEY
    with pytest.raises(APIStatusError):
        await collect(transport)
    assert capsys.readouterr().out == ""


async def test_disabled_levels_build_no_event(
    sim: Simulator, transport: AnthropicTransport, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    built: list[str] = []
    monkeypatch.setattr(logs_module, "_emit", lambda level, event, fields, span=None: built.append(event))
    await collect(transport)
    assert built == []


async def test_a_host_filtering_structlog_at_warning_is_honoured(sim: Simulator, transport: AnthropicTransport) -> None:
    buffer = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(buffer),
    )
    sim.inject(Fault.overloaded())
    await collect(transport)
    assert [line["event"] for line in _lines(buffer)] == [REQUEST_RETRY]


def test_scrub_masks_key_shaped_strings() -> None:
    assert scrub(f"echo {SECRET} back") == "echo sk-*** back"
    assert scrub("nothing to hide") == "nothing to hide"
    assert logs_module._safe_url("https://user:pw@api.example.com:8443/v1/messages?key=sk-ant-x") == (
        "https://api.example.com:8443/v1/messages"
    )


async def test_an_error_message_quoting_a_key_is_scrubbed(
    sim: Simulator, transport: AnthropicTransport, json_logs: io.StringIO
) -> None:
    sim.inject(Fault.http_error(400, "invalid_request_error", "unexpected sk-ant-other-0000000000 in body"))
    with pytest.raises(APIStatusError):
        await collect(transport)
    error = _lines(json_logs)[-1]
    assert error["message"] == "unexpected sk-*** in body"


async def test_no_key_anywhere(
    sim: Simulator, transport: AnthropicTransport, json_logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    registry = CollectorRegistry()
    transport.telemetry = TelemetryConfig(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader]), registry=registry
    )
    seen: list[str] = []
    sim.inject(Fault.rate_limited(retry_after=0.01), Fault.overloaded())
    await collect(transport)
    sim.inject(Fault.http_error(400, "invalid_request_error", "nope"))
    sim.inject(Fault.stream_error("overloaded_error", "Overloaded", after_events=2))
    for key in (SECRET, SECRET, WRONG_KEY):
        transport.api_key = key
        transport.max_retries = 0
        with pytest.raises(AnthropicError) as caught:
            await collect(transport)
        seen += [str(caught.value), repr(caught.value)]
    for span in spans.get_finished_spans():
        seen.append(span.to_json())
    seen.append(generate_latest(registry).decode())
    seen.append(reader.get_metrics_data().to_json())  # type: ignore[union-attr]
    seen += [json_logs.getvalue(), caplog.text]
    text = "\n".join(seen)
    assert REQUEST_ERROR in text and "authentication_error" in text and "axio_anthropic_requests" in text
    assert SECRET not in text and WRONG_KEY not in text
    # The key is also absent in the stdlib-only path.
    structlog.reset_defaults()
    caplog.clear()
    with pytest.raises(APIStatusError):
        await collect(transport)
    assert _records(caplog) and WRONG_KEY not in caplog.text
