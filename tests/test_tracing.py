"""Traces as an OTLP collector receives them: real SDK, real exporter, real protobuf bytes.

Every test runs against a transport wired to an SDK ``TracerProvider`` that exports over OTLP/HTTP
(gzip) to ``OtlpReceiver``. The ``traced`` fixture then checks, for every test, that each span
started was ended exactly once and was received, and that the API key is in no exported byte.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from axio.blocks import ImageBlock, TextBlock
from axio.events import IterationEnd, ReasoningDelta, StreamEvent, TextDelta, ToolInputDelta, ToolUseStart
from axio.messages import Message
from axio.tool import Tool
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from axio_transport_anthropic import AnthropicTransport, APIConnectionError, APIStatusError, InStreamError
from axio_transport_anthropic.decoder import TokenCounts
from axio_transport_anthropic.errors import APITimeoutError, ProtocolError
from axio_transport_anthropic.models import ANTHROPIC_MODELS, DEFAULT_MODEL
from axio_transport_anthropic.simulator import Fault, Reply, Simulator
from axio_transport_anthropic.telemetry import (
    CAPTURE_ENV,
    AttemptReport,
    RequestInfo,
    ResponseReport,
    TelemetryConfig,
)
from axio_transport_anthropic.telemetry.labels import error_type
from axio_transport_anthropic.telemetry.tracing import Tracing

from .conftest import SECRET
from .otlp_receiver import OtlpReceiver, attributes
from .support import collect, user

MODEL = ANTHROPIC_MODELS[DEFAULT_MODEL]
LONG = "a fairly long answer that streams in several deltas, word by word, to the very end"
CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions")
ERROR = Status.STATUS_CODE_ERROR
UNSET = Status.STATUS_CODE_UNSET


class Ledger(SpanProcessor):
    """Which spans the SDK started and ended, to prove each one ends exactly once."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.ended: list[int] = []

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        self.started.append(span.get_span_context().span_id)

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.ended.append(span.context.span_id)


@dataclass
class Traced:
    provider: TracerProvider
    receiver: OtlpReceiver
    ledger: Ledger = field(default_factory=Ledger)

    async def spans(self) -> list[Span]:
        # The exporter blocks; from a thread it cannot stall the loop the simulator runs on.
        assert await asyncio.to_thread(self.provider.force_flush, 5000)
        return self.receiver.spans()

    def transport(
        self, sim: Simulator, session: aiohttp.ClientSession, *, telemetry: dict[str, Any] | None = None, **kw: Any
    ) -> AnthropicTransport:
        config = TelemetryConfig(tracer_provider=self.provider, metrics=False, logs=False, **(telemetry or {}))
        settings: dict[str, Any] = {"max_retries": 3, "retry_base_delay": 0.001, "retry_max_delay": 0.01, **kw}
        return AnthropicTransport(
            api_key=SECRET, base_url=sim.base_url, session=session, telemetry=config, idle_timeout=5.0, **settings
        )


@pytest.fixture
async def traced(caplog: pytest.LogCaptureFixture) -> AsyncIterator[Traced]:
    caplog.set_level(logging.WARNING)
    async with OtlpReceiver() as receiver:
        provider = TracerProvider()
        state = Traced(provider, receiver)
        provider.add_span_processor(state.ledger)
        exporter = OTLPSpanExporter(endpoint=receiver.url + "/v1/traces", compression=Compression.Gzip)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        yield state
        await asyncio.to_thread(provider.shutdown)
        ledger = state.ledger
        assert Counter(ledger.ended) == Counter(ledger.started), "a span was never ended, or ended twice"
        assert sorted(int.from_bytes(s.span_id) for s in receiver.spans()) == sorted(ledger.started)
        assert receiver.bodies and not any(SECRET.encode() in body for body in receiver.bodies)
    logged = "\n".join(record.getMessage() for record in [*caplog.get_records("call"), *caplog.records])
    assert "ended span" not in logged  # the SDK's complaint about end() or a setter after the end
    assert "Failed to detach context" not in logged
    assert "Failed to export" not in logged


def attrs(span: Span) -> dict[str, Any]:
    return attributes(span.attributes)


def events(span: Span, name: str) -> list[dict[str, Any]]:
    return [attributes(event.attributes) for event in span.events if event.name == name]


