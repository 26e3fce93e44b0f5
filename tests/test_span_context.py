"""Whose span is whose: the request span is never made current in the caller's context.

Its parent is what was current when ``stream()`` was called; spans the host opens while it
consumes a stream are the host's, siblings of ``chat``; exemplars and log lines carry the ids of
their own request. Each test drives a way hosts really use streams (nested, interleaved, left
with ``break``, closed out of order) that the attach-while-yielding design got wrong.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, cast

import aiohttp
import pytest
from axio.events import IterationStart, StreamEvent, TextDelta
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import Reply, Simulator
from axio_transport_anthropic.telemetry import TelemetryConfig
from axio_transport_anthropic.telemetry.instruments import OUTPUT_TOKEN_BUCKETS
from axio_transport_anthropic.telemetry.logs import REQUEST_END

from .conftest import SECRET
from .leaks import Captured, assert_released
from .support import request_records, user

MODEL = "claude-sonnet-4-6"


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Simulator, aiohttp.ClientSession]]:
    async with Simulator(api_key=SECRET) as sim, aiohttp.ClientSession() as session:
        yield sim, session


def transport(sim: Simulator, session: aiohttp.ClientSession, config: TelemetryConfig) -> AnthropicTransport:
    return AnthropicTransport(
        api_key=SECRET, base_url=sim.base_url, session=session, telemetry=config, idle_timeout=5.0
    )


async def drain(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


def chats(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith("chat ")]


def named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (found,) = [span for span in spans if span.name == name]
    return found


def span_id(span: ReadableSpan | trace.Span) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.span_id


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def assert_attempts_under_their_request(spans: Sequence[ReadableSpan]) -> None:
    requests = {span_id(span) for span in chats(spans)}
    for attempt in (span for span in spans if span.name == "POST"):
        assert parent_id(attempt) in requests, "an attempt span outside its request span"


def output_token_exemplars(captured: Captured) -> dict[float, tuple[str, str]]:
    """The exemplar of each ``axio_anthropic_output_tokens`` bucket that has one: le -> ids."""
    found: dict[float, tuple[str, str]] = {}
    for family in captured.registry.collect():
        for sample in family.samples:
            if sample.name == "axio_anthropic_output_tokens_bucket" and sample.exemplar is not None:
                labels = sample.exemplar.labels
                found[float(sample.labels["le"])] = (labels["trace_id"], labels["span_id"])
    return found


async def test_the_request_span_is_never_current_while_the_caller_iterates(
    rig: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, session = rig
    captured = Captured()
    host = captured.provider.get_tracer("host")
    with host.start_as_current_span("agent") as agent:
        current = {
            span_id(trace.get_current_span())
            async for _ in transport(sim, session, captured.config()).stream(user("hi"), [], "")
        }
        assert trace.get_current_span() is agent
    assert current == {span_id(agent)}
    spans = captured.spans()
    (chat,) = chats(spans)
    assert parent_id(chat) == span_id(agent)
    assert_attempts_under_their_request(spans)


async def test_a_span_the_host_opens_while_consuming_is_a_sibling_of_chat(
    rig: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, session = rig
    captured = Captured()
    host = captured.provider.get_tracer("host")
    with host.start_as_current_span("agent"):
        async for event in transport(sim, session, captured.config()).stream(user("hi"), [], ""):
            if isinstance(event, IterationStart):
                with host.start_as_current_span("execute_tool lookup"):
                    await asyncio.sleep(0)
    spans = captured.spans()
    agent, tool, (chat,) = named(spans, "agent"), named(spans, "execute_tool lookup"), chats(spans)
    assert parent_id(chat) == parent_id(tool) == span_id(agent)


class _DropChatRoots(Sampler):
    """Drops a request that starts a trace; records everything else (the host's roots)."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        sampler = ALWAYS_ON if not name.startswith("chat ") else None
        if sampler is not None:
            return sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "DropChatRoots"


async def test_a_dropped_request_does_not_drop_the_spans_the_host_opens_meanwhile(
    rig: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, session = rig
    captured = Captured(provider=TracerProvider(sampler=ParentBased(_DropChatRoots()), shutdown_on_exit=False))
    host = captured.provider.get_tracer("host")
    async for event in transport(sim, session, captured.config()).stream(user("hi"), [], ""):
        if isinstance(event, IterationStart):
            # Unsampled but live: the host's own span must not inherit the request's decision.
            with host.start_as_current_span("execute_tool lookup"):
                pass
    spans = captured.spans()
    assert not chats(spans)
    assert named(spans, "execute_tool lookup").parent is None


async def test_a_stream_consumed_inside_another_is_its_sibling(rig: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, session = rig
    captured = Captured()
    client = transport(sim, session, captured.config())
    with captured.provider.get_tracer("host").start_as_current_span("agent") as agent:
        async for event in client.stream(user("outer"), [], ""):
            if isinstance(event, IterationStart):
                await drain(client.stream(user("inner"), [], ""))
    spans = captured.spans()
    assert len(chats(spans)) == 2
    assert {parent_id(chat) for chat in chats(spans)} == {span_id(agent)}
    assert_attempts_under_their_request(spans)


async def test_break_then_a_new_stream_in_the_same_task_starts_a_new_trace(
    rig: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, session = rig
    captured = Captured()
    client = transport(sim, session, captured.config())
    for _ in range(20):
        async for _ in client.stream(user("hi"), [], ""):
            break  # no aclose(): the loop finalises the generator later, elsewhere
        await drain(client.stream(user("hi"), [], ""))
    await assert_released(session, captured, (MODEL,), sim)
    spans = captured.spans()
    assert len(chats(spans)) == 40
    assert [parent_id(chat) for chat in chats(spans)] == [None] * 40
    assert len({chat.context.trace_id for chat in chats(spans) if chat.context is not None}) == 40
    assert_attempts_under_their_request(spans)
    assert not trace.get_current_span().get_span_context().is_valid


async def test_abandoned_streams_keep_no_span_alive(rig: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, session = rig
    captured = Captured()
    client = transport(sim, session, captured.config(logs=False))
    for _ in range(200):
        async for _ in client.stream(user("hi"), [], ""):
            break
    await assert_released(session, captured, (MODEL,), sim)
    captured.exporter.clear()
    gc.collect()
    alive = [obj for obj in gc.get_objects() if isinstance(obj, SdkSpan)]
    assert len(alive) <= 2, f"{len(alive)} SDK spans still alive after 200 abandoned streams"


async def test_streams_read_alternately_keep_their_own_ids(rig: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, session = rig
    captured = Captured()
    client = transport(sim, session, captured.config())
    # Different lengths put the two answers' output tokens in different histogram buckets.
    sim.enqueue(Reply.text("short one"), Reply.text("a much longer answer, " * 20))
    with request_records(logging.INFO) as logged:
        short, long = client.stream(user("a"), [], ""), client.stream(user("b"), [], "")
        await anext(short)
        await anext(long)
        await drain(short)  # ends while the other is mid-stream
        assert not trace.get_current_span().get_span_context().is_valid
        await drain(long)
    assert not trace.get_current_span().get_span_context().is_valid
    spans = captured.spans()
    by_tokens = {
        cast(int, span.attributes["gen_ai.usage.output_tokens"]): span for span in chats(spans) if span.attributes
    }
    assert len(by_tokens) == 2
    buckets = {min(le for le in OUTPUT_TOKEN_BUCKETS if le >= tokens): span for tokens, span in by_tokens.items()}
    assert len(buckets) == 2, "both answers landed in one bucket: the test would prove nothing"
    assert output_token_exemplars(captured) == {float(le): ids(span) for le, span in buckets.items()}
    ends = {r["response_id"]: (r["trace_id"], r["span_id"]) for r in logged.entries if r["event"] == REQUEST_END}
    assert ends == {span.attributes["gen_ai.response.id"]: ids(span) for span in chats(spans) if span.attributes}


async def test_aclose_inside_a_host_span_leaves_the_host_span_current(
    rig: tuple[Simulator, aiohttp.ClientSession], caplog: pytest.LogCaptureFixture
) -> None:
    sim, session = rig
    captured = Captured()
    client = transport(sim, session, captured.config())
    host = captured.provider.get_tracer("host")
    first, second = client.stream(user("a"), [], ""), client.stream(user("b"), [], "")
    assert isinstance(first, AsyncGenerator) and isinstance(second, AsyncGenerator)
    await anext(first)
    await anext(second)
    with host.start_as_current_span("cleanup") as cleanup:
        await second.aclose()  # out of order: the later one first
        assert trace.get_current_span() is cleanup
        await first.aclose()
        assert trace.get_current_span() is cleanup
    assert not trace.get_current_span().get_span_context().is_valid
    await drain(client.stream(user("c"), [], ""))
    spans = captured.spans()
    assert [parent_id(chat) for chat in chats(spans)] == [None, None, None]
    assert "Failed to detach context" not in caplog.text


async def test_without_a_tracer_provider_overlapping_streams_finish(
    rig: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    """The API's no-op tracer hands every request the same invalid span: nothing may key on it."""
    sim, session = rig
    client = transport(sim, session, TelemetryConfig(tracer_provider=trace.NoOpTracerProvider(), metrics=False))
    async with asyncio.timeout(20):
        counts = await asyncio.gather(*(drain(client.stream(user("hi"), [], "")) for _ in range(5)))
        assert all(counts)
        for _ in range(5):
            async for event in client.stream(user("outer"), [], ""):
                if isinstance(event, TextDelta):
                    assert await drain(client.stream(user("inner"), [], ""))
                    break
            assert await drain(client.stream(user("after"), [], ""))
