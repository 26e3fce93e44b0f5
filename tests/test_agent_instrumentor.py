"""``AxioInstrumentor`` beyond the basic tree: on and off, other transports, streaming and
concurrent tools, content capture, failed and never-started runs, no tracer provider."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from axio import Agent
from axio.context import MemoryContextStore
from axio.events import IterationEnd, IterationStart, StreamEvent, TextDelta, ToolResult
from axio.exceptions import StreamError
from axio.messages import Message
from axio.models import ModelSpec
from axio.tool import Tool
from axio.types import StopReason, Usage
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NoOpTracerProvider
from prometheus_client import CollectorRegistry

from axio_transport_anthropic.simulator import Fault, Reply, ToolUseBlock
from axio_transport_anthropic.telemetry import AxioInstrumentor, agent_steps, tool_spans
from axio_transport_anthropic.telemetry.agent_run import AgentRun

from .agent_rig import CHAT, Rig, attrs, rig, shape, status, tree

__all__ = ["rig"]

CHAT_SHAPE: tuple[str, list[Any]] = (CHAT, [("POST", [])])


async def sunny(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: sunny"


def test_instrument_and_uninstrument_are_idempotent_and_put_axio_back(caplog: pytest.LogCaptureFixture) -> None:
    originals = {name: Agent.__dict__[name] for name in ("run_stream", "_call_one", "_dispatch_tools_streaming")}
    call, streaming = Tool.__dict__["__call__"], Tool.__dict__["call_streaming"]
    instrumentor = AxioInstrumentor()
    assert AxioInstrumentor() is instrumentor and not instrumentor.is_instrumented_by_opentelemetry
    instrumentor.instrument(registry=CollectorRegistry(), skip_dep_check=True)
    try:
        wrapped = Agent.__dict__["run_stream"]
        assert wrapped is not originals["run_stream"] and wrapped.__wrapped__ is originals["run_stream"]
        instrumentor.instrument(registry=CollectorRegistry())
        assert Agent.__dict__["run_stream"] is wrapped  # the second call changed nothing
        assert "already instrumented" in caplog.text
    finally:
        instrumentor.uninstrument()
    assert {name: Agent.__dict__[name] for name in originals} == originals
    assert (Tool.__dict__["__call__"], Tool.__dict__["call_streaming"]) == (call, streaming)
    instrumentor.uninstrument()
    assert "already uninstrumented" in caplog.text
    with pytest.raises(TypeError):
        instrumentor.instrument(no_such_option=True)
    assert Agent.__dict__["run_stream"] is originals["run_stream"] and not instrumentor.is_instrumented_by_opentelemetry


def test_an_instrument_that_fails_half_way_leaves_axio_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Agent.__dict__["run_stream"]

    def broken(*args: object) -> None:
        raise RuntimeError("the last wrapper could not be made")

    monkeypatch.setattr(tool_spans, "wrap_call_streaming", broken)
    with pytest.raises(RuntimeError):
        AxioInstrumentor().instrument(registry=CollectorRegistry())
    assert Agent.__dict__["run_stream"] is original and not AxioInstrumentor().is_instrumented_by_opentelemetry


async def test_after_uninstrument_runs_make_no_agent_spans(rig: Rig) -> None:
    AxioInstrumentor().uninstrument()
    try:
        agent = Agent(system="s", transport=rig.transport(), tools=[Tool(name="weather", handler=sunny)])
        await agent.run("Weather?", MemoryContextStore())
        assert sorted(root.name for root in tree(await rig.spans())) == [CHAT, CHAT]
    finally:
        AxioInstrumentor().instrument(tracer_provider=rig.provider, registry=rig.registry)


class _Fake:
    """Another axio transport: one text turn; its request span made at ``stream()`` (eager) or when
    first iterated, and then current across its own yields (lazy, as some SDK wrappers do)."""

    model = ModelSpec("fake-1", input_cost=1.0, output_cost=2.0)

    def __init__(self, provider: TracerProvider, lazy: bool) -> None:
        self.tracer = provider.get_tracer("fake")
        self.lazy = lazy

    def stream(self, messages: list[Message], tools: list[Tool[Any]], system: str) -> AsyncIterator[StreamEvent]:
        return self._lazy() if self.lazy else self._eager(self.tracer.start_span("fake.request"))

    async def _events(self) -> AsyncIterator[StreamEvent]:
        yield IterationStart(iteration=1, id="r1", model="fake-1")
        yield TextDelta(index=0, delta="hello")
        yield IterationEnd(iteration=1, stop_reason=StopReason.end_turn, usage=Usage(1000, 10))

    async def _eager(self, span: trace.Span) -> AsyncIterator[StreamEvent]:
        try:
            async for event in self._events():
                yield event
        finally:
            span.end()

    async def _lazy(self) -> AsyncIterator[StreamEvent]:
        with self.tracer.start_as_current_span("fake.request"):
            async for event in self._events():
                yield event


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
async def test_any_transport_gets_the_agent_span_as_its_parent(rig: Rig, lazy: bool) -> None:
    agent = Agent(system="s", transport=_Fake(rig.provider, lazy))
    with rig.provider.get_tracer("host").start_as_current_span("host") as host:
        seen = set()
        async for _ in agent.run_stream("hi", MemoryContextStore()):
            seen.add(trace.get_current_span().get_span_context().span_id)
    assert seen == {host.get_span_context().span_id}
    (root,) = tree(await rig.spans())
    assert shape(root) == ("host", [("invoke_agent", [("fake.request", [])])])
    got = attrs(root.children[0].span)
    assert got["gen_ai.provider.name"] == "_OTHER" and got["gen_ai.request.model"] == "fake-1"
    assert got["gen_ai.usage.input_tokens"] == 1000 and got["axio.agent.cost_usd"] == pytest.approx(0.00102)


async def test_tool_calls_made_at_once_overlap_under_the_agent(rig: Rig) -> None:
    async def first(x: int) -> str:
        """One."""
        await asyncio.sleep(0.05)
        return "1"

    async def second(y: int) -> str:
        """Two."""
        await asyncio.sleep(0.05)
        return "2"

    rig.sim.enqueue(Reply((ToolUseBlock("first", {"x": 1}), ToolUseBlock("second", {"y": 2})), "tool_use"))
    tools: list[Tool[Any]] = [Tool(name="first", handler=first), Tool(name="second", handler=second)]
    await Agent(system="s", transport=rig.transport(), tools=tools).run("Both?", MemoryContextStore())
    (run,) = tree(await rig.spans())
    tool_shapes: list[Any] = [("execute_tool first", []), ("execute_tool second", [])]
    assert shape(run) == ("invoke_agent", [CHAT_SHAPE, *tool_shapes, CHAT_SHAPE])
    a, b = run.children[1].span, run.children[2].span
    # Each lasts its tool's sleep, and they overlap: they ran at once, and the spans say so.
    assert min(span.end_time_unix_nano - span.start_time_unix_nano for span in (a, b)) >= 50_000_000
    assert a.start_time_unix_nano < b.end_time_unix_nano and b.start_time_unix_nano < a.end_time_unix_nano
    assert attrs(a)["gen_ai.tool.call.id"] != attrs(b)["gen_ai.tool.call.id"]


async def test_a_streaming_tool_has_its_span_and_call_id(rig: Rig) -> None:
    async def shell(command: str) -> str:
        """Run a command."""
        raise AssertionError("the agent streams it")

    async def lines(command: str) -> AsyncIterator[tuple[str, str]]:
        for line in ("one\n", "two\n"):
            await asyncio.sleep(0)
            with trace.get_tracer("t", tracer_provider=rig.provider).start_as_current_span("shell.line"):
                yield "stdout", line

    shell.stream = lines  # type: ignore[attr-defined]
    agent = Agent(system="s", transport=rig.transport(), tools=[Tool(name="shell", handler=shell)])
    events = [event async for event in agent.run_stream("ls?", MemoryContextStore())]
    (call_id,) = [event.tool_use_id for event in events if isinstance(event, ToolResult)]
    (run,) = tree(await rig.spans())
    tool = run.children[1]
    assert shape(tool) == ("execute_tool shell", [("shell.line", []), ("shell.line", [])])
    assert attrs(tool.span)["gen_ai.tool.call.id"] == call_id and status(tool.span)[1] == ""


async def test_content_is_captured_only_when_asked(rig: Rig) -> None:
    instrumentor = AxioInstrumentor()
    instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=rig.provider, registry=rig.registry, capture_content=True)
    agent = Agent(system="Be brief.", transport=rig.transport(), tools=[Tool(name="weather", handler=sunny)])
    answer = await agent.run("Weather in Lyon?", MemoryContextStore())
    (run,) = tree(await rig.spans())
    got, tool = attrs(run.span), attrs(run.children[1].span)
    message = {"role": "user", "parts": [{"type": "text", "content": "Weather in Lyon?"}]}
    assert json.loads(got["gen_ai.input.messages"]) == [message]
    assert got["gen_ai.system_instructions"] == '[{"type": "text", "content": "Be brief."}]'
    assert answer.endswith(got["gen_ai.output.messages"].split('"content": "')[1].split('"}]')[0])
    assert tool["gen_ai.tool.call.arguments"] == '{"city": "example"}'
    assert tool["gen_ai.tool.call.result"] == "example: sunny"


async def test_a_failed_run_is_an_error_span_with_the_transports_error_type(rig: Rig) -> None:
    rig.sim.inject(Fault.http_error(400, "invalid_request_error", "messages: bad"))
    agent = Agent(system="s", transport=rig.transport(), tools=[Tool(name="weather", handler=sunny)])
    with pytest.raises(StreamError):
        await agent.run("Weather?", MemoryContextStore())
    (run,) = tree(await rig.spans())
    assert shape(run) == ("invoke_agent", [CHAT_SHAPE])
    assert status(run.span)[0] == 2 and "messages: bad" in status(run.span)[1]
    assert attrs(run.span)["error.type"] == "invalid_request_error"
    assert [event.name for event in run.span.events] == ["exception"]
    assert rig.sample("axio_anthropic_agent_runs_total", outcome="error") == 1


async def test_a_run_never_iterated_starts_nothing_and_keeps_nothing(rig: Rig) -> None:
    agent = Agent(system="s", transport=rig.transport(), tools=[Tool(name="weather", handler=sunny)])
    stream = agent.run_stream("Weather?", MemoryContextStore())
    del stream
    await asyncio.sleep(0.01)
    assert await rig.spans() == [] and rig.sample("axio_anthropic_agent_runs_total", outcome="cancelled") == 0
    gc.collect()  # what earlier tests' tracebacks kept
    assert not [thing for thing in gc.get_objects() if isinstance(thing, AgentRun)]


async def test_without_a_tracer_provider_runs_are_counted_and_no_step_attaches_anything(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    attached: list[object] = []
    real = agent_steps.attach

    def counting(context: Any) -> Any:
        attached.append(context)
        return real(context)

    monkeypatch.setattr(agent_steps, "attach", counting)
    instrumentor = AxioInstrumentor()
    instrumentor.uninstrument()
    registry = CollectorRegistry()
    instrumentor.instrument(tracer_provider=NoOpTracerProvider(), registry=registry, agent_name=lambda _: "named")
    try:
        agent = Agent(system="s", transport=rig.transport(traces=False), tools=[Tool(name="weather", handler=sunny)])
        await agent.run("Weather?", MemoryContextStore())
    finally:
        instrumentor.uninstrument()
        instrumentor.instrument(tracer_provider=rig.provider, registry=rig.registry)
    assert await rig.spans() == []
    # A no-op span carries its parent's span context: attaching it would change nothing, and cost.
    assert attached == []
    assert registry.get_sample_value("axio_anthropic_agent_runs_total", {"outcome": "ok"}) == 1
    assert registry.get_sample_value("axio_anthropic_agent_tool_calls_total", {"tool": "weather", "outcome": "ok"}) == 1


def test_the_agent_span_names_the_cloud_its_transport_calls() -> None:
    """As the transport's own chat spans do: Claude on Vertex AI or Bedrock is not Anthropic's API."""
    from axio_transport_anthropic import AnthropicTransport
    from axio_transport_anthropic.bedrock_transport import BedrockTransport
    from axio_transport_anthropic.telemetry.agent_telemetry import AgentTelemetry
    from axio_transport_anthropic.transport import VertexAITransport

    cases = [
        (AnthropicTransport(api_key="sk-test"), "anthropic"),
        (AnthropicTransport(vertexai=True, project="proj", location="us-east5"), "gcp.vertex_ai"),
        (VertexAITransport(project="proj", location="us-east5"), "gcp.vertex_ai"),
        (BedrockTransport(aws_region="us-east-1"), "aws.bedrock"),
    ]
    for transport, provider in cases:
        run = AgentRun(AgentTelemetry(series=None), Agent(system="s", transport=transport), "hi", MemoryContextStore())
        assert run.base_attributes()["gen_ai.provider.name"] == provider, type(transport).__name__
        assert transport._backend is None  # told by the settings: no backend made, no credentials loaded


async def test_a_runs_duration_carries_its_trace_as_an_exemplar(rig: Rig) -> None:
    agent = Agent(system="s", transport=rig.transport(), tools=[Tool(name="weather", handler=sunny)])
    await agent.run("Weather?", MemoryContextStore())
    (run,) = tree(await rig.spans())
    found = [
        sample.exemplar
        for family in rig.registry.collect()
        if family.name == "axio_anthropic_agent_run_duration_seconds"
        for sample in family.samples
        if sample.exemplar is not None
    ]
    (exemplar,) = found
    assert exemplar.labels == {"trace_id": run.span.trace_id.hex(), "span_id": run.span.span_id.hex()}