def tree(spans: list[Span]) -> tuple[Span, list[Span]]:
    """The one request span and its attempt spans in order, checking how they hang together."""
    (request,) = [span for span in spans if span.name.startswith("chat ")]
    attempts = sorted((s for s in spans if s.name == "POST"), key=lambda s: s.start_time_unix_nano)
    assert request.name == f"chat {MODEL.id}" and request.kind == Span.SPAN_KIND_CLIENT
    for attempt in attempts:
        assert attempt.kind == Span.SPAN_KIND_CLIENT
        assert (attempt.trace_id, attempt.parent_span_id) == (request.trace_id, request.span_id)
        assert request.start_time_unix_nano <= attempt.start_time_unix_nano
        assert attempt.end_time_unix_nano <= request.end_time_unix_nano
    return request, attempts


def status(span: Span) -> tuple[int, str]:
    return span.status.code, span.status.message


async def test_a_successful_stream_is_one_request_span_with_one_attempt_under_the_callers_span(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    sim.enqueue(Reply.text(LONG))
    transport = traced.transport(sim, session, temperature=0.5, top_k=40)
    tracer = traced.provider.get_tracer("test")
    current: set[int] = set()
    with tracer.start_as_current_span("caller") as caller:
        seen: list[StreamEvent] = []
        async for event in transport.stream(user("hi"), [], "be brief"):
            seen.append(event)
            current.add(trace.get_current_span().get_span_context().span_id)
        assert trace.get_current_span() is caller

    spans = await traced.spans()
    request, (attempt,) = tree(spans)
    assert current == {caller.get_span_context().span_id}  # the request span is never made current
    assert request.parent_span_id == caller.get_span_context().span_id.to_bytes(8)
    assert {s.name for s in spans} == {"caller", f"chat {MODEL.id}", "POST"}
    scopes = {scope.scope.name for r in traced.receiver.traces for rs in r.resource_spans for scope in rs.scope_spans}
    assert "axio_transport_anthropic" in scopes

    end = seen[-1]
    assert isinstance(end, IterationEnd)
    usage = end.usage
    got = attrs(request)
    ttfc = got.pop("gen_ai.response.time_to_first_chunk")
    assert got == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL.id,
        "gen_ai.request.max_tokens": MODEL.max_output_tokens,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_k": 40,
        "gen_ai.request.stream": True,
        "server.address": "127.0.0.1",
        "server.port": sim.port,
        "gen_ai.response.model": MODEL.id,
        "gen_ai.response.id": got["gen_ai.response.id"],
        "gen_ai.response.finish_reasons": ["end_turn"],
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_write_tokens,
        "anthropic.request_id": sim.requests[0].request_id,
    }
    assert got["gen_ai.response.id"].startswith("msg_")
    assert 0 < ttfc < 5 and events(request, "gen_ai.first_token") == [{"gen_ai.response.time_to_first_chunk": ttfc}]
    assert status(request) == (UNSET, "") and not events(request, "exception")

    assert attrs(attempt) == {
        "http.request.method": "POST",
        "url.full": f"{sim.base_url}/messages",
        "server.address": "127.0.0.1",
        "server.port": sim.port,
        "http.response.status_code": 200,
        "anthropic.request_id": sim.requests[0].request_id,
    }
    assert status(attempt) == (UNSET, "")
    assert "traceparent" not in sim.requests[0].headers  # propagation is off by default


async def test_two_429s_then_success_show_three_attempts_and_two_waits(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced
) -> None:
    sim.inject(Fault.rate_limited(retry_after=0.01), Fault.rate_limited(retry_after=0.01))
    await collect(traced.transport(sim, session))

    request, attempts = tree(await traced.spans())
    assert [attrs(a)["http.response.status_code"] for a in attempts] == [429, 429, 200]
    assert [attrs(a).get("http.request.resend_count") for a in attempts] == [None, 1, 2]
    assert [attrs(a).get("error.type") for a in attempts] == ["429", "429", None]
    assert [a.status.code for a in attempts] == [ERROR, ERROR, UNSET]
    assert "rate_limit_error" in attempts[0].status.message
    assert [attrs(a)["anthropic.request_id"] for a in attempts] == [r.request_id for r in sim.requests]
    waits = [e for e in request.events if e.name == "retry.backoff"]
    assert [attributes(e.attributes) for e in waits] == [
        {"retry.attempt": n, "retry.reason": "rate_limited", "retry.delay_s": 0.01, "retry.server_requested": True}
        for n in (1, 2)
    ]
    for wait, before, after in zip(waits, attempts, attempts[1:], strict=False):
        assert before.end_time_unix_nano <= wait.time_unix_nano <= after.start_time_unix_nano
    assert status(request) == (UNSET, "") and "error.type" not in attrs(request)
    assert attrs(request)["anthropic.request_id"] == sim.requests[-1].request_id


