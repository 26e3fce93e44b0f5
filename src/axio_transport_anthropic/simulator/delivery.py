"""Sending a generated reply: an SSE stream or one JSON message, with in-body faults applied."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .events import SseEvent
from .faults import Fault
from .responses import json_response
from .streaming import Closing, StreamSettings, abort, write_events
from .wire import dumps

__all__ = ["Delivery", "OpenBodies"]


class OpenBodies:
    """Counts responses whose body is still being written, so tests can check nothing leaks."""

    def __init__(self) -> None:
        self.count = 0

    @contextmanager
    def track(self) -> Iterator[None]:
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1


@dataclass(frozen=True, slots=True)
class Delivery:
    """Everything a reply needs to reach the client; `delivered` in results means the client got all of it."""

    request: web.BaseRequest
    headers: Mapping[str, str]
    fault: Fault | None
    closing: Closing
    bodies: OpenBodies

    async def stream(self, events: Sequence[SseEvent], settings: StreamSettings) -> tuple[web.StreamResponse, bool]:
        response = web.StreamResponse(headers={**self.headers, "cache-control": "no-cache"})
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        with self.bodies.track():
            try:
                await response.prepare(self.request)
                complete = await write_events(self.request, response, events, settings, self.fault, self.closing)
                if complete:
                    await response.write_eof()
            except ConnectionError:
                return response, False
        return response, complete and (self.fault is None or self.fault.kind != "stream_error")

    async def message(self, payload: Mapping[str, Any], generation_time: float) -> tuple[web.StreamResponse, bool]:
        if self.fault is None or self.fault.kind not in ("stall", "reset_after"):
            # Without streaming, the first byte comes only after the whole generation.
            if not await self.closing.sleep(generation_time):
                return await self._drop()
            return json_response(payload, self.headers), True
        body = dumps(payload).encode()
        response = web.StreamResponse(headers=self.headers)
        response.content_type = "application/json"
        response.content_length = len(body)
        with self.bodies.track():
            try:
                await response.prepare(self.request)
                if self.fault.kind == "reset_after":
                    await response.write(body[: len(body) // 2])
                    await abort(self.request)
                    return response, False
                if not await self.closing.sleep(self.fault.delay):
                    await abort(self.request)
                    return response, False
                await response.write(body)
                await response.write_eof()
            except ConnectionError:
                return response, False
        return response, True

    async def _drop(self) -> tuple[web.StreamResponse, bool]:
        await abort(self.request)
        return web.Response(), False
