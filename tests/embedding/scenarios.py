"""The ways hosts consume streams, each a coroutine over a ``Stage``. Half the units of work run
under a root host span of their own and half under none, so with a ratio sampler some requests
sit in sampled traces, some in dropped ones, and some are roots."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from axio.events import StreamEvent, TextDelta

from axio_transport_anthropic import AnthropicTransport

from .agent_runs import agents
from .host import Call, Host

__all__ = ["SCENARIOS", "Stage", "warm_up"]

KEY = "sk-ant-embedding-0123456789"


@dataclass
class Stage:
    host: Host
    fast: str
    """Base URLs of three simulators: answers at once, a pause before each delta, a stall mid-stream."""
    slow: str
    stall: str
    shared: AnthropicTransport
    """The scenario's transports entered with ``async with`` (pooled sessions), one per simulator;
    the runner closes them only after checking that no body was left open."""
    shared_slow: AnthropicTransport
    shared_stall: AnthropicTransport
    watch: Callable[[Call], None] | None = None
    """Checks the exemplars after each request made one at a time (recording only)."""

    def done(self, call: Call, watch: bool) -> None:
        """``call``'s stream is over; ``watch``: no other stream could have ended since the last."""
        if watch and self.watch is not None:
            self.watch(call)

    def bare(self, url: str | None = None) -> AnthropicTransport:
        """A transport used without ``async with``: a session per call."""
        return AnthropicTransport(base_url=url or self.fast, api_key=KEY)

    def pick(self, i: int) -> AnthropicTransport:
        return self.shared if i % 2 else self.bare()

    async def alone(self, work: Coroutine[Any, Any, None]) -> None:
        """One unit of work in a task and context of its own, as a host serves each request:
        what one unit leaves current (checked at its end) cannot blunt the next one's checks."""
        await asyncio.create_task(work, context=contextvars.Context())

    @contextmanager
    def unit(self, i: int, name: str = "host.unit") -> Iterator[None]:
        """Odd units run under a root host span of their own; even ones under none."""
        if i % 2:
            with self.host.span(name):
                yield
        else:
            yield


async def concurrent(stage: Stage, count: int = 200) -> None:
    bare = stage.bare()

    async def one(i: int) -> None:
        with stage.unit(i // 2):
            await stage.host.full(stage.shared if i % 4 else bare, "concurrent")

    await asyncio.gather(*(one(i) for i in range(count)))


async def break_then_stream(stage: Stage, count: int = 200, *, watch: bool = True) -> None:
    """``break`` at the first text with no ``aclose()`` (the loop finalizes the stream later),
    then a host span and a whole stream, in one task."""
    host = stage.host
    for i in range(count):
        transport = stage.pick(i)
        with stage.unit(i // 2, "host.turn"):
            call = host.call("break")
            async for event in transport.stream(host.question(), [], ""):
                call.note(event)
                if isinstance(event, TextDelta):
                    break
            host.check_context("break: after the break")
            with host.span("host.after", kept=True):
                pass
            stage.done(await host.full(transport, "after-break"), watch)


async def _read(call: Call, stream: AsyncIterator[StreamEvent], first: asyncio.Event) -> None:
    async for event in stream:
        call.note(event)
        if isinstance(event, TextDelta):
            first.set()


async def cancel(stage: Stage, rounds: int = 3, width: int = 10) -> None:
    """``task.cancel()`` while the task reads (after its first text, before its last: the
    simulator pauses before each delta)."""
    host = stage.host
    bare = stage.bare(stage.slow)
    for _ in range(rounds):
        tasks, firsts, calls = [], [], []
        for i in range(width):
            with stage.unit(i):
                call, stream = host.open(stage.shared_slow if i % 3 else bare, "cancel")
                first = asyncio.Event()
                tasks.append(asyncio.create_task(_read(call, stream, first)))
            firsts.append(first)
            calls.append(call)
        await asyncio.gather(*(first.wait() for first in firsts))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        host.check_context("cancel: after the cancelled tasks")
        if ended := sum(call.whole for call in calls):
            host.anomalies["a stream ended before it was cancelled (the simulator is too fast)", "cancel"] += ended


async def wait_for(stage: Stage, count: int = 30, width: int = 10) -> None:
    """``asyncio.wait_for`` whose timeout fires while the stream stalls mid-answer."""
    host = stage.host
    bare = stage.bare(stage.stall)

    async def one(i: int) -> None:
        with stage.unit(i):
            try:
                await asyncio.wait_for(host.full(stage.shared_stall if i % 2 else bare, "wait_for"), 0.3)
            except TimeoutError:
                pass
            else:
                host.anomalies["a stream ended before its timeout (the simulator did not stall)", "wait_for"] += 1
            host.check_context("wait_for: after the timeout")

    for start in range(0, count, width):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + width))))