async def test_exhausted_529s_fail_the_request_span_with_the_anthropic_error_type(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced
) -> None:
    sim.inject(*[Fault.overloaded()] * 3)
    with pytest.raises(APIStatusError):
        await collect(traced.transport(sim, session, max_retries=2))

    request, attempts = tree(await traced.spans())
    assert [attrs(a)["http.response.status_code"] for a in attempts] == [529, 529, 529]
    assert [attrs(a)["error.type"] for a in attempts] == ["529"] * 3
    assert [attrs(a).get("http.request.resend_count") for a in attempts] == [None, 1, 2]
    assert [e["retry.reason"] for e in events(request, "retry.backoff")] == ["overloaded"] * 2
    assert not any(e["retry.server_requested"] for e in events(request, "retry.backoff"))
    got = attrs(request)
    assert got["error.type"] == "overloaded_error"
    assert request.status.code == ERROR and "after 3 attempts" in request.status.message
    (exception,) = events(request, "exception")
    assert exception["exception.type"].endswith("APIStatusError") and "Overloaded" in exception["exception.message"]
    assert not any(key.startswith("gen_ai.usage.") for key in got)  # no message ever started
    assert "gen_ai.response.time_to_first_chunk" not in got and not events(request, "gen_ai.first_token")


async def test_an_in_stream_error_after_output_is_one_failed_attempt(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced
) -> None:
    sim.inject(Fault.stream_error("overloaded_error", "Overloaded", after_events=4))
    sim.enqueue(Reply.text(LONG))
    with pytest.raises(InStreamError):
        await collect(traced.transport(sim, session))

    request, (attempt,) = tree(await traced.spans())
    assert attrs(attempt)["http.response.status_code"] == 200
    assert attrs(attempt)["error.type"] == "overloaded_error" and attempt.status.code == ERROR
    got = attrs(request)
    assert got["error.type"] == "overloaded_error" and request.status.code == ERROR
    assert "in-stream error overloaded_error" in request.status.message
    assert len(events(request, "exception")) == 1 and len(events(request, "gen_ai.first_token")) == 1
    assert got["gen_ai.response.id"] and got["gen_ai.usage.output_tokens"] >= 1  # partial usage is reported
    assert "gen_ai.response.finish_reasons" not in got


async def test_a_disconnect_mid_stream_is_a_connection_error(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced
) -> None:
    sim.inject(Fault.reset(after_events=4))
    sim.enqueue(Reply.text(LONG))
    with pytest.raises(APIConnectionError):
        await collect(traced.transport(sim, session))

    request, (attempt,) = tree(await traced.spans())
    assert attrs(attempt)["http.response.status_code"] == 200
    assert attrs(attempt)["error.type"] == "connection_error" and attempt.status.code == ERROR
    assert attrs(request)["error.type"] == "connection_error" and request.status.code == ERROR
    assert len(events(request, "exception")) == 1


async def test_cancelling_the_consumer_mid_stream_ends_both_spans_as_cancelled(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced
) -> None:
    sim.inject(Fault.stall(after_events=3, duration=30))
    sim.enqueue(Reply.text(LONG))
    transport = traced.transport(sim, session)
    first = asyncio.Event()

    async def consume() -> None:
        async for event in transport.stream(user("hi"), [], ""):
            if isinstance(event, TextDelta):
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    request, (attempt,) = tree(await traced.spans())
    assert (attrs(attempt)["error.type"], status(attempt)) == ("cancelled", (ERROR, "cancelled"))
    assert (attrs(request)["error.type"], status(request)) == ("cancelled", (ERROR, "cancelled"))
    assert not events(request, "exception") and len(events(request, "gen_ai.first_token")) == 1


