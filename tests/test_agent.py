"""A real axio Agent running a tool loop through the transport and the simulator."""

from __future__ import annotations

import io

import pytest
from axio import Agent
from axio.blocks import ReasoningBlock, ToolResultBlock, ToolUseBlock
from axio.context import MemoryContextStore
from axio.events import SessionEndEvent, ToolResult
from axio.tool import Tool
from axio.types import StopReason

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.demo import run_demo
from axio_transport_anthropic.simulator import Fault, Simulator

calls: list[str] = []


async def weather(city: str) -> str:
    """Current weather for a city."""
    calls.append(city)
    return f"{city}: sunny, 21C"


async def test_agent_tool_loop_end_to_end(sim: Simulator, transport: AnthropicTransport) -> None:
    calls.clear()
    agent = Agent(
        system="You answer weather questions.", transport=transport, tools=[Tool(name="weather", handler=weather)]
    )
    context = MemoryContextStore()
    events = [e async for e in agent.run_stream("Weather in Lyon?", context)]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert len(results) == 1 and not results[0].is_error
    assert calls and results[0].content == f"{calls[0]}: sunny, 21C"
    end = events[-1]
    assert isinstance(end, SessionEndEvent) and end.stop_reason is StopReason.end_turn
    assert len(sim.requests) == 2
    second = sim.requests[1].body
    assert second is not None
    kinds = [block["type"] for turn in second["messages"] for block in turn["content"]]
    assert "tool_use" in kinds and "tool_result" in kinds
    # The second turn reads the prefix the first one wrote to the prompt cache.
    assert end.total_usage.cache_read_tokens > 0
    history = await context.get_history()
    assert any(isinstance(b, ToolUseBlock) for m in history for b in m.content)
    assert any(isinstance(b, ToolResultBlock) for m in history for b in m.content)


async def test_agent_replays_signed_thinking_on_the_next_turn(sim: Simulator, transport: AnthropicTransport) -> None:
    transport.thinking_budget = 1024
    # Unscripted, the simulator thinks first when asked to, then calls the first tool.
    agent = Agent(system="s", transport=transport, tools=[Tool(name="weather", handler=weather)])
    context = MemoryContextStore()
    await agent.run("Weather in Nice?", context)
    history = await context.get_history()
    reasoning = [b for m in history for b in m.content if isinstance(b, ReasoningBlock)]
    assert reasoning and reasoning[0].signature
    second = sim.requests[1].body
    assert second is not None
    assistant = next(t for t in second["messages"] if t["role"] == "assistant")
    assert assistant["content"][0]["type"] == "thinking"
    assert assistant["content"][0]["signature"] == reasoning[0].signature


async def test_agent_survives_faults_before_output(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.overloaded(), Fault.rate_limited(retry_after=0.01))
    agent = Agent(system="s", transport=transport, tools=[Tool(name="weather", handler=weather)])
    answer = await agent.run("Weather in Oslo?", MemoryContextStore())
    assert answer


async def test_demo_runs_against_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    out = io.StringIO()
    code = await run_demo(out=out)
    text = out.getvalue()
    assert code == 0, text
    assert "built-in simulator" in text and "[calling " in text and "[done: end_turn" in text
