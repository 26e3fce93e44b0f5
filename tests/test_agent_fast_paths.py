"""The instrumentor's per-event shortcuts and their fallbacks: each step attaches through
OpenTelemetry's own ContextVar when the default runtime context is in use (else through
``attach``/``detach``), and axio's generator is driven inside its own ``AgentStream`` when it is
found where axio 0.12 keeps it, not yet started (else the whole stream is). Either way the
run is the same tree, and nothing of it is current for the host."""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from axio import Agent
from axio.context import MemoryContextStore
from axio.events import IterationEnd, IterationStart, StreamEvent, TextDelta
from axio.stream import AgentStream
from axio.tool import Tool
from axio.types import StopReason, Usage
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from axio_transport_anthropic.telemetry import AxioInstrumentor, agent_steps
from axio_transport_anthropic.telemetry.agents import _fresh_generator

from .agent_rig import CHAT, Rig, rig, shape, tree

__all__ = ["rig"]

RUN_SHAPE: tuple[str, list[Any]] = (
    "invoke_agent",
    [(CHAT, [("POST", [])]), ("execute_tool weather", []), (CHAT, [("POST", [])])],
)


async def sunny(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: sunny"


def test_steps_attach_through_the_default_runtime_contexts_variable() -> None:
    attach, detach = agent_steps._step_context()
    assert (attach, detach) != (otel_context.attach, otel_context.detach)
    assert (agent_steps.attach, agent_steps.detach) == (attach, detach)
    before = otel_context.get_current()
    context = otel_context.set_value("k", "v")
    token = attach(context)
    assert otel_context.get_current() is context and otel_context.get_value("k") == "v"
    detach(token)
    assert otel_context.get_current() is before


@pytest.mark.parametrize("runtime", ["another kind", "missing"])
def test_another_runtime_context_gets_attach_and_detach(monkeypatch: pytest.MonkeyPatch, runtime: str) -> None:
    if runtime == "missing":
        monkeypatch.delattr(otel_context, "_RUNTIME_CONTEXT")
    else:

        class Other:  # what OTEL_PYTHON_CONTEXT could name
            _current_context = object()

        monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", Other())
    assert agent_steps._step_context() == (otel_context.attach, otel_context.detach)


async def _events() -> AsyncGenerator[StreamEvent, None]:
    if False:
        yield


def test_only_a_fresh_generator_in_axios_own_stream_is_driven_directly() -> None:
    fresh = _events()
    assert _fresh_generator(AgentStream(fresh), AgentStream) is fresh

    class Subclass(AgentStream):
        pass

    assert _fresh_generator(Subclass(_events()), AgentStream) is None
    renamed = AgentStream(_events())
    renamed.__dict__["_events"] = renamed.__dict__.pop("_generator")
    assert _fresh_generator(renamed, AgentStream) is None
    other = AgentStream(_events())
    other._generator = iter(())  # type: ignore[assignment]
    assert _fresh_generator(other, AgentStream) is None


async def test_a_started_generator_is_left_to_its_stream() -> None:
    stream = AgentStream(_events())
    with pytest.raises(StopAsyncIteration):
        await stream._generator.__anext__()
    assert _fresh_generator(stream, AgentStream) is None


async def _one_run(rig: Rig) -> tuple[object, list[int]]:
    agent = Agent(system="s", transport=rig.transport(), tools=[Tool(name="weather", handler=sunny)])
    seen = []
    stream = agent.run_stream("Weather in Lyon?", MemoryContextStore())
    async for _ in stream:
        seen.append(trace.get_current_span().get_span_context().span_id)
    return stream, seen


async def test_the_direct_path_keeps_axios_stream_and_makes_the_whole_tree(rig: Rig) -> None:
    stream, seen = await _one_run(rig)
    assert type(stream) is agent_steps.TracedStream and inspect.isasyncgen(stream._generator)
    assert set(seen) == {0}
    (run,) = tree(await rig.spans())
    assert shape(run) == RUN_SHAPE


@pytest.mark.parametrize("fallback", ["stream", "context"])
async def test_the_fallbacks_make_the_same_tree(rig: Rig, monkeypatch: pytest.MonkeyPatch, fallback: str) -> None:
    instrumentor = AxioInstrumentor()
    if fallback == "context":
        monkeypatch.setattr(agent_steps, "attach", otel_context.attach)
        monkeypatch.setattr(agent_steps, "detach", otel_context.detach)
        stream, seen = await _one_run(rig)
    else:
        instrumentor.uninstrument()
        original = Agent.__dict__["run_stream"]  # axio's own

        class Elsewhere(AgentStream):  # a stream type the instrumentor does not know the inside of
            pass

        made: list[Elsewhere] = []

        def run_stream(self: Agent, message: str, context: Any) -> AgentStream:
            made.append(Elsewhere(original(self, message, context)._generator))
            return made[-1]

        try:
            monkeypatch.setattr(Agent, "run_stream", run_stream)
            instrumentor.instrument(tracer_provider=rig.provider, registry=rig.registry)
            stream, seen = await _one_run(rig)
        finally:
            instrumentor.uninstrument()
            monkeypatch.setattr(Agent, "run_stream", original)
            instrumentor.instrument(tracer_provider=rig.provider, registry=rig.registry)
        (inside,) = made
        assert type(stream) is agent_steps.TracedStream and stream.__dict__["_generator"] is inside and inside._closed
    assert set(seen) == {0}
    roots = tree(await rig.spans())
    assert [shape(run) for run in roots] == [RUN_SHAPE]
    assert rig.sample("axio_anthropic_agent_runs_total", outcome="ok") == 1


class _OneWord:
    """An axio transport whose turn says one word."""

    def stream(self, messages: list[Any], tools: list[Any], system: str) -> AsyncGenerator[StreamEvent, None]:
        return self._events()

    async def _events(self) -> AsyncGenerator[StreamEvent, None]:
        yield IterationStart(iteration=1, id="r1", model="one-1")
        yield TextDelta(index=0, delta="hello")
        yield IterationEnd(iteration=1, stop_reason=StopReason.end_turn, usage=Usage(10, 1))


def test_a_run_that_outlives_its_loop_ends_once_when_collected() -> None:
    """Held by the host past ``asyncio.run()``: the loop closes axio's generator on its way out, and
    the run, no longer able to close on its loop, ends where the stream is collected."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = AxioInstrumentor()
    instrumentor.instrument(tracer_provider=provider, metrics=False)
    try:

        async def first_event() -> AgentStream:
            stream = Agent(system="s", transport=_OneWord()).run_stream("hi", MemoryContextStore())
            assert isinstance(await stream.__anext__(), IterationStart)
            return stream

        stream = asyncio.run(first_event())
        assert [span.name for span in exporter.get_finished_spans()] == []
        del stream
        gc.collect()
    finally:
        instrumentor.uninstrument()
    (run,) = exporter.get_finished_spans()
    assert run.name == "invoke_agent" and run.status.description == "cancelled"
    assert run.attributes is not None and run.attributes["error.type"] == "cancelled"


async def test_a_second_step_while_one_runs_is_refused_and_the_run_goes_on() -> None:
    """As an async generator refuses ``anext()`` or ``aclose()`` while it runs: the caller that
    misused the stream gets a RuntimeError, and the run it shares is neither ended nor closed."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gate = asyncio.Event()

    class Held(_OneWord):
        async def _events(self) -> AsyncGenerator[StreamEvent, None]:
            await gate.wait()
            async for event in super()._events():
                yield event

    instrumentor = AxioInstrumentor()
    instrumentor.instrument(tracer_provider=provider, metrics=False)
    try:
        stream = Agent(system="s", transport=Held()).run_stream("hi", MemoryContextStore())
        first = asyncio.create_task(stream.__anext__())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already being iterated"):
            await stream.__anext__()
        with pytest.raises(RuntimeError, match="being iterated"):
            await stream.aclose()
        gate.set()
        assert isinstance(await first, IterationStart)
        rest = [event async for event in stream]
    finally:
        instrumentor.uninstrument()
    assert type(rest[-1]).__name__ == "SessionEndEvent"
    (run,) = exporter.get_finished_spans()
    assert run.name == "invoke_agent" and run.status.is_unset
    assert run.attributes is not None and run.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