async def test_aclose_after_the_first_text_ends_the_spans_and_leaves_the_context_alone(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced
) -> None:
    sim.enqueue(Reply.text(LONG))
    stream = traced.transport(sim, session).stream(user("hi"), [], "")
    assert isinstance(stream, AsyncGenerator)
    async for event in stream:
        assert trace.get_current_span() is trace.INVALID_SPAN
        if isinstance(event, TextDelta):
            break
    await stream.aclose()
    assert trace.get_current_span() is trace.INVALID_SPAN

    request, attempts = tree(await traced.spans())
    assert (attrs(request)["error.type"], status(request)) == ("cancelled", (ERROR, "cancelled"))
    assert len(attempts) == 1 and attempts[0].status.code == ERROR


async def test_a_stream_dropped_without_aclose_still_ends_its_spans_once(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced
) -> None:
    sim.enqueue(Reply.text(LONG))
    transport = traced.transport(sim, session)

    async def consume() -> None:
        # `break` without aclose(): the loop's finaliser closes the generator in another task.
        async for event in transport.stream(user("hi"), [], ""):
            if isinstance(event, TextDelta):
                break

    await asyncio.create_task(consume())
    for _ in range(100):
        if len(traced.ledger.ended) == 2:
            break
        await asyncio.sleep(0.01)
    request, _ = tree(await traced.spans())
    assert status(request) == (ERROR, "cancelled")


async def test_content_is_not_recorded_by_default(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    sim.enqueue(Reply.text(LONG))
    await collect(traced.transport(sim, session), user("a private question"), system="secret rules", tools=[WEATHER])

    request, _ = tree(await traced.spans())
    assert not set(attrs(request)) & {*CONTENT_KEYS, "gen_ai.output.messages"}
    assert not any(b"private question" in body or b"secret rules" in body for body in traced.receiver.bodies)


async def get_weather(city: str) -> str:
    """The forecast for a city."""
    return city


WEATHER: Tool[Any] = Tool(name="get_weather", description="The forecast for a city", handler=get_weather)
PIXELS = b"\x89PNG not really an image, but bytes all the same" * 4


async def test_content_capture_from_the_environment_records_the_conversation_without_media(
    session: aiohttp.ClientSession, traced: Traced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE_ENV, "true")
    image = ImageBlock(media_type="image/png", data=PIXELS)
    messages = [Message(role="user", content=[TextBlock(text="what is this?"), image])]
    # A pause per delta: the answer then arrives over several reads, not all in the first one.
    async with Simulator(api_key=SECRET, token_delay=0.005) as sim:
        sim.enqueue(Reply.text(LONG))
        await collect(traced.transport(sim, session), messages, system="be brief", tools=[WEATHER])

    request, _ = tree(await traced.spans())
    got = attrs(request)
    (blob,) = [p for p in json.loads(got["gen_ai.input.messages"])[0]["parts"] if p["type"] == "blob"]
    assert json.loads(got["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "what is this?"}, blob]}
    ]
    assert blob["modality"] == "image" and blob["mime_type"] == "image/png" and "omitted" in blob["content"]
    assert json.loads(got["gen_ai.system_instructions"]) == [{"type": "text", "content": "be brief"}]
    (tool,) = json.loads(got["gen_ai.tool.definitions"])
    assert (tool["type"], tool["name"], tool["description"]) == ("function", "get_weather", "The forecast for a city")
    assert tool["parameters"]["required"] == ["city"]
    (output,) = json.loads(got["gen_ai.output.messages"])
    assert (output["role"], output["finish_reason"]) == ("assistant", "end_turn")
    (text,) = output["parts"]
    # Until the transport hands the first batch to first_token(), the first read's text goes unseen.
    assert text["type"] == "text" and text["content"] and LONG.endswith(text["content"])
    assert not any(base64.b64encode(PIXELS)[:40] in body for body in traced.receiver.bodies)


async def test_captured_content_is_cut_to_content_max_chars(session: aiohttp.ClientSession, traced: Traced) -> None:
    async with Simulator(api_key=SECRET, token_delay=0.002) as sim:
        sim.enqueue(Reply.text(LONG * 3))
        transport = traced.transport(sim, session, telemetry={"capture_content": True, "content_max_chars": 80})
        await collect(transport, user("x" * 500), system="y" * 500)

    got = attrs(tree(await traced.spans())[0])
    for key in ("gen_ai.input.messages", "gen_ai.system_instructions", "gen_ai.output.messages"):
        assert len(got[key]) == 80
    assert got["gen_ai.input.messages"].startswith('[{"role": "user", "parts": [{"type": "text", "content": "xxx')
    assert got["gen_ai.output.messages"].startswith('[{"role": "assistant", "parts": [{"type": "text", "content"')


@pytest.mark.parametrize("propagate", [True, False])
async def test_traceparent_goes_upstream_only_when_enabled_and_names_each_attempt(
    sim: Simulator, session: aiohttp.ClientSession, traced: Traced, propagate: bool
) -> None:
    sim.inject(Fault.rate_limited(retry_after=0.01))
    await collect(traced.transport(sim, session, telemetry={"propagate_context": propagate}))

    _, attempts = tree(await traced.spans())
    assert len(attempts) == len(sim.requests) == 2
    for record, attempt in zip(sim.requests, attempts, strict=True):
        header = record.headers.get("traceparent")
        if not propagate:
            assert header is None
            continue
        assert header is not None
        version, trace_id, span_id, flags = header.split("-")
        assert (version, trace_id, span_id) == ("00", attempt.trace_id.hex(), attempt.span_id.hex())
        assert int(flags, 16) & 0x01  # sampled
        assert "baggage" not in record.headers


# ── the observer on its own ─────────────────────────────────────────────────────────────────


def info(**kw: Any) -> RequestInfo:
    defaults: dict[str, Any] = {"url": "https://example.test/v1/messages", "server_address": "example.test"}
    return RequestInfo(model=MODEL, server_port=443, max_tokens=1024, **{**defaults, **kw})


BODY: dict[str, Any] = {
    "system": [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}],
    "tools": [
        {"name": "get_weather", "description": "d", "input_schema": {"type": "object"}, "eager_input_streaming": True},
        {"type": "web_search_20250305", "name": "web_search"},
    ],
    "messages": [
        {"role": "user", "content": "plain"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "c2lnbmF0dXJl" * 50},
                {"type": "redacted_thinking", "data": "b3BhcXVl" * 50},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER" * 9},
                },
                {"type": "search_result", "content": [{"type": "base64", "data": "QUJD" * 9}], "title": "t"},
            ],
        },
    ],
}


