"""Messages API stream bytes to axio events, with no IO: feed bytes, get events.

One ``MessageStreamDecoder`` reads one response. It keeps the turn's running state (usage, stop
reason, which block index is which tool call) so that ``finish()`` can say what the turn added up
to, and so the transport can report partial usage when a stream breaks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from axio.events import (
    BlockEnd,
    Citation,
    IterationEnd,
    IterationStart,
    ProviderEvent,
    ProviderOutput,
    ReasoningDelta,
    ReasoningSignature,
    Refusal,
    StreamEvent,
    TextDelta,
    ToolInputDelta,
    ToolUseStart,
)
from axio.types import StopReason, Usage, stop_reason_from

from .errors import ProtocolError
from .sse import ServerSentEvent, SSEDecoder

__all__ = ["PROVIDER", "MessageStreamDecoder", "StreamFailure", "TokenCounts"]

logger = logging.getLogger(__name__)

PROVIDER: Final = "anthropic"

STOP_REASONS: Final[dict[str, StopReason]] = {
    "end_turn": StopReason.end_turn,
    "stop_sequence": StopReason.end_turn,
    "tool_use": StopReason.tool_use,
    "max_tokens": StopReason.max_tokens,
    "refusal": StopReason.refusal,
    "pause_turn": StopReason.pause_turn,
    "model_context_window_exceeded": StopReason.context_window_exceeded,
}

_UNITS: Final[dict[str, Literal["char", "byte", "page", "block", "unknown"]]] = {
    "char_location": "char",
    "page_location": "page",
    "content_block_location": "block",
    "search_result_location": "block",
    "web_search_result_location": "char",
}

#: Blocks this side reads itself; every other block type is one the API ran (server tools, MCP).
_OWN_BLOCKS: Final = frozenset({"text", "thinking", "redacted_thinking", "tool_use"})


@dataclass(frozen=True, slots=True)
class StreamFailure:
    """An ``error`` event read from the stream."""

    error_type: str
    message: str


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """The usage as Anthropic reports it, slices disjoint (``uncached_input`` excludes the cache)."""

    uncached_input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    thinking: int = 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    def to_usage(self) -> Usage:
        """As axio counts it: ``input_tokens`` is the grand total, cache slices inside it."""
        return Usage.reported(
            self.uncached_input + self.cache_read + self.cache_write,
            self.output,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            reasoning_tokens=self.thinking,
        )


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


class MessageStreamDecoder:
    """Decoder of one Messages API SSE response."""

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self.message_id: str | None = None
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.failure: StreamFailure | None = None
        self.stopped = False
        self._input = self._output = self._cache_read = self._thinking = 0
        self._write_5m = self._write_1h = 0
        self._tool_ids: dict[int, str] = {}
        self._tool_start_input: dict[int, dict[str, Any]] = {}
        self._hosted: dict[int, dict[str, Any]] = {}
        self._hosted_json: dict[int, list[str]] = {}

    # ── feeding ─────────────────────────────────────────────────────────────────────────────

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events completed by ``chunk``. After an ``error`` event nothing more is read."""
        raw = self._sse.feed(chunk)
        return self._read(raw) if raw else []

    def close(self) -> list[StreamEvent]:
        """At end of body: whatever a last unterminated event completes."""
        return self._read(self._sse.flush())

    def _read(self, raw: list[ServerSentEvent]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self.failure is not None:
            return out
        handlers = _HANDLERS
        for name, data in raw:
            try:
                payload = _parse(data)
            except ValueError as exc:
                raise ProtocolError(f"event {name!r} carries malformed JSON ({exc})") from exc
            if type(payload) is not dict:
                raise ProtocolError(f"event {name!r} carries {type(payload).__name__}, not a JSON object")
            kind = payload.get("type") or name
            if kind == "content_block_delta":
                # The hot path: nearly every event of a long answer is a text delta.
                delta = payload.get("delta")
                if type(delta) is dict:
                    kind_of_delta = delta.get("type")
                    if kind_of_delta == "text_delta":
                        text = delta.get("text")
                        if type(text) is str and text:
                            out.append(TextDelta(payload.get("index", 0), text))
                            continue
                    elif kind_of_delta == "input_json_delta" and not self._tool_start_input:
                        # The other hot path: a tool call's arguments, one fragment an event.
                        index = payload.get("index", 0)
                        part = delta.get("partial_json")
                        if (
                            type(part) is str
                            and type(index) is int
                            and (tool_id := self._tool_ids.get(index)) is not None
                        ):
                            if part:
                                out.append(ToolInputDelta(index, tool_id, part))
                            continue
            if type(kind) is not str:
                raise ProtocolError(f"event {name!r} has a non-string type {kind!r}")
            handler = handlers.get(kind)
            if handler is None:
                out.append(ProviderEvent(PROVIDER, kind, payload, payload.get("index")))
                continue
            try:
                handler(self, payload, out)
            except (AttributeError, TypeError, KeyError, ValueError) as exc:
                # Valid JSON of the wrong shape: reported as the protocol break it is.
                raise ProtocolError(f"event {kind!r} has an unexpected shape ({exc})") from exc
            if self.failure is not None:
                break
        return out

    # ── what the turn adds up to ────────────────────────────────────────────────────────────

    @property
    def counts(self) -> TokenCounts:
        return TokenCounts(
            uncached_input=self._input,
            output=self._output,
            cache_read=self._cache_read,
            cache_write_5m=self._write_5m,
            cache_write_1h=self._write_1h,
            thinking=self._thinking,
        )

    @property
    def started(self) -> bool:
        return self.message_id is not None or self.model is not None

    def finish(self) -> IterationEnd:
        """The closing event. Raises where the body ended before the turn did."""
        if self.stop_reason is None:
            raise ProtocolError("the stream ended without a stop_reason: the connection was cut mid-turn")
        stop = stop_reason_from(self.stop_reason, STOP_REASONS, provider="Anthropic")
        raw = "" if stop.value == self.stop_reason else self.stop_reason
        return IterationEnd(iteration=0, stop_reason=stop, usage=self.counts.to_usage(), raw=raw)

    # ── handlers ────────────────────────────────────────────────────────────────────────────

    def _message_start(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        message = payload.get("message") or {}
        self.message_id = message.get("id") or None
        self.model = message.get("model") or None
        self._usage(message.get("usage"))
        out.append(IterationStart(iteration=0, id=self.message_id, model=self.model))

    def _block_start(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        index = payload.get("index", 0)
        block = payload.get("content_block") or {}
        match block.get("type"):
            case "text":
                if text := block.get("text"):
                    out.append(TextDelta(index, text))
            case "thinking":
                if text := block.get("thinking"):
                    out.append(ReasoningDelta(index, text))
                if signature := block.get("signature"):
                    out.append(ReasoningSignature(index, signature, provider=PROVIDER))
            case "redacted_thinking":
                out.append(ReasoningSignature(index, block.get("data", ""), redacted=True, provider=PROVIDER))
            case "tool_use":
                self._tool_ids[index] = tool_id = block.get("id", "")
                if start := block.get("input"):
                    self._tool_start_input[index] = start
                out.append(ToolUseStart(index, tool_id, block.get("name", "")))
            case kind:
                self._hosted[index] = block
                out.append(ProviderEvent(PROVIDER, kind or "content_block_start", block, index))

    def _block_delta(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        index = payload.get("index", 0)
        delta = payload.get("delta") or {}
        match delta.get("type"):
            case "text_delta":
                if text := delta.get("text"):
                    out.append(TextDelta(index, text))
            case "thinking_delta":
                if text := delta.get("thinking"):
                    out.append(ReasoningDelta(index, text))
            case "signature_delta":
                out.append(ReasoningSignature(index, delta.get("signature", ""), provider=PROVIDER))
            case "input_json_delta":
                part = delta.get("partial_json", "")
                if index in self._hosted:
                    self._hosted_json.setdefault(index, []).append(part)
                elif part:
                    self._tool_start_input.pop(index, None)
                    out.append(ToolInputDelta(index, self._tool_ids.get(index, ""), part))
            case "citations_delta":
                out.append(_citation(index, delta.get("citation") or {}))
            case _:
                out.append(ProviderEvent(PROVIDER, "content_block_delta", payload, index))

    def _block_stop(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        index = payload.get("index", 0)
        if (start := self._tool_start_input.pop(index, None)) is not None:
            # The call arrived whole in its opening block (no deltas): pass its input on as one.
            out.append(ToolInputDelta(index, self._tool_ids.get(index, ""), json.dumps(start)))
        if (hosted := self._hosted.pop(index, None)) is not None:
            item = self._hosted_item(index, hosted)
            if item is not None:
                item_id = item.get("id")
                out.append(
                    ProviderOutput(PROVIDER, item.get("type", ""), item, index, item_id if type(item_id) is str else "")
                )
        out.append(BlockEnd(index))

    def _hosted_item(self, index: int, start: dict[str, Any]) -> dict[str, Any] | None:
        """A block the API ran itself, whole, as it must go back on the next request."""
        item = dict(start)
        parts = self._hosted_json.pop(index, None)
        if parts is None:
            return item
        raw = "".join(parts)
        try:
            item["input"] = json.loads(raw) if raw else {}
        except ValueError:
            # Truncated arguments: replaying a call the model never finished is refused.
            logger.warning("Dropping a %s block whose input did not parse (%d chars)", item.get("type"), len(raw))
            return None
        return item

    def _message_delta(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        delta = payload.get("delta") or {}
        reason = delta.get("stop_reason")
        if reason is not None and type(reason) is not str:
            raise ProtocolError(f"stop_reason {reason!r} is not a string")
        if reason:
            self.stop_reason = reason
        self._usage(payload.get("usage"))
        if reason == "refusal":
            details = delta.get("stop_details") or {}
            out.append(
                Refusal(
                    index=0,
                    text=details.get("explanation") or "",
                    spoken=False,
                    category=details.get("category") or None,
                    raw=details,
                )
            )

    def _message_stop(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        self.stopped = True

    def _error(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        error = payload.get("error") or {}
        self.failure = StreamFailure(str(error.get("type") or "unknown"), str(error.get("message") or ""))

    def _usage(self, usage: Any) -> None:
        """Fold in a usage object. Counts are cumulative, so a later report replaces an earlier one;
        input-side counts only grow (server tools can add input mid-turn, a proxy may send 0)."""
        if not isinstance(usage, dict):
            return
        if (value := _int(usage.get("output_tokens"))) is not None:
            self._output = value
        if (value := _int(usage.get("input_tokens"))) is not None:
            self._input = max(self._input, value)
        if (value := _int(usage.get("cache_read_input_tokens"))) is not None:
            self._cache_read = max(self._cache_read, value)
        details = usage.get("output_tokens_details")
        if isinstance(details, dict) and (value := _int(details.get("thinking_tokens"))) is not None:
            self._thinking = value
        split = usage.get("cache_creation")
        total = _int(usage.get("cache_creation_input_tokens"))
        if isinstance(split, dict):
            five = _int(split.get("ephemeral_5m_input_tokens")) or 0
            hour = _int(split.get("ephemeral_1h_input_tokens")) or 0
            if total is not None and total > five + hour:
                five = total - hour
            if five + hour >= self._write_5m + self._write_1h:
                self._write_5m, self._write_1h = five, hour
        elif total is not None and total > self._write_5m + self._write_1h:
            self._write_5m = total - self._write_1h


_raw_decode = json.JSONDecoder().raw_decode


def _parse(data: bytes) -> Any:
    """``json.loads`` without its per-call costs on bytes (encoding sniffing, two regex scans):
    the hot path's largest share. Padded or otherwise unusual input takes the strict road."""
    text = data.decode()
    try:
        value, end = _raw_decode(text)
    except ValueError:
        return json.loads(text)
    if end != len(text) and not text[end:].isspace():
        return json.loads(text)  # raises, naming what trails the value
    return value


def _ignore(decoder: MessageStreamDecoder, payload: dict[str, Any], out: list[StreamEvent]) -> None:
    return None


#: Shared by every decoder: bound methods stored on each instance would make a reference cycle,
#: leaving thousands of concurrent decoders to the cyclic garbage collector.
_HANDLERS: Final[dict[str, Callable[[MessageStreamDecoder, dict[str, Any], list[StreamEvent]], None]]] = {
    "content_block_delta": MessageStreamDecoder._block_delta,
    "content_block_start": MessageStreamDecoder._block_start,
    "content_block_stop": MessageStreamDecoder._block_stop,
    "message_start": MessageStreamDecoder._message_start,
    "message_delta": MessageStreamDecoder._message_delta,
    "message_stop": MessageStreamDecoder._message_stop,
    "ping": _ignore,
    "error": MessageStreamDecoder._error,
}


def _citation(index: int, raw: dict[str, Any]) -> Citation:
    source = raw.get("document_index")
    return Citation(
        index=index,
        cited_text=raw.get("cited_text") or "",
        title=raw.get("title") or raw.get("document_title"),
        url=raw.get("url"),
        source_id=str(source) if source is not None else None,
        start=raw.get("start_char_index", raw.get("start_page_number", raw.get("start_block_index"))),
        end=raw.get("end_char_index", raw.get("end_page_number", raw.get("end_block_index"))),
        unit=_UNITS.get(raw.get("type", ""), "unknown"),
        raw=raw,
    )
