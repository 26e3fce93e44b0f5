"""Cancellation: a stream cut anywhere, in any of the ways a caller can cut it, leaves nothing behind.

The property test draws the answer, the way of cutting and the cut point ``k`` (0..len events),
then checks: the request span ends exactly once, as cancelled (or OK where the caller had the
whole turn), the connection is back in the pool, the gauges are at 0, the counters say
``cancelled``, and the next request on the same session works. Then the waits a call can be
cancelled in: while connecting, waiting for the response headers, inside the body, and in a
backoff sleep.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
import structlog
from axio.events import IterationEnd, IterationStart, StreamEvent, TextDelta
from axio.tool import Tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import Fault, Simulator
from axio_transport_anthropic.telemetry.logs import (
    REQUEST_CANCELLED,
    REQUEST_END,
    REQUEST_RETRY,
    REQUEST_START,
)

from .conftest import SECRET
from .leaks import Captured, acquired_connections, assert_no_stray_tasks, assert_released, eventually
from .support import RequestRecords, collect, request_records, user

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

MODEL = "claude-sonnet-4-6"
#: The simulator's answer to "hi" (no reply is scripted anywhere in this file).
HELLO = "Héllo — you said “hi”. This is the Anthropic simulator answering 🙂"


async def lookup(city: str, days: int) -> str:
    """Look the weather up."""
    return city


@dataclass(frozen=True)
class Ask:
    """A request; the simulator's answer follows from it (no scripted reply is queued, so a cut
    answer cannot go back into the queue and reach the next request)."""

    text: str
    tools: tuple[Tool[Any], ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()


ASKS = {
    "short": Ask("hi"),
    "long": Ask("please answer at some length: " + "more words " * 10),
    "tool": Ask("what is the weather in Paris?", (Tool(name="lookup", handler=lookup),)),
    "thinking": Ask("think first", settings=(("thinking_budget", 2048),)),
}


def kinds(events: list[StreamEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


@contextmanager
def recording() -> Iterator[RequestRecords]:
    structlog.reset_defaults()
    with request_records(logging.DEBUG) as records:
        yield records


def make_transport(base_url: str, session: aiohttp.ClientSession, captured: Captured, **kw: Any) -> AnthropicTransport:
    options: dict[str, Any] = {
        "max_retries": 2,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "first_byte_timeout": 10.0,
        "idle_timeout": 10.0,
        **kw,
    }
    return AnthropicTransport(
        api_key=SECRET, base_url=base_url, session=session, telemetry=captured.config(), **options
    )


def roots(captured: Captured) -> list[ReadableSpan]:
    return [s for s in captured.spans() if s.parent is None]


def attempts(captured: Captured) -> list[ReadableSpan]:
    return sorted((s for s in captured.spans() if s.parent is not None), key=lambda s: s.start_time or 0)


def assert_cancelled(captured: Captured, *, attempt_open: bool, retries: int = 0) -> None:
    """One request span, ended once as cancelled; the counters say cancelled, nothing else."""
    (root,) = roots(captured)
    assert root.name == f"chat {MODEL}"
    assert (root.status.status_code, root.status.description) == (StatusCode.ERROR, "cancelled")
    assert (root.attributes or {}).get("error.type") == "cancelled"
    assert not [e for e in root.events if e.name == "exception"], "a cancellation is not an exception"
    last = attempts(captured)[-1]
    if attempt_open:
        assert (last.attributes or {}).get("error.type") == "cancelled"
        assert last.status.status_code is StatusCode.ERROR
    assert captured.by("axio_anthropic_requests_total", "outcome", MODEL) == {"cancelled": 1}
    assert captured.by("axio_anthropic_errors_total", "type", MODEL) == {}
    assert sum(captured.by("axio_anthropic_retries_total", "reason", MODEL).values()) == retries
    statuses = captured.by("axio_anthropic_attempts_total", "status", MODEL)
    assert statuses.get("cancelled", 0) == (1 if attempt_open else 0), statuses
    assert captured.value("axio_anthropic_in_flight_requests", MODEL) == 0


def assert_whole(captured: Captured) -> None:
    (root,) = roots(captured)
    assert root.status.status_code is StatusCode.UNSET
    assert captured.by("axio_anthropic_requests_total", "outcome", MODEL) == {"ok": 1}
    assert captured.by("axio_anthropic_attempts_total", "status", MODEL) == {"200": 1}


# ── cutting a stream after k events ─────────────────────────────────────────────────────────

Cutter = Callable[[AnthropicTransport, Ask, int], Awaitable[list[StreamEvent]]]


def open_stream(transport: AnthropicTransport, ask: Ask) -> AsyncGenerator[StreamEvent]:
    return cast("AsyncGenerator[StreamEvent]", transport.stream(user(ask.text), list(ask.tools), ""))


async def full_answer(transport: AnthropicTransport, ask: Ask) -> list[StreamEvent]:
    return [event async for event in open_stream(transport, ask)]


async def take(stream: AsyncGenerator[StreamEvent], k: int, seen: list[StreamEvent]) -> None:
    for _ in range(k):
        seen.append(await anext(stream))


async def cut_by_aclose(transport: AnthropicTransport, ask: Ask, k: int) -> list[StreamEvent]:
    seen: list[StreamEvent] = []
    stream = open_stream(transport, ask)
    await take(stream, k, seen)
    await stream.aclose()
    return seen


async def cut_by_abandoning(transport: AnthropicTransport, ask: Ask, k: int) -> list[StreamEvent]:
    """Stop iterating and drop the stream: the loop's async-generator finaliser closes it."""
    seen: list[StreamEvent] = []
    stream = open_stream(transport, ask)
    await take(stream, k, seen)
    del stream
    gc.collect()
    return seen


