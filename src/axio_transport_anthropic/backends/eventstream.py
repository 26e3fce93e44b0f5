"""AWS event-stream framing (``application/vnd.amazon.eventstream``), with no IO: bytes in, frames out.

Each frame is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), the
headers, the payload and a CRC32 of everything before it. The decoder takes reads in any split,
checks both CRCs and the size limits before buffering a frame, and keeps only the unfinished
frame between reads. ``encode_frame`` writes the same format (the simulator answers with it).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from zlib import crc32

from ..errors import ProtocolError

__all__ = ["MAX_HEADERS_LENGTH", "MAX_PAYLOAD_LENGTH", "Frame", "FrameDecoder", "HeaderValue", "encode_frame"]

#: The limits botocore enforces: a frame claiming more is corrupt, and is not waited for.
MAX_HEADERS_LENGTH: Final = 128 * 1024
MAX_PAYLOAD_LENGTH: Final = 24 * 1024 * 1024

HeaderValue = bool | int | bytes | str
_PRELUDE: Final = struct.Struct(">III")
_CRC: Final = struct.Struct(">I")
#: Prelude and message CRC: the smallest frame there is (no headers, no payload).
_OVERHEAD: Final = 16
_FIXED: Final[dict[int, struct.Struct]] = {
    2: struct.Struct(">b"),
    3: struct.Struct(">h"),
    4: struct.Struct(">i"),
    5: struct.Struct(">q"),
    8: struct.Struct(">q"),  # a timestamp, in milliseconds since the epoch
}


@dataclass(frozen=True, slots=True)
class Frame:
    headers: dict[str, HeaderValue]
    payload: bytes


class FrameDecoder:
    """Incremental, CRC-checking decoder of an event stream."""

    __slots__ = ("_buffer", "_checked")

    def __init__(self) -> None:
        self._buffer = bytearray()
        # The total length of the frame at the front, once its prelude has been checked.
        self._checked = 0

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame held back for the next read."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Frame]:
        """The frames that ``chunk`` completes, in order. Raises ``ProtocolError`` on a corrupt one."""
        buffer = self._buffer
        buffer += chunk
        frames: list[Frame] = []
        while len(buffer) >= _PRELUDE.size:
            total = self._checked or _check_prelude(buffer)
            if len(buffer) < total:
                self._checked = total
                break
            self._checked = 0
            message = bytes(buffer[:total])
            # bytearray drops its head in place, so a long stream is never copied again.
            del buffer[:total]
            frames.append(_frame(message))
        return frames


def _check_prelude(buffer: bytearray) -> int:
    total, headers, crc = _PRELUDE.unpack_from(buffer)
    if crc32(buffer[:8]) != crc:
        raise ProtocolError("event stream frame has a bad prelude CRC")
    if total < _OVERHEAD or headers > total - _OVERHEAD:
        raise ProtocolError(f"event stream frame claims {total} bytes with {headers} of headers")
    if headers > MAX_HEADERS_LENGTH:
        raise ProtocolError(f"event stream frame headers of {headers} bytes exceed {MAX_HEADERS_LENGTH}")
    if total - headers - _OVERHEAD > MAX_PAYLOAD_LENGTH:
        raise ProtocolError(f"event stream frame payload of {total - headers - _OVERHEAD} bytes is too large")
    return int(total)


def _frame(message: bytes) -> Frame:
    (expected,) = _CRC.unpack_from(message, len(message) - 4)
    if crc32(message[:-4]) != expected:
        raise ProtocolError("event stream frame has a bad message CRC")
    end = _PRELUDE.size + _PRELUDE.unpack_from(message)[1]
    return Frame(_headers(message, _PRELUDE.size, end), message[end:-4])


def _headers(data: bytes, at: int, end: int) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    try:
        while at < end:
            size = data[at]
            name = data[at + 1 : at + 1 + size].decode()
            at += 1 + size
            kind = data[at]
            at += 1
            value: HeaderValue
            if kind in (0, 1):
                value = kind == 0
            elif (fixed := _FIXED.get(kind)) is not None:
                (value,) = fixed.unpack_from(data, at)
                at += fixed.size
            elif kind in (6, 7):
                (length,) = struct.unpack_from(">H", data, at)
                raw = data[at + 2 : at + 2 + length]
                if len(raw) != length:
                    raise ValueError("a header value runs past the headers")
                value = raw.decode() if kind == 7 else raw
                at += 2 + length
            elif kind == 9:
                value = data[at : at + 16]
                at += 16
            else:
                raise ValueError(f"unknown header type {kind}")
            headers[name] = value
    except (IndexError, ValueError, struct.error) as exc:
        raise ProtocolError(f"event stream frame has malformed headers ({exc})") from exc
    if at != end:
        raise ProtocolError("event stream frame headers run past their length")
    return headers


def encode_frame(headers: Mapping[str, HeaderValue], payload: bytes) -> bytes:
    """One frame: strings, bytes, booleans and 32-bit integers as header values."""
    parts: list[bytes] = []
    for name, value in headers.items():
        raw_name = name.encode()
        parts.append(bytes([len(raw_name)]) + raw_name)
        if isinstance(value, bool):
            parts.append(b"\x00" if value else b"\x01")
        elif isinstance(value, int):
            parts.append(b"\x04" + _FIXED[4].pack(value))
        else:
            raw = value.encode() if isinstance(value, str) else value
            parts.append((b"\x07" if isinstance(value, str) else b"\x06") + struct.pack(">H", len(raw)) + raw)
    header_bytes = b"".join(parts)
    total = _OVERHEAD + len(header_bytes) + len(payload)
    prelude = struct.pack(">II", total, len(header_bytes))
    body = prelude + _CRC.pack(crc32(prelude)) + header_bytes + payload
    return body + _CRC.pack(crc32(body))
