"""What a stream leaves to the cycle collector.

At 1,000 streams in flight a full GC pass visits every object each stream holds (tens of
milliseconds on a small machine, see tests/load), so the transport keeps two promises:

* a finished stream is freed by reference counting alone: nothing of ours is left in a reference
  cycle for the collector to find (which also makes ``gc.freeze()`` and raised thresholds safe for
  a host);
* an in-flight stream holds a bounded number of the package's own objects.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import AsyncGeneratorType, CodeType, CoroutineType, FrameType, GeneratorType
from typing import Any

import pytest
from axio.events import IterationEnd
from axio.tool import Tool

import axio_transport_anthropic
import axio_transport_anthropic.simulator
from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.attempt import Timeouts
from axio_transport_anthropic.simulator import Fault, Reply, Simulator

from .leaks import Captured
from .support import collect, user

PACKAGE_NAME = "axio_transport_anthropic"
PACKAGE = str(Path(axio_transport_anthropic.__file__).parent)
#: The simulator runs in the test's own process here; what it holds is the server's, not ours.
SIMULATOR = str(Path(axio_transport_anthropic.simulator.__file__).parent)


def ours(obj: object) -> str | None:
    """A name for ``obj`` if this package made it (an instance of its classes, or one of its
    generators, coroutines or frames), else ``None``."""
    code: CodeType | None = None
    if isinstance(obj, AsyncGeneratorType):
        code = obj.ag_code
    elif isinstance(obj, CoroutineType):
        code = obj.cr_code
    elif isinstance(obj, GeneratorType):
        code = obj.gi_code
    elif isinstance(obj, FrameType):
        code = obj.f_code
    if code is not None:
        mine = code.co_filename.startswith(PACKAGE) and not code.co_filename.startswith(SIMULATOR)
        return code.co_qualname if mine else None
    module = type(obj).__module__
    mine = (
        isinstance(module, str)
        and module.startswith(PACKAGE_NAME)
        and not module.startswith(f"{PACKAGE_NAME}.simulator")
    )
    return type(obj).__qualname__ if mine else None


@contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """Everything the collector finds unreachable while the block runs (automatic collection off)."""
    found: list[object] = []
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
    finally:
        gc.collect()
        found.extend(gc.garbage)
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()


def with_telemetry(transport: AnthropicTransport, captured: Captured) -> AnthropicTransport:
    return replace(transport, telemetry=captured.config())


async def lookup(city: str) -> str:
    return city


TOOLS: list[Tool[Any]] = [Tool(name="lookup", description="Looks a city up.", handler=lookup)]


@pytest.mark.parametrize(
    "name",
    ["text", "tool_use", "thinking", "retried_429", "retried_reset", "retried_overloaded", "closed_early"],
)
async def test_a_finished_stream_leaves_no_cycle_of_ours(
    sim: Simulator, transport: AnthropicTransport, name: str
) -> None:
    captured = Captured()
    replies = {
        "text": Reply.text("Hello there, " * 50),
        "tool_use": Reply.tool_use("lookup", {"city": "Paris" * 40}),
        "thinking": Reply.thinking("Let me think. " * 30, "Done."),
    }
    faults = {
        "retried_429": Fault.rate_limited(retry_after=0.001),
        "retried_reset": Fault.reset(),
        "retried_overloaded": Fault.overloaded(),
    }
    transport = with_telemetry(transport, captured)
    await collect(transport)  # warm-up: imports, metric children, the connection pool
    with cyclic_garbage() as garbage:
        for _ in range(5):
            if name in faults:
                sim.inject(faults[name])
            sim.enqueue(replies.get(name, Reply.text("Hi, " * 200)))
            if name == "closed_early":
                stream = aiter(transport.stream(user("hi"), TOOLS, ""))
                for _ in range(3):
                    await anext(stream)
                await stream.aclose()  # type: ignore[attr-defined]
                continue
            events = await collect(transport, user("hi"), tools=TOOLS)
            assert isinstance(events[-1], IterationEnd)
    left = Counter(kind for obj in garbage if (kind := ours(obj)) is not None)
    assert not left, f"left in reference cycles by 5 streams: {dict(left)}"


async def test_a_stream_in_flight_holds_few_objects_of_ours(transport: AnthropicTransport) -> None:
    """Counted while 20 streams are held at their first event, full telemetry on."""
    captured = Captured()
    streams = 20
    transport = with_telemetry(transport, captured)
    await collect(transport)
    gc.collect()
    before = Counter(name for obj in gc.get_objects() if (name := ours(obj)) is not None)
    opened = [aiter(transport.stream(user(f"hi {i}"), [], "")) for i in range(streams)]
    try:
        for stream in opened:
            await anext(stream)
        gc.collect()
        during = Counter(name for obj in gc.get_objects() if (name := ours(obj)) is not None)
    finally:
        for stream in opened:
            await stream.aclose()  # type: ignore[attr-defined]
    held = during - before
    per_stream = sum(held.values()) / streams
    report = ", ".join(f"{name} {count / streams:g}" for name, count in held.most_common())
    # Twelve today: the stream and attempt generators, decoder, SSE buffer, timeouts, attempt
    # state, request info, the composite observer and one observer per signal.
    assert per_stream <= 12, f"{per_stream:g} objects of ours per stream in flight: {report}"


def test_ours_names_only_this_package() -> None:
    assert ours(Captured()) is None
    assert ours(Fault.reset()) is None  # the simulator's
    assert ours(Timeouts(1.0, 1.0, 1.0, None)) == "Timeouts"

    async def elsewhere() -> None:
        pass

    coroutine = elsewhere()
    assert ours(coroutine) is None
    coroutine.close()