async def _cancel_consumer(transport: AnthropicTransport, ask: Ask, k: int, closing: bool) -> list[StreamEvent]:
    seen: list[StreamEvent] = []
    parked = asyncio.Event()

    async def consumer() -> None:
        stream = open_stream(transport, ask)
        if closing:
            async with aclosing(stream):
                await take(stream, k, seen)
                parked.set()
                await asyncio.Event().wait()
        else:
            await take(stream, k, seen)
            parked.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(consumer())
    await parked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    del task
    gc.collect()
    return seen


async def cut_by_cancelling_a_closing_consumer(transport: AnthropicTransport, ask: Ask, k: int) -> list[StreamEvent]:
    return await _cancel_consumer(transport, ask, k, closing=True)


async def cut_by_cancelling_a_bare_consumer(transport: AnthropicTransport, ask: Ask, k: int) -> list[StreamEvent]:
    return await _cancel_consumer(transport, ask, k, closing=False)


CUTTERS: dict[str, Cutter] = {
    "aclose": cut_by_aclose,
    "abandon": cut_by_abandoning,
    "cancel-closing-consumer": cut_by_cancelling_a_closing_consumer,
    "cancel-bare-consumer": cut_by_cancelling_a_bare_consumer,
}


@dataclass
class Rig:
    sim: Simulator
    session: aiohttp.ClientSession
    logs: RequestRecords


@asynccontextmanager
async def rig() -> AsyncIterator[Rig]:
    with recording() as logs:
        async with Simulator(api_key=SECRET) as sim, aiohttp.ClientSession() as session:
            yield Rig(sim, session, logs)
    await assert_no_stray_tasks()


async def later_request_works(r: Rig) -> None:
    """The same session, a fresh request: whole, one root span, no parent left over from the cut."""
    captured = Captured()
    transport = make_transport(r.sim.base_url, r.session, captured)
    events = await collect(transport)
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == HELLO
    assert isinstance(events[0], IterationStart) and isinstance(events[-1], IterationEnd)
    (root,) = roots(captured)
    assert root.parent is None
    await assert_released(r.session, captured, (MODEL,), r.sim)


async def cut_scenario(name: str, how: str, pick: Callable[[int], int]) -> None:
    ask = ASKS[name]
    async with rig() as r:
        full = await full_answer(make_transport(r.sim.base_url, r.session, Captured(), **dict(ask.settings)), ask)
        k = pick(len(full))
        served = len(r.sim.requests)
        r.logs.entries.clear()

        captured = Captured()
        transport = make_transport(r.sim.base_url, r.session, captured, **dict(ask.settings))
        seen = await CUTTERS[how](transport, ask, k)
        await assert_released(r.session, captured, (MODEL,), r.sim)

        assert kinds(seen) == kinds(full[:k])
        # However the stream was left (``break`` with no ``aclose()`` included), the caller's
        # context was never touched: the request span is never made current.
        assert not trace.get_current_span().get_span_context().is_valid, "the request span is current"
        if k == 0:
            # Never iterated: nothing was sent, nothing was started.
            assert len(r.sim.requests) == served and captured.spans() == [] and r.logs.entries == []
        elif k == len(full):
            # The caller holds the whole turn; closing the stream now cancels nothing.
            assert_whole(captured)
            assert r.logs.events() == [REQUEST_START, REQUEST_END]
        else:
            assert len(r.sim.requests) == served + 1
            assert_cancelled(captured, attempt_open=True)
            assert r.logs.events() == [REQUEST_START, REQUEST_CANCELLED]
        await later_request_works(r)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ask=st.sampled_from(sorted(ASKS)), how=st.sampled_from(sorted(CUTTERS)), data=st.data())
def test_a_stream_cut_after_k_events_leaves_nothing_behind(ask: str, how: str, data: st.DataObject) -> None:
    def pick(length: int) -> int:
        return data.draw(st.integers(0, length), label="k")

    asyncio.run(cut_scenario(ask, how, pick))


# ── cancelled while the transport waits ────────────────────────────────────────────────────


