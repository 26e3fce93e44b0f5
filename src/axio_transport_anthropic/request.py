"""axio messages and tools to a Messages API request body, with no IO.

Prompt caching is decided here: breakpoints go on the caller's system prompt, the last tool and the
last cacheable block of the last message, never more than the API's limit of four in all.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from axio.blocks import (
    AudioBlock,
    ContentBlock,
    ImageBlock,
    ProviderBlock,
    ReasoningBlock,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    VideoBlock,
    proof,
    replayable,
)
from axio.messages import Message
from axio.schema import strip_title
from axio.tool import Tool

from .decoder import PROVIDER
from .errors import ConfigurationError

__all__ = [
    "MAX_CACHE_BREAKPOINTS",
    "MAX_REQUEST_BYTES",
    "MIN_THINKING_BUDGET",
    "RequestOptions",
    "build_body",
    "document_block",
    "encode_body",
]

logger = logging.getLogger(__name__)

MAX_CACHE_BREAKPOINTS: Final = 4
MIN_THINKING_BUDGET: Final = 1024
#: The Messages API refuses larger bodies (413); uploading one only to hear that is wasted time.
MAX_REQUEST_BYTES: Final = 32 * 1024 * 1024
#: Stands in for an assistant turn whose blocks were all dropped: the API refuses empty content.
_EMPTY_TURN: Final = "(no content)"
#: Block types the API refuses ``cache_control`` on.
_UNCACHEABLE: Final = frozenset({"thinking", "redacted_thinking"})


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Everything besides the conversation that shapes the body."""

    model: str
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    thinking_budget: int | None = None
    stream: bool = True
    prompt_caching: bool = True
    cache_ttl: Literal["5m", "1h"] = "5m"
    eager_tool_streaming: bool = True


def document_block(
    data: bytes | str,
    *,
    media_type: str = "application/pdf",
    title: str | None = None,
    citations: bool = False,
) -> ProviderBlock:
    """A document (a PDF, or plain text) for a user message; axio has no block of its own for one."""
    if isinstance(data, str):
        source = {"type": "text", "media_type": "text/plain", "data": data}
    else:
        source = {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode("ascii")}
    block: dict[str, Any] = {"type": "document", "source": source}
    if title:
        block["title"] = title
    if citations:
        block["citations"] = {"enabled": True}
    return ProviderBlock(provider=PROVIDER, kind="document", data=block)


