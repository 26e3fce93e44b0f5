"""Messages API stream bytes to axio events, with no IO: feed bytes, get events.

One ``MessageStreamDecoder`` reads one response. It keeps the turn's running state (usage, stop
reason, which block index is which tool call) so that ``finish()`` can say what the turn added up
to, and so the transport can report partial usage when a stream breaks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from axio.events import IterationEnd, IterationStart, ProviderEvent, Refusal, StreamEvent, TextDelta, ToolInputDelta
from axio.types import StopReason, stop_reason_from

from .blocks import PROVIDER, ContentBlockReader
from .errors import ProtocolError
from .sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    from .backends import Framing
from .usage import NO_TOKENS, TokenCounts, fold_usage

__all__ = ["PROVIDER", "MessageStreamDecoder", "StreamFailure", "TokenCounts"]

STOP_REASONS: Final[dict[str, StopReason]] = {
    "end_turn": StopReason.end_turn,
    "stop_sequence": StopReason.end_turn,
    "tool_use": StopReason.tool_use,
    "max_tokens": StopReason.max_tokens,
    "refusal": StopReason.refusal,
    "pause_turn": StopReason.pause_turn,
    "model_context_window_exceeded": StopReason.context_window_exceeded,
}


@dataclass(frozen=True, slots=True)
class StreamFailure:
    """An ``error`` event read from the stream."""

    error_type: str
    message: str


class MessageStreamDecoder(ContentBlockReader):
    """Decoder of one Messages API SSE response."""

    def __init__(self, framing: Framing | None = None) -> None:
        super().__init__()
        # SSE unless a backend frames its events otherwise (Bedrock's event stream).
        self._sse: Framing = framing if framing is not None else SSEDecoder()
        self.message_id: str | None = None
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.failure: StreamFailure | None = None
        self.stopped = False
        #: Bedrock's ``amazon-bedrock-invocationMetrics`` on ``message_stop``, where present.
        self.invocation_metrics: dict[str, Any] | None = None
        self._counts = NO_TOKENS

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
        return self._counts

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

    # ── handlers (the content_block_* ones are ContentBlockReader's) ────────────────────────

    def _message_start(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        message = payload.get("message") or {}
        self.message_id = message.get("id") or None
        self.model = message.get("model") or None
        self._counts = fold_usage(self._counts, message.get("usage"))
        out.append(IterationStart(iteration=0, id=self.message_id, model=self.model))

    def _message_delta(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        delta = payload.get("delta") or {}
        reason = delta.get("stop_reason")
        if reason is not None and type(reason) is not str:
            raise ProtocolError(f"stop_reason {reason!r} is not a string")
        if reason:
            self.stop_reason = reason
        self._counts = fold_usage(self._counts, payload.get("usage"))
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
        metrics = payload.get("amazon-bedrock-invocationMetrics")
        if type(metrics) is dict:
            self.invocation_metrics = metrics

    def _error(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        error = payload.get("error") or {}
        self.failure = StreamFailure(str(error.get("type") or "unknown"), str(error.get("message") or ""))


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
    # Vertex AI's extra usage report: the message events already carry the same counts.
    "vertex_event": _ignore,
    "error": MessageStreamDecoder._error,
}
