"""The reply the simulator makes up when none is scripted, decided only by the request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .replies import Block, Reply, TextBlock, ThinkingBlock, ToolUseBlock

__all__ = ["arguments_for", "default_reply"]

_SNIPPET_CHARS = 60


def default_reply(body: Mapping[str, Any]) -> Reply:
    """Call the first declared tool unless the last turn answers a tool call; otherwise reply in text."""
    messages = _as_list(body.get("messages"))
    last = messages[-1] if messages and isinstance(messages[-1], Mapping) else {}
    last_user = last if last.get("role") == "user" else {}
    results = _tool_result_texts(last_user.get("content"))
    tool_result = results[-1] if results else None
    tool = _first_custom_tool(body.get("tools"))
    blocks: list[Block] = []
    if _thinking_enabled(body.get("thinking")):
        blocks.append(ThinkingBlock(_thinking_text(len(messages), tool_result is not None, tool)))
    if tool is not None and tool_result is None:
        name = str(tool["name"])
        blocks.append(TextBlock(f"I'll call {name} for that — one moment."))
        blocks.append(ToolUseBlock(name, arguments_for(tool.get("input_schema"))))
        return Reply(tuple(blocks), "tool_use")
    if len(results) > 1:
        quoted = " and ".join(f"“{_snippet(result)}”" for result in results)
        text = f"Résumé — the tools returned {quoted}. All done 🙂"
    elif tool_result is not None:
        text = f"Résumé — the tool returned “{_snippet(tool_result)}”. All done 🙂"
    else:
        said = _snippet(_plain_text(last_user.get("content")))
        text = f"Héllo — you said “{said}”. This is the Anthropic simulator answering 🙂"
    blocks.append(TextBlock(text))
    return Reply(tuple(blocks), "end_turn")


def arguments_for(schema: Any) -> Any:
    """A value that satisfies simple JSON schemas: required properties only (all when none is required)."""
    if not isinstance(schema, Mapping):
        return {}
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    match kind:
        case "object":
            properties = schema.get("properties")
            if not isinstance(properties, Mapping):
                return {}
            required = [name for name in _as_list(schema.get("required")) if name in properties]
            names = required or list(properties)
            return {name: arguments_for(properties[name]) for name in names}
        case "array":
            items = schema.get("items")
            return [arguments_for(items)] if isinstance(items, Mapping) else []
        case "number" | "integer":
            return 42
        case "boolean":
            return True
        case "null":
            return None
        case _:
            return "example"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _first_custom_tool(tools: Any) -> Mapping[str, Any] | None:
    # Server tools (web search, code execution) carry no input_schema and are run by the API itself.
    for tool in _as_list(tools):
        if isinstance(tool, Mapping) and isinstance(tool.get("name"), str) and "input_schema" in tool:
            return tool
    return None


def _thinking_enabled(thinking: Any) -> bool:
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def _tool_result_texts(content: Any) -> list[str]:
    """Each tool result's text, in order (a turn answers every call of the one before)."""
    results = [b for b in _as_list(content) if isinstance(b, Mapping) and b.get("type") == "tool_result"]
    return [inner if isinstance(inner := b.get("content"), str) else _plain_text(inner) for b in results]


def _plain_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: Sequence[Any] = _as_list(content)
    return " ".join(str(b["text"]) for b in parts if isinstance(b, Mapping) and b.get("type") == "text")


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET_CHARS else flat[: _SNIPPET_CHARS - 1] + "…"


def _thinking_text(message_count: int, answering_tool: bool, tool: Mapping[str, Any] | None) -> str:
    if answering_tool:
        step = "The tool result is in, so I can answer now."
    elif tool is not None:
        step = f"I should call {tool['name']} before answering."
    else:
        step = "I can answer this directly."
    return f"The conversation has {message_count} message(s). {step} Let me keep the reply short — and friendly."