def build_body(
    options: RequestOptions, messages: Sequence[Message], tools: Sequence[Tool[Any]], system: str
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/messages``."""
    _check_sampling(options)
    body: dict[str, Any] = {"model": options.model, "max_tokens": options.max_tokens}
    system_blocks = [{"type": "text", "text": system}] if system else []
    turns: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        if message.role == "system":
            text = "".join(b.text for b in message.content if isinstance(b, TextBlock))
            if text:
                system_blocks.append({"type": "text", "text": text})
            continue
        content = list(_content(message, position))
        if not content:
            if message.role == "user":
                logger.debug("Skipping user message %d: it has no content the API accepts", position)
                continue
            content = [{"type": "text", "text": _EMPTY_TURN}]
        turns.append({"role": message.role, "content": content})
    body["messages"] = turns
    if system_blocks:
        body["system"] = system_blocks
    if tools:
        body["tools"] = [_tool(t, options.eager_tool_streaming) for t in tools]
    if options.prompt_caching:
        _place_breakpoints(body, options.cache_ttl, system_blocks[0] if system else None)
    else:
        # Caller-supplied blocks (documents) may carry breakpoints of their own, caching on or off.
        _enforce_limit(body)
    for name in ("temperature", "top_p", "top_k"):
        if (value := getattr(options, name)) is not None:
            body[name] = value
    if options.thinking_budget is not None:
        budget = max(MIN_THINKING_BUDGET, min(options.thinking_budget, options.max_tokens - 1))
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if options.stream:
        body["stream"] = True
    return body


def _check_sampling(options: RequestOptions) -> None:
    if options.thinking_budget is None:
        return
    if options.max_tokens <= MIN_THINKING_BUDGET:
        raise ConfigurationError(
            f"max_tokens={options.max_tokens} leaves no room for extended thinking: the API needs "
            f"thinking_budget >= {MIN_THINKING_BUDGET} and below max_tokens"
        )
    if options.temperature is not None and options.temperature != 1:
        raise ConfigurationError(
            f"temperature={options.temperature} cannot be combined with extended thinking "
            "(thinking_budget); the API accepts only temperature 1 with thinking"
        )
    if options.top_k is not None:
        raise ConfigurationError("top_k cannot be combined with extended thinking (thinking_budget)")
    if options.top_p is not None and not 0.95 <= options.top_p <= 1:
        raise ConfigurationError(f"top_p={options.top_p} with extended thinking must be between 0.95 and 1")


def _tool(tool: Tool[Any], eager: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "input_schema": strip_title(tool.input_schema),
    }
    if eager:
        # Arguments stream as they are written instead of after the whole call is validated.
        out["eager_input_streaming"] = True
    return out


def _content(message: Message, position: int) -> Iterator[dict[str, Any]]:
    assistant = message.role == "assistant"
    for block in message.content:
        match block:
            case TextBlock(text=text):
                if text:
                    yield {"type": "text", "text": text}
            case ImageBlock() if not assistant:
                yield _image(block)
            case ToolResultBlock() if not assistant:
                yield _tool_result(block)
            case ReasoningBlock() if assistant:
                if (thinking := _thinking(block)) is not None:
                    yield thinking
            case ToolUseBlock(id=call_id, name=name, input=arguments) if assistant:
                yield {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
            case ProviderBlock() if replayable(block, PROVIDER):
                yield dict(block.data)
            case ProviderBlock():
                continue
            case _:
                raise ConfigurationError(
                    f"message {position} ({message.role}) holds a {type(block).__name__}, "
                    f"which the Anthropic Messages API does not accept in a {message.role} turn"
                )


def _image(block: ImageBlock) -> dict[str, Any]:
    encoded = base64.b64encode(block.data).decode("ascii")
    return {"type": "image", "source": {"type": "base64", "media_type": block.media_type, "data": encoded}}


def _tool_result(block: ToolResultBlock) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": block.tool_use_id}
    if isinstance(block.content, str):
        out["content"] = block.content
    else:
        out["content"] = [_tool_result_part(part) for part in block.content]
    if block.is_error:
        out["is_error"] = True
    return out


def _tool_result_part(part: ContentBlock) -> dict[str, Any]:
    if isinstance(part, TextBlock):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImageBlock):
        return _image(part)
    # A tool may return media Claude cannot read; the model is told rather than the turn failing.
    kind = part.media_type if isinstance(part, AudioBlock | VideoBlock) else type(part).__name__
    logger.warning("A tool result holds %s, which Claude cannot read; sending a note instead", kind)
    return {"type": "text", "text": f"[{kind} content omitted: not supported by this model]"}


def _thinking(block: ReasoningBlock) -> dict[str, Any] | None:
    signed = proof(block, PROVIDER)
    if not signed:
        # Unsigned reasoning is refused by the API: nothing proves it is the model's own.
        logger.debug("Dropping an unsigned reasoning block from the replayed turn")
        return None
    if block.redacted:
        return {"type": "redacted_thinking", "data": signed}
    return {"type": "thinking", "thinking": block.text, "signature": signed}


def _place_breakpoints(body: dict[str, Any], ttl: Literal["5m", "1h"], prompt: dict[str, Any] | None) -> None:
    """Mark the ends of the stable prefixes: tools, the caller's system prompt, then the
    conversation so far. System messages from the history (appended after the prompt, as 0.12.2
    did) are left unmarked: they change between turns, the prompt does not."""
    marker: dict[str, str] = {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": "1h"}
    candidates: list[dict[str, Any]] = []
    if body.get("tools"):
        candidates.append(body["tools"][-1])
    if prompt is not None:
        candidates.append(prompt)
    if body["messages"]:
        last = _last_cacheable(body["messages"][-1]["content"])
        if last is not None:
            candidates.append(last)
    # Caller-supplied blocks (documents) may already carry breakpoints; they count too.
    marked = _marked_blocks(body)
    budget = MAX_CACHE_BREAKPOINTS - len(marked)
    # Over budget, the conversation keeps its mark: it is the prefix that grows every turn.
    for block in reversed(candidates):
        if budget <= 0:
            break
        if "cache_control" not in block:
            block["cache_control"] = dict(marker)
            budget -= 1
    _enforce_limit(body)


def _enforce_limit(body: dict[str, Any]) -> None:
    """Past the API's limit, the earliest marks go: the later ones cover longer prefixes."""
    marked = _marked_blocks(body)
    excess = len(marked) - MAX_CACHE_BREAKPOINTS
    if excess > 0:
        logger.warning("%d cache breakpoints exceed the API's limit of 4; dropping the earliest", len(marked))
        for block in marked[:excess]:
            del block["cache_control"]


def _last_cacheable(content: list[dict[str, Any]]) -> dict[str, Any] | None:
    for block in reversed(content):
        kind = block.get("type")
        if kind in _UNCACHEABLE or (kind == "text" and not block.get("text")):
            continue
        found: dict[str, Any] = block
        return found
    return None


def _marked_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Blocks carrying ``cache_control``, in prefix order (tools, system, messages)."""
    blocks = [*body.get("tools", ()), *body.get("system", ())]
    for turn in body["messages"]:
        blocks.extend(turn["content"])
    return [b for b in blocks if isinstance(b, dict) and "cache_control" in b]


def encode_body(body: dict[str, Any]) -> bytes:
    """The body as sent, or a ``ConfigurationError`` naming what cannot go."""
    try:
        data = json.dumps(body, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{_unencodable_part(body)} cannot be sent as JSON: {exc}") from exc
    if len(data) > MAX_REQUEST_BYTES:
        raise ConfigurationError(
            f"the request is {len(data) / 1_000_000:.1f} MB; the Messages API takes at most 32 MB per request"
        )
    return data


def _unencodable_part(body: dict[str, Any]) -> str:
    def fails(value: Any) -> bool:
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return True
        return False

    for tool in body.get("tools", ()):
        if fails(tool):
            return f"the schema of tool {tool.get('name')!r}"
    for position, turn in enumerate(body.get("messages", ())):
        for block in turn.get("content", ()):
            if fails(block):
                return f"message {position} ({block.get('type')} {block.get('id') or block.get('tool_use_id') or ''})"
    return "the request"
