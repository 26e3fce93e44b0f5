"""The floors: plain aiohttp reading the body (``raw-read``), and splitting and parsing it (``parse-floor``).

Runs in every client's venv: the standard library only at module level (see compare_client.py).
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from client_interface import HEADERS, MAX_TOKENS, MODEL, Received, ask, version_of

__all__ = ["ParseFloor", "RawRead"]


class _AiohttpBase:
    def __init__(self) -> None:
        self._aiohttp: Any = None
        self._session: Any = None
        self._url = ""
        self._bodies: dict[tuple[str, int], bytes] = {}
        self._max_tokens = MAX_TOKENS

    async def open(self, url: str, pool: int, max_tokens: int) -> None:
        self._max_tokens = max_tokens
        self._aiohttp = importlib.import_module("aiohttp")
        self._session = self._aiohttp.ClientSession(connector=self._aiohttp.TCPConnector(limit=pool))
        self._url = url.rstrip("/") + "/messages"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def versions(self) -> dict[str, str]:
        return {"aiohttp": version_of("aiohttp")}

    def _body(self, shape: str, deltas: int) -> bytes:
        body = self._bodies.get((shape, deltas))
        if body is None:
            payload = {
                "model": MODEL,
                "max_tokens": self._max_tokens,
                "stream": True,
                "messages": [{"role": "user", "content": ask(shape, deltas)}],
            }
            body = self._bodies[(shape, deltas)] = json.dumps(payload).encode()
        return body

    async def one(self, shape: str, deltas: int) -> Received:
        raise NotImplementedError

    async def collect(self, shape: str, deltas: int, keep: bool) -> tuple[str, Received]:
        """The floors keep nothing: their peak is what reading the body costs."""
        return "", await self.one(shape, deltas)


class RawRead(_AiohttpBase):
    """The floor: POST, read the body bytes, nothing else."""

    async def one(self, shape: str, deltas: int) -> Received:
        async with self._session.post(self._url, data=self._body(shape, deltas), headers=HEADERS) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
            content = response.content
            size = 0
            while chunk := await content.readany():
                size += len(chunk)
        return Received(body_bytes=size)


class ParseFloor(_AiohttpBase):
    """The parse floor: the body split into lines, ``json.loads`` of every ``data:`` line."""

    async def one(self, shape: str, deltas: int) -> Received:
        loads = json.loads
        async with self._session.post(self._url, data=self._body(shape, deltas), headers=HEADERS) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
            content = response.content
            size = events = 0
            tail = b""
            while chunk := await content.readany():
                size += len(chunk)
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                for line in lines:
                    if line.startswith(b"data:"):
                        loads(line[5:])
                        events += 1
        return Received(body_bytes=size, sse_events=events)
