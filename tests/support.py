"""Helpers shared by the tests."""

from __future__ import annotations

from typing import Any

from axio.blocks import TextBlock
from axio.events import StreamEvent
from axio.messages import Message

from axio_transport_anthropic import AnthropicTransport


def user(text: str) -> list[Message]:
    return [Message(role="user", content=[TextBlock(text=text)])]


async def collect(transport: AnthropicTransport, messages: list[Message] | None = None, **kw: Any) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    async for event in transport.stream(messages or user("hi"), kw.get("tools", []), kw.get("system", "")):
        events.append(event)
    return events
