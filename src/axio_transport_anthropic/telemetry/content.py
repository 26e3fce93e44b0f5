"""Opt-in content capture for spans: request and response in the GenAI message schema.

Only used when ``capture_content`` is on. Base64 payloads and opaque keys never make it in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["OutputPart", "input_content", "output_messages"]

#: Keys of request blocks that are opaque to a reader and only make the attribute longer.
_OPAQUE_KEYS: Final = frozenset({"cache_control", "signature"})


# ── the response, as it streams in ────────────────────────────────────────────────────────


@dataclass(slots=True)
class OutputPart:
    """One content block of the answer, its pieces as they arrived."""

    kind: str
    call_id: str = ""
    name: str = ""
    pieces: list[str] = field(default_factory=list)


def output_messages(parts: Mapping[int, OutputPart], finish_reason: str) -> list[dict[str, Any]]:
    """The answer's blocks, in index order, as the one assistant message of ``gen_ai.output.messages``."""
    found: list[dict[str, Any]] = []
    for _, part in sorted(parts.items()):
        text = "".join(part.pieces)
        if part.kind != "tool_call":
            found.append({"type": part.kind, "content": text})
            continue
        try:
            arguments: Any = json.loads(text) if text else {}
        except ValueError:
            arguments = text  # cut short: what arrived is still worth seeing
        found.append({"type": "tool_call", "id": part.call_id, "name": part.name, "arguments": arguments})
    return [{"role": "assistant", "parts": found, "finish_reason": finish_reason}]


# ── the request body ──────────────────────────────────────────────────────────────────────


def input_content(body: Mapping[str, Any]) -> dict[str, Any]:
    """Span attribute name to value: input messages, system instructions and tool definitions."""
    messages = [{"role": m.get("role"), "parts": _parts(m.get("content"))} for m in body.get("messages") or ()]
    content: dict[str, Any] = {"gen_ai.input.messages": messages}
    if system := body.get("system"):
        content["gen_ai.system_instructions"] = _parts(system)
    if tools := body.get("tools"):
        content["gen_ai.tool.definitions"] = [_tool(tool) for tool in tools if isinstance(tool, Mapping)]
    return content


def _parts(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    return [_part(block) for block in content or () if isinstance(block, Mapping)]


def _part(block: Mapping[str, Any]) -> Any:
    match block:
        case {"type": "text", "text": text}:
            return {"type": "text", "content": text}
        case {"type": "thinking", "thinking": text}:
            return {"type": "reasoning", "content": text}
        case {"type": "redacted_thinking"}:
            return {"type": "reasoning", "content": "[redacted]"}
        case {"type": "tool_use", "id": call_id, "name": name, "input": arguments}:
            return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}
        case {"type": "tool_result", "tool_use_id": call_id}:
            return {"type": "tool_call_response", "id": call_id, "response": _parts(block.get("content"))}
        case {"type": kind, "source": {"type": "base64", "media_type": mime, "data": data}}:
            return {"type": "blob", "modality": kind, "mime_type": mime, "content": _omitted(data)}
    return _scrub(block)


def _scrub(value: Any) -> Any:
    """Any other block as sent, without base64 payloads or opaque keys, however deep."""
    if isinstance(value, Mapping):
        if value.get("type") == "base64" and "data" in value:
            return {**value, "data": _omitted(value["data"])}
        return {key: _scrub(item) for key, item in value.items() if key not in _OPAQUE_KEYS}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _omitted(data: Any) -> str:
    return f"[base64 omitted: {len(data) if isinstance(data, str) else 0} chars]"


def _tool(tool: Mapping[str, Any]) -> Any:
    match tool:
        case {"name": name, "input_schema": schema}:
            return {"type": "function", "name": name, "description": tool.get("description"), "parameters": schema}
    return _scrub(tool)  # a server tool (web search, ...): its own type says what it is
