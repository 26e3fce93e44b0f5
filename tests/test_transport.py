"""The transport against the simulator over a real loopback socket: the happy paths."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from axio.blocks import TextBlock, ToolResultBlock, ToolUseBlock
from axio.events import (
    BlockEnd,
    IterationEnd,
    IterationStart,
    ReasoningDelta,
    ReasoningSignature,
    TextDelta,
    ToolInputDelta,
    ToolUseStart,
)
from axio.messages import Message
from axio.testing import assert_stream_contract
from axio.tool import Tool
from axio.types import StopReason

from axio_transport_anthropic import ANTHROPIC_API_VERSION, AnthropicTransport, ConfigurationError
from axio_transport_anthropic.simulator import Reply, Simulator

from .conftest import SECRET
from .support import collect, user


async def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: 21C"


async def test_text_stream_follows_the_axio_contract(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.enqueue(Reply.text("Hello from the simulator — café 🙂"))
    events = await collect(transport)
    assert_stream_contract(events)
    start = events[0]
    assert isinstance(start, IterationStart)
    assert start.id and start.id.startswith("msg_")
    assert start.model == "claude-sonnet-4-6"
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == "Hello from the simulator — café 🙂"
    assert any(isinstance(e, BlockEnd) for e in events)
    end = events[-1]
    assert isinstance(end, IterationEnd)
    assert end.stop_reason is StopReason.end_turn
    assert end.usage.output_tokens > 0
    assert transport.last_usage == end.usage


async def test_request_carries_auth_version_and_body(sim: Simulator, transport: AnthropicTransport) -> None:
    await collect(transport, system="be brief")
    [recorded] = sim.requests
    assert recorded.path == "/v1/messages"
    assert recorded.headers["x-api-key"] == SECRET
    assert recorded.headers["anthropic-version"] == ANTHROPIC_API_VERSION
    assert recorded.body is not None
    assert recorded.body["model"] == "claude-sonnet-4-6"
    assert recorded.body["stream"] is True
    assert recorded.body["system"][0]["text"] == "be brief"


async def test_tool_use_streams_arguments_that_reassemble(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.enqueue(Reply.tool_use("lookup", {"city": "Paris", "units": ["C", "F"]}))
    events = await collect(transport, tools=[Tool(name="lookup", handler=lookup)])
    assert_stream_contract(events)
    [start] = [e for e in events if isinstance(e, ToolUseStart)]
    assert start.name == "lookup"
    parts = [e for e in events if isinstance(e, ToolInputDelta)]
    assert parts and all(p.tool_use_id == start.tool_use_id for p in parts)
    assert json.loads("".join(p.partial_json for p in parts)) == {"city": "Paris", "units": ["C", "F"]}
    end = events[-1]
    assert isinstance(end, IterationEnd) and end.stop_reason is StopReason.tool_use


async def test_thinking_arrives_with_its_signature(sim: Simulator, transport: AnthropicTransport) -> None:
    transport.thinking_budget = 2048
    sim.enqueue(Reply.thinking("Let me think.", "Answer."))
    events = await collect(transport)
    assert "".join(e.delta for e in events if isinstance(e, ReasoningDelta)) == "Let me think."
    signatures = [e for e in events if isinstance(e, ReasoningSignature)]
    assert signatures and signatures[0].signature and signatures[0].provider == "anthropic"
    body = sim.requests[0].body
    assert body is not None and body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_prompt_cache_is_read_on_the_next_turn(sim: Simulator, transport: AnthropicTransport) -> None:
    system = "You are a helpful assistant. " * 40
    tools: list[Tool[Any]] = [Tool(name="lookup", handler=lookup)]
    history = user("What is the weather in Paris? " * 20)
    first = await collect(transport, history, tools=tools, system=system)
    end1 = first[-1]
    assert isinstance(end1, IterationEnd)
    assert end1.usage.cache_write_tokens > 0 and end1.usage.cache_read_tokens == 0
    history = [
        *history,
        Message(role="assistant", content=[ToolUseBlock(id="toolu_1", name="lookup", input={"city": "Paris"})]),
        Message(role="user", content=[ToolResultBlock(tool_use_id="toolu_1", content="Paris: 21C")]),
    ]
    second = await collect(transport, history, tools=tools, system=system)
    end2 = second[-1]
    assert isinstance(end2, IterationEnd)
    assert end2.usage.cache_read_tokens >= end1.usage.cache_write_tokens
    assert end2.usage.input_tokens >= end2.usage.cache_read_tokens + end2.usage.cache_write_tokens


async def test_randomly_chunked_stream_decodes_the_same() -> None:
    text = "Split UTF-8: 中文, é, 🙂 — across reads"
    async with Simulator(chunking="random", seed=7) as sim, aiohttp.ClientSession() as session:
        transport = AnthropicTransport(api_key="k", base_url=sim.base_url, session=session)
        for _ in range(5):
            sim.enqueue(Reply.text(text))
            events = await collect(transport)
            assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == text


async def test_without_a_session_the_transport_opens_and_closes_its_own(sim: Simulator) -> None:
    transport = AnthropicTransport(api_key=SECRET, base_url=sim.base_url)
    events = await collect(transport)
    assert isinstance(events[-1], IterationEnd)
    assert transport.session is None

    async with AnthropicTransport(api_key=SECRET, base_url=sim.base_url) as pooled:
        await collect(pooled)
        await collect(pooled)
        owned = pooled._owned
        assert owned is not None and not owned.closed
    assert owned.closed


async def test_a_missing_key_for_the_real_api_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        AnthropicTransport(api_key="", base_url="https://api.anthropic.com/v1")
    # A restore is built anyway (it never fails); its first call fails, before any network.
    restored = AnthropicTransport.from_dict({"base_url": "https://api.anthropic.com/v1"})
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        await collect(restored)


async def test_bad_messages_fail_before_any_network(sim: Simulator, transport: AnthropicTransport) -> None:
    transport.thinking_budget = 2048
    transport.temperature = 0.2
    with pytest.raises(ConfigurationError, match="temperature"):
        await collect(transport)
    assert sim.requests == []


async def test_environment_fills_key_and_url(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
    transport = AnthropicTransport()
    assert transport.base_url == sim.base_url
    events = await collect(transport, [Message(role="user", content=[TextBlock(text="env")])])
    assert isinstance(events[-1], IterationEnd)
    assert sim.requests[0].headers["x-api-key"] == SECRET


async def test_a_stream_closed_early_still_reports_its_usage(sim: Simulator, transport: AnthropicTransport) -> None:
    # The axio agent reads last_usage when it cuts a turn short (repetition): it must be billed.
    sim.enqueue(Reply.text("one two three four five six seven eight nine ten"))
    stream = transport.stream(user("hi " * 50), [], "")
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert transport.last_usage is not None
    assert transport.last_usage.input_tokens > 0
