"""One trace per agent run, as a collector receives it (OTLP/HTTP protobuf from a real SDK exporter).

Each test asserts the whole tree of a run: ``invoke_agent`` over its ``chat`` spans (each over its
``POST`` attempts) and its ``execute_tool`` spans, under whatever the host had current, and the
host's own context untouched between the steps it drives.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from axio import Agent
from axio.context import MemoryContextStore
from axio.events import SessionEndEvent, StreamEvent, TextDelta, ToolResult
from axio.tool import Tool
from opentelemetry import trace
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from axio_transport_anthropic.models import ANTHROPIC_MODELS, DEFAULT_MODEL, cost_usd
from axio_transport_anthropic.telemetry import CAPTURE_ENV, call_labels
from axio_transport_anthropic.telemetry.agent_run import AgentRun

from .agent_rig import CHAT, Node, Rig, attrs, rig, shape, status, tree

__all__ = ["rig"]

ERROR = Status.STATUS_CODE_ERROR
UNSET = Status.STATUS_CODE_UNSET
CHAT_SHAPE: tuple[str, list[Any]] = (CHAT, [("POST", [])])
USAGE = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
)


@contextmanager
def watching_host(rig: Rig, name: str = "host") -> Iterator[tuple[trace.Span, set[int]]]:
    """A host span, current while the host drives the run; what was current in each loop body."""
    seen: set[int] = set()
    with rig.provider.get_tracer("host").start_as_current_span(name) as host:
        yield host, seen
        assert trace.get_current_span() is host


def agent_with(rig: Rig, handler: object, name: str = "weather", **transport: object) -> Agent:
    return Agent(
        system="You answer weather questions.",
        transport=rig.transport(**transport),
        tools=[Tool(name=name, handler=handler)],  # type: ignore[arg-type]
    )


def only_root(spans: list[Span], name: str = "host") -> Node:
    (root,) = tree(spans)
    assert root.name == name
    (agent,) = root.children
    return agent


async def test_a_two_turn_run_with_a_tool_is_one_trace(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    tracer = rig.provider.get_tracer("tool")

    async def weather(city: str) -> str:
        """Current weather for a city."""
        with tracer.start_as_current_span("weather.lookup"):
            await asyncio.sleep(0.01)
        return f"{city}: sunny, 21C"

    agent = agent_with(rig, weather)
    store = MemoryContextStore()
    events: list[StreamEvent] = []
    with watching_host(rig) as (host, seen):
        async for event in agent.run_stream("Weather in Lyon?", store):
            seen.add(trace.get_current_span().get_span_context().span_id)
            events.append(event)
    assert seen == {host.get_span_context().span_id}  # nothing of the run's was ever current here

    run = only_root(await rig.spans())
    assert shape(run) == (
        "invoke_agent",
        [CHAT_SHAPE, ("execute_tool weather", [("weather.lookup", [])]), CHAT_SHAPE],
    )
    first, tool, second = run.children
    assert first.span.end_time_unix_nano <= tool.span.start_time_unix_nano
    assert tool.span.end_time_unix_nano <= second.span.start_time_unix_nano
    assert run.span.kind == Span.SPAN_KIND_INTERNAL and tool.span.kind == Span.SPAN_KIND_INTERNAL

    (result,) = [event for event in events if isinstance(event, ToolResult)]
    assert attrs(tool.span) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "weather",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": result.tool_use_id,
    }
    assert status(tool.span) == (UNSET, "")

    end = events[-1]
    assert isinstance(end, SessionEndEvent)
    got = attrs(run.span)
    chats = [attrs(first.span), attrs(second.span)]
    assert {key: got.pop(key) for key in USAGE} == {key: sum(chat[key] for chat in chats) for key in USAGE}
    usage = end.total_usage
    model = ANTHROPIC_MODELS[DEFAULT_MODEL]
    cost = cost_usd(
        model,
        uncached_input=usage.uncached_input_tokens,
        output=usage.output_tokens,
        cache_read=usage.cache_read_tokens,
        cache_write_5m=usage.cache_write_tokens,
    )
    assert got.pop("axio.agent.cost_usd") == pytest.approx(cost) and cost > 0
    assert got == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": DEFAULT_MODEL,
        "gen_ai.conversation.id": store.session_id,
        "gen_ai.response.model": DEFAULT_MODEL,
        "gen_ai.response.finish_reasons": ["end_turn"],
        "axio.agent.turns": 2,
        "axio.agent.tool_calls": 1,
    }
    assert status(run.span) == (UNSET, "")
    assert rig.sample("axio_anthropic_agent_runs_total", outcome="ok") == 1
    assert rig.sample("axio_anthropic_agent_turns_sum") == 2
    assert rig.sample("axio_anthropic_agent_tool_calls_total", tool="weather", outcome="ok") == 1
    assert rig.sample("axio_anthropic_agent_tool_duration_seconds_count", tool="weather") == 1


async def test_a_failing_tool_is_an_error_span_and_the_run_goes_on(rig: Rig) -> None:
    async def weather(city: str) -> str:
        """Current weather for a city."""
        raise LookupError(f"no station in {city}")

    with watching_host(rig):
        answer = await agent_with(rig, weather).run("Weather in Atlantis?", MemoryContextStore())
    assert answer

    run = only_root(await rig.spans())
    assert shape(run) == ("invoke_agent", [CHAT_SHAPE, ("execute_tool weather", []), CHAT_SHAPE])
    tool = run.children[1]
    assert status(tool.span) == (ERROR, "no station in example")
    assert attrs(tool.span)["error.type"] == "LookupError"
    assert status(run.span) == (UNSET, "")  # the model was told, and answered: the run did not fail
    assert rig.sample("axio_anthropic_agent_tool_calls_total", tool="weather", outcome="error") == 1
    assert rig.sample("axio_anthropic_agent_runs_total", outcome="ok") == 1


async def test_a_cancelled_run_ends_every_span_once_as_cancelled(rig: Rig) -> None:
    started = asyncio.Event()

    async def weather(city: str) -> str:
        """Current weather for a city."""
        started.set()
        await asyncio.Event().wait()  # until cancelled
        return "never"

    agent = agent_with(rig, weather)
    with watching_host(rig):
        task = asyncio.create_task(agent.run("Weather in Lyon?", MemoryContextStore()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run = only_root(await rig.spans())
    assert shape(run) == ("invoke_agent", [CHAT_SHAPE, ("execute_tool weather", [])])
    first, tool = run.children
    assert status(first.span) == (UNSET, "")
    for span in (tool.span, run.span):
        assert status(span) == (ERROR, "cancelled") and attrs(span)["error.type"] == "cancelled"
    assert rig.sample("axio_anthropic_agent_runs_total", outcome="cancelled") == 1
    assert rig.sample("axio_anthropic_agent_runs_total", outcome="ok") == 0
    assert rig.sample("axio_anthropic_agent_tool_calls_total", tool="weather", outcome="cancelled") == 1
    assert rig.sample("axio_anthropic_agent_run_duration_seconds_count") == 0  # a cancelled run has no duration


async def test_a_run_left_with_break_ends_its_span_once_and_keeps_nothing(rig: Rig) -> None:
    async def weather(city: str) -> str:
        """Current weather for a city."""
        return "sunny"

    agent = agent_with(rig, weather)
    with watching_host(rig) as (host, seen):
        stream = agent.run_stream("Weather in Lyon?", MemoryContextStore())
        async for event in stream:
            seen.add(trace.get_current_span().get_span_context().span_id)
            if isinstance(event, TextDelta):
                break
        assert trace.get_current_span() is host
        del stream, event
        for _ in range(20):  # the loop's finalizer closes the abandoned run a few turns later
            gc.collect()
            await asyncio.sleep(0.01)
    assert seen == {host.get_span_context().span_id}

    run = only_root(await rig.spans())
    assert shape(run) == ("invoke_agent", [CHAT_SHAPE])
    (chat,) = run.children
    for span in (chat.span, run.span):
        assert status(span) == (ERROR, "cancelled")
    assert attrs(run.span)["error.type"] == "cancelled"
    assert rig.sample("axio_anthropic_agent_runs_total", outcome="cancelled") == 1
    assert not [thing for thing in gc.get_objects() if isinstance(thing, AgentRun)]


async def test_ten_concurrent_runs_are_ten_trees_with_nothing_crossed(rig: Rig) -> None:
    tracer = rig.provider.get_tracer("tool")

    async def weather(city: str) -> str:
        """Current weather for a city."""
        await asyncio.sleep(0.01)  # the runs' tools interleave
        with call_labels() as labels, tracer.start_as_current_span("weather.lookup") as span:
            span.set_attribute("run", labels["agent"])
        return "sunny"

    transport = rig.transport(labels=("agent",))
    tracer_host = rig.provider.get_tracer("host")

    async def one(i: int) -> None:
        agent = Agent(system="s", transport=transport, tools=[Tool(name="weather", handler=weather)])
        with call_labels(agent=f"run-{i}"), tracer_host.start_as_current_span(f"host-{i}"):
            await agent.run(f"Weather {i}?", MemoryContextStore())

    await asyncio.gather(*(one(i) for i in range(10)))

    roots = tree(await rig.spans())
    assert sorted(root.name for root in roots) == sorted(f"host-{i}" for i in range(10))
    assert len({root.span.trace_id for root in roots}) == 10
    for root in roots:
        name = root.name.replace("host-", "run-")
        (run,) = root.children
        assert shape(run) == (
            f"invoke_agent {name}",
            [CHAT_SHAPE, ("execute_tool weather", [("weather.lookup", [])]), CHAT_SHAPE],
        )
        assert attrs(run.span)["gen_ai.agent.name"] == name
        first, tool, second = run.children
        # Each chat span and tool belongs to this run: the call label travelled with it.
        assert attrs(first.span)["axio.label.agent"] == attrs(second.span)["axio.label.agent"] == name
        assert attrs(tool.children[0].span)["run"] == name
    assert rig.sample("axio_anthropic_agent_runs_total", outcome="ok") == 10
