"""Bedrock's InvokeModelWithResponseStream body as the decoder reads it: ``(event name, JSON bytes)``.

A ``chunk`` event carries ``{"bytes": base64}``, the JSON of one Anthropic event. An
``exception`` frame (``:exception-type`` such as ``throttlingException``, body ``{"message"}``) or
an ``error`` frame (``:error-code``, ``:error-message``) becomes an Anthropic ``error`` event with
that type, so the decoder reports it as an in-stream failure and the retry rules read its type.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final

from ..errors import ProtocolError
from ..sse import ServerSentEvent
from .eventstream import Frame, FrameDecoder, HeaderValue

__all__ = ["BedrockEventStream", "error_event"]

#: Every Anthropic event's JSON starts with its type: the name is read there, not parsed twice.
_TYPE: Final = re.compile(rb'\{\s*"type"\s*:\s*"([A-Za-z0-9_]{1,64})"')


class BedrockEventStream:
    """The ``Framing`` of a Bedrock response: event-stream frames to Anthropic events."""

    __slots__ = ("_frames", "_names")

    def __init__(self) -> None:
        self._frames = FrameDecoder()
        self._names: dict[bytes, str] = {}

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        out: list[ServerSentEvent] = []
        for frame in self._frames.feed(chunk):
            event = self._event(frame)
            if event is not None:
                out.append(event)
        return out

    def flush(self) -> list[ServerSentEvent]:
        # A frame cut short carries nothing readable; the missing stop reason reports the cut.
        return []

    def _event(self, frame: Frame) -> ServerSentEvent | None:
        headers = frame.headers
        kind = headers.get(":message-type")
        if kind == "event":
            if headers.get(":event-type") != "chunk":
                return None  # other event types carry nothing the Messages API defines
            data = _chunk_bytes(frame.payload)
            return ServerSentEvent(self._name(data), data)
        if kind == "exception":
            return error_event(_text(headers.get(":exception-type")) or "unknown", _message(frame.payload))
        if kind == "error":
            return error_event(_text(headers.get(":error-code")) or "unknown", _text(headers.get(":error-message")))
        raise ProtocolError(f"event stream frame has an unknown :message-type {kind!r}")

    def _name(self, data: bytes) -> str:
        if (found := _TYPE.match(data)) is None:
            return "chunk"  # the decoder reads the type from the JSON itself
        raw = found.group(1)
        if (name := self._names.get(raw)) is None:
            name = raw.decode("ascii")
            if len(self._names) < 64:
                self._names[raw] = name
        return name


def error_event(error_type: str, message: str) -> ServerSentEvent:
    """An Anthropic ``error`` event, as the decoder reads one."""
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return ServerSentEvent("error", json.dumps(body).encode())


def _chunk_bytes(payload: bytes) -> bytes:
    try:
        outer: Any = json.loads(payload)
        return base64.b64decode(outer["bytes"], validate=True)
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ProtocolError(f"a Bedrock chunk is not {{'bytes': base64}} ({type(exc).__name__}: {exc})") from exc


def _message(payload: bytes) -> str:
    text = payload.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(parsed, dict):
        found = parsed.get("message") or parsed.get("Message")
        if isinstance(found, str):
            return found
    return text.strip()


def _text(value: HeaderValue | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""
