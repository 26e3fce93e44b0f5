"""Writing a response body progressively, with in-stream faults and a clean way out on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from .chunking import Chunker
from .events import SseEvent, error_event
from .faults import Fault

__all__ = ["Closing", "StreamSettings", "abort", "write_events"]

_IN_STREAM_KINDS: Final = frozenset({"stream_error", "reset_after", "stall"})
_FLUSH_POLLS: Final = 200


class Closing:
    """Set when the simulator stops, so long sleeps (delays, stalls) end at once instead of holding shutdown."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep; False when the simulator began closing first."""
        if seconds <= 0:
            return not self._event.is_set()
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return True
        return False


async def abort(request: web.BaseRequest) -> None:
    """Drop the connection without finishing the response, as a crashed server or proxy would."""
    transport = request.transport
    if transport is None:
        return
    # abort() discards bytes the event loop has not handed to the kernel yet; let the sent part go out.
    for _ in range(_FLUSH_POLLS):
        if transport.is_closing() or transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.005)
    transport.abort()


@dataclass(frozen=True, slots=True)
class StreamSettings:
    chunker: Chunker
    line_ending: str = "\n"
    token_delay: float = 0.0
    #: Yield between writes so a client on the same event loop really reads the pieces one by one.
    yield_between_writes: bool = False


async def write_events(
    request: web.BaseRequest,
    response: web.StreamResponse,
    events: Sequence[SseEvent],
    settings: StreamSettings,
    fault: Fault | None,
    closing: Closing,
) -> bool:
    """Write the events; True when the body is complete (including a body that ends in an error event)."""
    if fault is not None and fault.kind not in _IN_STREAM_KINDS:
        fault = None
    counted = sum(1 for event in events if event.counts)
    trigger = min(fault.after_events, counted) if fault is not None else -1
    sent = 0
    for event in [*events, None]:
        if fault is not None and sent == trigger:
            await _send(response, settings, settings.chunker.flush())
            if fault.kind == "stream_error":
                data = error_event(fault.error_type, fault.message).encode(settings.line_ending)
                await _send(response, settings, [*settings.chunker.feed(data), *settings.chunker.flush()])
                return True
            if fault.kind == "reset_after" or not await closing.sleep(fault.delay):
                await abort(request)
                return False
            fault = None
        if event is None:
            break
        if closing.is_set or (event.name == "content_block_delta" and not await closing.sleep(settings.token_delay)):
            await abort(request)
            return False
        await _send(response, settings, settings.chunker.feed(event.encode(settings.line_ending)))
        sent += event.counts
    await _send(response, settings, settings.chunker.flush())
    return True


async def _send(response: web.StreamResponse, settings: StreamSettings, pieces: list[bytes]) -> None:
    for piece in pieces:
        await response.write(piece)
        if settings.yield_between_writes:
            await asyncio.sleep(0)
