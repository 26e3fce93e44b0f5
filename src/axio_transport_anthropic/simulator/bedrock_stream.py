"""Writing a Bedrock response body: one event-stream frame per Anthropic event, with the in-stream
faults as Bedrock shows them (an exception frame, a cut connection, a stall)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .bedrock_wire import chunk_frame, exception_frame, stream_exception_type
from .delivery import OpenBodies
from .events import SseEvent
from .faults import Fault
from .streaming import Closing, StreamSettings, abort

__all__ = ["FrameStream"]


@dataclass(frozen=True, slots=True)
class FrameStream:
    """A response whose headers say event stream; ``send`` also says whether the client got all of it."""

    request: web.BaseRequest
    headers: dict[str, str]
    closing: Closing
    bodies: OpenBodies
    settings: StreamSettings

    async def send(
        self, events: Sequence[SseEvent], fault: Fault | None, metrics: dict[str, Any]
    ) -> tuple[web.StreamResponse, bool]:
        response = web.StreamResponse(headers={**self.headers, "X-Amzn-Bedrock-Content-Type": "application/json"})
        response.content_type = "application/vnd.amazon.eventstream"
        with self.bodies.track():
            try:
                await response.prepare(self.request)
                complete = await self._write(response, [e for e in events if e.counts], fault, metrics)
                if complete:
                    await response.write_eof()
            except ConnectionError:
                return response, False
        return response, complete and (fault is None or fault.kind != "stream_error")

    async def _write(
        self, response: web.StreamResponse, events: list[SseEvent], fault: Fault | None, metrics: dict[str, Any]
    ) -> bool:
        if fault is not None and fault.kind not in ("stream_error", "reset_after", "stall"):
            fault = None
        trigger = min(fault.after_events, len(events)) if fault is not None else -1
        chunker, closing = self.settings.chunker, self.closing
        for sent, event in enumerate([*events, None]):
            if fault is not None and sent == trigger:
                await self._send(response, chunker.flush())
                if fault.kind == "stream_error":
                    frame = exception_frame(stream_exception_type(fault.error_type), fault.message)
                    await self._send(response, [*chunker.feed(frame), *chunker.flush()])
                    return True
                if fault.kind == "reset_after" or not await closing.sleep(fault.delay):
                    await abort(self.request)
                    return False
                fault = None  # a stall that ran its course: the rest follows
            if event is None:
                break
            if closing.is_set or (
                event.name == "content_block_delta" and not await closing.sleep(self.settings.token_delay)
            ):
                await abort(self.request)
                return False
            data = dict(event.data)
            if event.name == "message_stop":
                data["amazon-bedrock-invocationMetrics"] = metrics
            await self._send(response, chunker.feed(chunk_frame(data)))
        await self._send(response, chunker.flush())
        return True

    async def _send(self, response: web.StreamResponse, pieces: list[bytes]) -> None:
        for piece in pieces:
            await response.write(piece)
            if self.settings.yield_between_writes:
                await asyncio.sleep(0)