async def nested(stage: Stage, count: int = 30, *, watch: bool = True) -> None:
    """While reading A, B is read whole (inside A's loop body)."""
    host = stage.host

    async def one(i: int) -> None:
        transport = stage.pick(i)
        with stage.unit(i, "host.outer"):
            call, outer = host.open(transport, "outer")
            async for event in outer:
                call.note(event)
                if isinstance(event, TextDelta) and not call.stepped:
                    call.stepped = True
                    stage.done(await host.full(transport, "nested"), watch)
            stage.done(call, watch)
            host.check_context("nested: after the outer stream")

    for i in range(count):
        await stage.alone(one(i))


async def tasks_inside(stage: Stage, count: int = 20) -> None:
    """Tasks made inside a stream's loop body read streams of their own; awaited after it."""
    host = stage.host

    async def one(i: int) -> None:
        transport = stage.pick(i)
        with stage.unit(i, "host.outer"):
            call, outer = host.open(transport, "spawner")
            pending: list[asyncio.Task[Call]] = []
            async for event in outer:
                call.note(event)
                if isinstance(event, TextDelta) and not pending:
                    pending = [asyncio.create_task(host.full(transport, "spawned")) for _ in range(2)]
            await asyncio.gather(*pending)
            host.check_context("tasks_inside: after the tasks")

    for i in range(count):
        await stage.alone(one(i))


async def _step(call: Call, stream: AsyncGenerator[StreamEvent]) -> bool:
    event = await anext(stream, None)
    if event is None:
        return False
    call.note(event)
    return True


async def alternating(stage: Stage, count: int = 30, *, watch: bool = True) -> None:
    """A and B, each made under a host span of its own, read one event at a time in turn under
    a third; then closed out of order (``aclose()`` inside a host span), or both read whole."""
    host = stage.host

    async def one(i: int) -> None:
        transport = stage.pick(i)
        with host.span("host.a"):
            call_a, a = host.open(transport, "alt-a")
        with host.span("host.b"):
            call_b, b = host.open(transport, "alt-b")
        first, second = cast(AsyncGenerator[StreamEvent], a), cast(AsyncGenerator[StreamEvent], b)
        with stage.unit(i, "host.read"):
            for _ in range(3):
                await _step(call_a, first)
                await _step(call_b, second)
            if i % 3 == 1:
                reading = [(call_a, first), (call_b, second)]
                while reading:
                    for call, stream in list(reading):
                        if not await _step(call, stream):
                            reading.remove((call, stream))
                            stage.done(call, watch)
            else:
                opened_first, other = (first, second) if i % 3 == 0 else (second, first)
                with host.span("host.close"):
                    await opened_first.aclose()
                    host.check_context("alternating: after aclose() in a host span")
                await other.aclose()
            host.check_context("alternating: after both")

    for i in range(count):
        await stage.alone(one(i))


async def mix(stage: Stage) -> None:
    """All of the above at once, smaller."""
    await asyncio.gather(
        concurrent(stage, 40),
        break_then_stream(stage, 20, watch=False),
        cancel(stage, 1),
        wait_for(stage, 10),
        nested(stage, 8, watch=False),
        tasks_inside(stage, 5),
        alternating(stage, 9, watch=False),
        agents(stage, 3, 2),
    )


async def warm_up(stage: Stage) -> None:
    """What a first run makes once (imports, metric children, a pool at its widest) is not growth."""
    await concurrent(stage, 200)
    await mix(stage)


SCENARIOS: dict[str, Callable[[Stage], Coroutine[Any, Any, None]]] = {
    "concurrent": concurrent,
    "break_then_stream": break_then_stream,
    "cancel": cancel,
    "wait_for": wait_for,
    "nested": nested,
    "tasks_inside": tasks_inside,
    "alternating": alternating,
    "mix": mix,
    "agents": agents,
}