async def test_the_observer_rebuilds_input_and_output_in_the_genai_schema(traced: Traced) -> None:
    config = TelemetryConfig(tracer_provider=traced.provider, capture_content=True)
    observer = Tracing(config).start(info(url="https://user:pw@example.test/v1/messages", content=lambda: BODY))
    observer.attempt_started(1, {})  # not attached: the attempt is still the request's child
    observer.first_token([ReasoningDelta(0, "let me "), ReasoningDelta(0, "think")])
    observer.chunk([TextDelta(1, "Checking.")])
    observer.chunk([ToolUseStart(2, "toolu_2", "get_weather"), ToolInputDelta(2, "toolu_2", '{"city": ')])
    observer.chunk([ToolInputDelta(2, "toolu_2", '"Oslo"}')])
    observer.attempt_ended(AttemptReport(1, 200, "req_1", None))
    counts = TokenCounts(uncached_input=10, output=20, cache_read=5, cache_write_5m=3, cache_write_1h=2, thinking=7)
    observer.finished("ok", ResponseReport("msg_1", MODEL.id, "tool_use", counts, 1), None)

    request, (attempt,) = tree(await traced.spans())
    assert attrs(attempt)["url.full"] == "https://REDACTED:REDACTED@example.test/v1/messages"
    got = attrs(request)
    assert json.loads(got["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "let me think"},
                {"type": "text", "content": "Checking."},
                {"type": "tool_call", "id": "toolu_2", "name": "get_weather", "arguments": {"city": "Oslo"}},
            ],
            "finish_reason": "tool_use",
        }
    ]
    assert json.loads(got["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "plain"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "hmm"},
                {"type": "reasoning", "content": "[redacted]"},
                {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"type": "tool_call_response", "id": "toolu_1", "response": [{"type": "text", "content": "sunny"}]},
                {
                    "type": "blob",
                    "modality": "document",
                    "mime_type": "application/pdf",
                    "content": "[base64 omitted: 45 chars]",
                },
                {
                    "type": "search_result",
                    "content": [{"type": "base64", "data": "[base64 omitted: 36 chars]"}],
                    "title": "t",
                },
            ],
        },
    ]
    assert json.loads(got["gen_ai.system_instructions"]) == [{"type": "text", "content": "rules"}]
    assert json.loads(got["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "get_weather", "description": "d", "parameters": {"type": "object"}},
        {"type": "web_search_20250305", "name": "web_search"},
    ]
    assert {key: got[key] for key in got if key.startswith("gen_ai.usage.")} == {
        "gen_ai.usage.input_tokens": 20,
        "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 5,
        "gen_ai.usage.cache_creation.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 7,
    }
    assert not any(opaque in body for body in traced.receiver.bodies for opaque in (b"c2lnbmF0", b"b3BhcXVl", b"JVBER"))


async def test_without_an_sdk_the_observer_builds_nothing_and_sends_no_header() -> None:
    def body() -> dict[str, Any]:
        raise AssertionError("content built for a span nobody records")

    config = TelemetryConfig(tracer_provider=trace.NoOpTracerProvider(), capture_content=True, propagate_context=True)
    observer = Tracing(config).start(info(content=body))
    headers: dict[str, str] = {}
    observer.attempt_started(1, headers)
    observer.first_token()
    observer.chunk([TextDelta(0, "x")])
    observer.attempt_ended(AttemptReport(1, 429, "req", None))
    observer.backoff(1, "rate_limited", 0.1, True)
    observer.finished("error", ResponseReport(None, None, None, TokenCounts(), 1), RuntimeError("boom"))
    assert headers == {} and trace.get_current_span() is trace.INVALID_SPAN


async def test_a_body_that_cannot_be_read_costs_the_content_not_the_request(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    def unreadable() -> dict[str, Any]:
        raise ValueError("unreadable")

    config = TelemetryConfig(tracer_provider=traced.provider, capture_content=True)
    observer = Tracing(config).start(info(content=unreadable))
    observer.finished("ok", ResponseReport(None, None, None, TokenCounts(), 0), None)
    (request,) = await traced.spans()
    assert not set(attrs(request)) & set(CONTENT_KEYS) and status(request) == (UNSET, "")
    assert "Could not record the request content" in caplog.text


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (APIStatusError("m", status=529, error_type="overloaded_error"), "overloaded_error"),
        (APIStatusError("m", status=503), "503"),
        (APIStatusError("m", status=400, error_type="Weird Proxy Error!"), "_OTHER"),
        (InStreamError("m", status=200, error_type="api_error"), "api_error"),
        (APITimeoutError("m", phase="idle"), "timeout"),
        (APIConnectionError("m"), "connection_error"),
        (ProtocolError("m"), "protocol_error"),
        (ValueError("m"), "ValueError"),
        (None, "_OTHER"),
    ],
)
def test_error_type_is_low_cardinality(error: BaseException | None, expected: str) -> None:
    assert error_type(error) == expected


async def test_the_receiver_takes_plain_protobuf_and_refuses_what_it_cannot_read() -> None:
    async with OtlpReceiver() as receiver:
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=receiver.url + "/v1/traces")))
        provider.get_tracer("plain").start_span("uncompressed").end()
        await asyncio.to_thread(provider.shutdown)
        async with asyncio.timeout(5):
            await receiver.wait_for(lambda r: len(r.traces) == 1)
        assert [span.name for span in receiver.spans()] == ["uncompressed"]
        async with aiohttp.ClientSession() as client:
            async with client.post(receiver.url + "/v1/traces", json={}) as response:
                assert response.status == 415
            headers = {"Content-Type": "application/x-protobuf"}
            async with client.post(receiver.url + "/v1/metrics", data=b"\xff\xff", headers=headers) as response:
                assert response.status == 400
        assert not receiver.metrics and not receiver.logs
