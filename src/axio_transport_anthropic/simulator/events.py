"""Render a reply as the Messages API does: a full message object or its SSE event sequence."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from .cache import CacheUsage
from .replies import Block, Reply, TextBlock, ThinkingBlock, ToolUseBlock
from .wire import IdSource, dumps

__all__ = ["MessageMeta", "SseEvent", "error_event", "message_json", "resolve_ids", "stream_events", "usage_json"]

_WORDS_PER_DELTA: Final = 2
_JSON_CHARS_PER_DELTA: Final = 12
_WORD: Final = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What a rendered message carries besides its content."""

    message_id: str
    model: str
    usage: CacheUsage
    output_tokens: int


@dataclass(frozen=True, slots=True)
class SseEvent:
    name: str
    data: Mapping[str, Any]

    @property
    def counts(self) -> bool:
        """Pings are keep-alives; fault positions (`after_events`) count every other event."""
        return self.name != "ping"

    def encode(self, line_ending: str = "\n") -> bytes:
        return f"event: {self.name}{line_ending}data: {dumps(self.data)}{line_ending}{line_ending}".encode()


def error_event(error_type: str, message: str) -> SseEvent:
    return SseEvent("error", {"type": "error", "error": {"type": error_type, "message": message}})


def resolve_ids(reply: Reply, ids: IdSource) -> Reply:
    """Fill in tool-use ids and thinking signatures the script left open."""
    blocks: list[Block] = []
    for block in reply.blocks:
        if isinstance(block, ToolUseBlock) and block.id is None:
            block = replace(block, id=ids.make("toolu_sim_"))
        elif isinstance(block, ThinkingBlock) and block.signature is None:
            block = replace(block, signature=_signature(block.thinking))
        blocks.append(block)
    return replace(reply, blocks=tuple(blocks))


def usage_json(usage: CacheUsage, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.ephemeral_5m_input_tokens,
            "ephemeral_1h_input_tokens": usage.ephemeral_1h_input_tokens,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_json(reply: Reply, meta: MessageMeta) -> dict[str, Any]:
    return {
        "id": meta.message_id,
        "type": "message",
        "role": "assistant",
        "model": meta.model,
        "content": [_complete_block(block) for block in reply.blocks],
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": usage_json(meta.usage, meta.output_tokens),
    }


def stream_events(reply: Reply, meta: MessageMeta) -> list[SseEvent]:
    start: dict[str, Any] = {
        "id": meta.message_id,
        "type": "message",
        "role": "assistant",
        "model": meta.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage_json(meta.usage, 1),
    }
    events = [SseEvent("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(reply.blocks):
        events.append(
            SseEvent(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": _opening_block(block)},
            )
        )
        if index == 0:
            events.append(SseEvent("ping", {"type": "ping"}))
        for delta in _deltas(block):
            events.append(
                SseEvent("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
        events.append(SseEvent("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not reply.blocks:
        events.append(SseEvent("ping", {"type": "ping"}))
    events.append(
        SseEvent(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": usage_json(meta.usage, meta.output_tokens),
            },
        )
    )
    events.append(SseEvent("message_stop", {"type": "message_stop"}))
    return events


def _signature(thinking: str) -> str:
    digest = hashlib.sha512(thinking.encode()).digest()
    return base64.b64encode(b"\x12\x08sim" + digest + digest[::-1]).decode()


def _complete_block(block: Block) -> dict[str, Any]:
    match block:
        case TextBlock(text=text):
            return {"type": "text", "text": text}
        case ThinkingBlock(thinking=thinking, signature=signature):
            return {"type": "thinking", "thinking": thinking, "signature": signature or ""}
        case ToolUseBlock(name=name, input=arguments, id=tool_id):
            return {"type": "tool_use", "id": tool_id, "name": name, "input": dict(arguments)}


def _opening_block(block: Block) -> dict[str, Any]:
    match block:
        case TextBlock():
            return {"type": "text", "text": ""}
        case ThinkingBlock():
            return {"type": "thinking", "thinking": "", "signature": ""}
        case ToolUseBlock(name=name, id=tool_id):
            return {"type": "tool_use", "id": tool_id, "name": name, "input": {}}


def _deltas(block: Block) -> list[dict[str, Any]]:
    match block:
        case TextBlock(text=text):
            return [{"type": "text_delta", "text": piece} for piece in _word_pieces(text)]
        case ThinkingBlock(thinking=thinking, signature=signature):
            # The API closes thinking with an empty thinking_delta, then the signature.
            pieces = [{"type": "thinking_delta", "thinking": piece} for piece in _word_pieces(thinking)]
            return [
                *pieces,
                {"type": "thinking_delta", "thinking": ""},
                {"type": "signature_delta", "signature": signature or ""},
            ]
        case ToolUseBlock():
            text = block.input_json
            chunks = [text[i : i + _JSON_CHARS_PER_DELTA] for i in range(0, len(text), _JSON_CHARS_PER_DELTA)]
            # The API opens every tool call with an empty partial_json.
            return [{"type": "input_json_delta", "partial_json": piece} for piece in ["", *chunks]]


def _word_pieces(text: str) -> list[str]:
    words = _WORD.findall(text)
    pieces = ["".join(words[i : i + _WORDS_PER_DELTA]) for i in range(0, len(words), _WORDS_PER_DELTA)]
    return pieces or [""]