async def consume_until_blocked(
    transport: AnthropicTransport, seen: list[StreamEvent], ask: Ask = ASKS["short"], quiet: float = 0.05
) -> asyncio.Task[None]:
    """A consumer that takes all it can; returned once nothing has arrived for ``quiet`` seconds."""

    async def consumer() -> None:
        async for event in open_stream(transport, ask):
            seen.append(event)

    task = asyncio.create_task(consumer())
    count = -1
    while count != len(seen) and not task.done():
        count = len(seen)
        await asyncio.sleep(quiet)
    return task


async def body_stall_scenario(name: str, stall_after: int) -> None:
    ask = ASKS[name]
    async with rig() as r:
        full = await full_answer(make_transport(r.sim.base_url, r.session, Captured(), **dict(ask.settings)), ask)
        r.logs.entries.clear()

        captured = Captured()
        transport = make_transport(r.sim.base_url, r.session, captured, **dict(ask.settings))
        r.sim.inject(Fault.stall(after_events=stall_after, duration=30.0))
        seen: list[StreamEvent] = []
        task = await consume_until_blocked(transport, seen, ask)
        finished = task.done()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await assert_released(r.session, captured, (MODEL,), r.sim)

        assert kinds(seen) == kinds(full[: len(seen)])
        if finished:
            assert kinds(seen) == kinds(full)
            assert_whole(captured)
        else:
            assert len(seen) < len(full)
            assert_cancelled(captured, attempt_open=True)
            assert r.logs.events() == [REQUEST_START, REQUEST_CANCELLED]
        await later_request_works(r)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ask=st.sampled_from(sorted(ASKS)), stall_after=st.integers(0, 16))
def test_cancelled_while_the_body_stalls_at_any_point(ask: str, stall_after: int) -> None:
    asyncio.run(body_stall_scenario(ask, stall_after))


async def test_cancelled_while_connecting() -> None:
    """Held in the pool's connect step (a trace hook blocks it): the placeholder is given back."""
    entered, gate = asyncio.Event(), asyncio.Event()

    async def block(session: aiohttp.ClientSession, context: SimpleNamespace, params: object) -> None:
        entered.set()
        await gate.wait()

    hooks = aiohttp.TraceConfig()
    hooks.on_connection_create_start.append(block)
    captured = Captured()
    with recording() as logs:
        async with Simulator(api_key=SECRET) as sim, aiohttp.ClientSession(trace_configs=[hooks]) as session:
            task = asyncio.create_task(collect(make_transport(sim.base_url, session, captured)))
            await asyncio.wait_for(entered.wait(), 5)
            assert acquired_connections(session) == 1  # the connect placeholder
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await assert_released(session, captured, (MODEL,), sim)
            assert sim.requests == []
            assert_cancelled(captured, attempt_open=True)
            assert [(a.attributes or {}).get("http.response.status_code") for a in attempts(captured)] == [None]
            assert logs.events() == [REQUEST_START, REQUEST_CANCELLED]
            gate.set()
            rig_ = Rig(sim, session, logs)
            await later_request_works(rig_)
    await assert_no_stray_tasks()


async def test_cancelled_while_waiting_for_the_response_headers() -> None:
    captured = Captured()
    async with rig() as r:
        r.sim.inject(Fault.slow_first_byte(30.0))
        seen: list[StreamEvent] = []
        task = await consume_until_blocked(make_transport(r.sim.base_url, r.session, captured), seen)
        assert await eventually(lambda: len(r.sim.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_released(r.session, captured, (MODEL,), r.sim)
        assert seen == [] and len(r.sim.requests) == 1
        assert_cancelled(captured, attempt_open=True)
        assert r.logs.events() == [REQUEST_START, REQUEST_CANCELLED]
        await later_request_works(r)


async def test_cancelled_during_a_backoff_sleep() -> None:
    """After a 529, in a 30 s backoff: cancelled at once, no second attempt, no attempt left open."""
    captured = Captured()
    async with rig() as r:
        r.sim.inject(Fault.overloaded())
        transport = make_transport(r.sim.base_url, r.session, captured, retry_base_delay=30.0, retry_max_delay=30.0)
        task = asyncio.create_task(collect(transport))
        assert await eventually(
            lambda: captured.value("axio_anthropic_retries_total", MODEL, reason="overloaded") == 1, 5
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert loop.time() - started < 1.0
        await assert_released(r.session, captured, (MODEL,), r.sim)
        assert len(r.sim.requests) == 1
        assert_cancelled(captured, attempt_open=False, retries=1)
        assert captured.by("axio_anthropic_attempts_total", "status", MODEL) == {"529": 1}
        (root,) = roots(captured)
        assert [e.name for e in root.events if e.name == "retry.backoff"] == ["retry.backoff"]
        assert [(a.attributes or {}).get("http.response.status_code") for a in attempts(captured)] == [529]
        assert r.logs.events() == [REQUEST_START, REQUEST_RETRY, REQUEST_CANCELLED]
        await later_request_works(r)
