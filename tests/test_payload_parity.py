"""Drop-in payload parity with the published 0.12.2: what its own tests (axio-agent's
``tests/test_transport.py``, ``TestKVCache``; ``tests/test_anthropic.py``) expect of
``build_payload``, checked against this transport. The caller's system prompt carries the cache
breakpoint; system messages from the history follow it, unmarked."""

from __future__ import annotations

from typing import Any

import pytest
from axio.blocks import TextBlock
from axio.messages import Message
from axio.tool import Tool

from axio_transport_anthropic import ANTHROPIC_MODELS, AnthropicTransport

from .support import clear_environment, user

EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture
def transport(monkeypatch: pytest.MonkeyPatch) -> AnthropicTransport:
    clear_environment(monkeypatch)
    return AnthropicTransport(api_key="sk-test", model=ANTHROPIC_MODELS["claude-sonnet-4-6"])


def system_message(text: str) -> Message:
    return Message(role="system", content=[TextBlock(text=text)])


async def weather(location: str) -> str:
    """Weather somewhere."""
    return location


def tool(name: str) -> Tool[Any]:
    return Tool(name=name, description=name.upper(), handler=weather)


def test_the_system_prompt_is_a_block_with_cache_control(transport: AnthropicTransport) -> None:
    payload = transport.build_payload([], [], "You are helpful.")
    assert payload["system"] == [{"type": "text", "text": "You are helpful.", "cache_control": EPHEMERAL}]


def test_no_system_key_when_there_is_no_system(transport: AnthropicTransport) -> None:
    assert "system" not in transport.build_payload([], [], "")


def test_a_system_message_alone_carries_no_cache_control(transport: AnthropicTransport) -> None:
    payload = transport.build_payload([system_message("wrap up now")], [], "")
    assert payload["system"] == [{"type": "text", "text": "wrap up now"}]


def test_a_history_system_message_follows_the_prompt_unmarked(transport: AnthropicTransport) -> None:
    payload = transport.build_payload([system_message("wrap up now")], [], "You are helpful.")
    assert payload["system"] == [
        {"type": "text", "text": "You are helpful.", "cache_control": EPHEMERAL},
        {"type": "text", "text": "wrap up now"},
    ]
    assert all(turn["role"] != "system" for turn in payload["messages"])


def test_the_prompt_keeps_its_mark_among_conversation_and_tools(transport: AnthropicTransport) -> None:
    messages = [*user("hi"), system_message("late rule"), *user("and?")]
    payload = transport.build_payload(messages, [tool("a"), tool("b")], "You are helpful.")
    assert payload["system"][0]["cache_control"] == EPHEMERAL
    assert "cache_control" not in payload["system"][1]
    assert "cache_control" not in payload["tools"][0]
    assert payload["tools"][1]["cache_control"] == EPHEMERAL


def test_the_direct_body_names_the_model_and_no_vertex_version(transport: AnthropicTransport) -> None:
    body = transport.build_payload(user("Hi"), [], "system prompt")
    assert body["model"] == "claude-sonnet-4-6"
    assert "anthropic_version" not in body
