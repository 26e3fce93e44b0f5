"""Server-sent events, from bytes to (event, data) pairs, with no IO.

Feed network reads in any split; get back whole events. Only the unfinished last line of a read
is kept between calls, so a long stream never re-scans or copies what it already handled.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SSEDecoder", "ServerSentEvent"]


class ServerSentEvent(NamedTuple):
    event: str
    """The ``event:`` field, or ``"message"`` where the stream named none."""
    data: bytes
    """The ``data:`` lines joined by ``\\n``, still encoded: ``json.loads`` reads bytes directly."""


#: Builds the named tuple without a Python-level ``__new__`` frame: this runs once per event.
_new_event = tuple.__new__
_DATA = b"data:"
_EVENT = b"event:"


class SSEDecoder:
    """Incremental decoder for the ``text/event-stream`` format (WHATWG HTML, section 9.2)."""

    __slots__ = ("_cr", "_data", "_event", "_more", "_names", "_partial")

    def __init__(self) -> None:
        # The unfinished last line, as the pieces it arrived in: joined once, when it completes,
        # so a line spread over many reads costs linear time.
        self._partial: list[bytes] = []
        self._cr = False
        self._event = b""
        # One data line is the common case: kept as bytes, joined only when a second one arrives.
        self._data: bytes | None = None
        self._more: list[bytes] | None = None
        self._names: dict[bytes, str] = {}

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events that ``chunk`` completes, in order."""
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if b"\r" in chunk:
            chunk = self._normalise(chunk)
        lines = chunk.split(b"\n")
        partial = self._partial
        if partial:
            if len(lines) == 1:
                partial.append(lines[0])
                return []
            partial.append(lines[0])
            lines[0] = b"".join(partial)
            partial.clear()
        if tail := lines.pop():
            partial.append(tail)
        return self._lines(lines) if lines else []

    def flush(self) -> list[ServerSentEvent]:
        """At end of stream: the last event, where the body did not end on a blank line.

        The standard discards it; a recording cut after its last ``data:`` line is still worth
        reading, and an event that never completes is caught above by the missing stop reason.
        """
        tail = b"".join(self._partial)
        self._partial.clear()
        self._cr = False
        return self._lines([tail, b""] if tail else [b""])

    def _normalise(self, chunk: bytes) -> bytes:
        # A trailing CR may be the first half of a CRLF split across reads: keep it for the next.
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
            self._cr = True
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _name(self, raw: bytes) -> str:
        if (name := self._names.get(raw)) is None:
            name = raw.decode("utf-8", "replace") or "message"
            if len(self._names) < 64:
                self._names[raw] = name
        return name

    def _lines(self, lines: list[bytes]) -> list[ServerSentEvent]:
        out: list[ServerSentEvent] = []
        event, data, more, names = self._event, self._data, self._more, self._names
        for line in lines:
            if not line:
                if data is not None:
                    if more is not None:
                        data = b"\n".join([data, *more])
                        more = None
                    name = names.get(event) or self._name(event)
                    out.append(_new_event(ServerSentEvent, (name, data)))
                    data = None
                event = b""
            elif line.startswith(_DATA):
                value = line[6:] if len(line) > 5 and line[5] == 0x20 else line[5:]
                if data is None:
                    data = value
                elif more is None:
                    more = [value]
                else:
                    more.append(value)
            elif line.startswith(_EVENT):
                event = line[7:] if len(line) > 6 and line[6] == 0x20 else line[6:]
            elif line == b"data":
                if data is None:
                    data = b""
                elif more is None:
                    more = [b""]
                else:
                    more.append(b"")
            # Comments (":..."), id:, retry: and unknown fields carry nothing this API uses.
        self._event, self._data, self._more = event, data, more
        return out
