"""The in-process replay: recorded responses written whole, in turn, from the measured process's own loop.

Inside the measured process, so its instructions are counted with the client's. They are few and
the same on every request: read the request head, find ``content-length``, read the body, write one
``bytes`` object that was built before counting began. Against ~50 M instructions for a 1,000-delta
request that is well under 0.1 %, and it is the same in the baseline and now, so it cannot move a
comparison. A server in another process would not be counted at all, but then the bytes arrive as
that process's scheduling lets them and the client's read sizes (so its counts) vary from run to
run; here every write happens at the same point of the one event loop. Standard library only.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Self

__all__ = ["Answer", "Replay", "serve_connection"]

_CONTENT_LENGTH: Final = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")

#: What a server writes back, whole, for a request's body.
Answer = Callable[[bytes], Awaitable[bytes]]


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: Answer) -> None:
    """One keep-alive connection's HTTP/1.1 requests, answered in turn until the client closes it.

    Each request's body (sized by ``content-length``, as every client measured sends it; empty
    without) goes to ``answer``, whose bytes are written back in one write. Also the replay of
    ``compare_sim.py``, which answers from recordings of the simulator.
    """
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            length = _CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
            writer.write(await answer(body))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


class Replay:
    """An HTTP/1.1 keep-alive server on 127.0.0.1 that answers request k with ``responses[k % len]``,
    or, given a function instead, with what it returns for the request's body."""

    def __init__(self, responses: Sequence[bytes] | Callable[[bytes], bytes]) -> None:
        if callable(responses):
            self._respond = responses
        else:
            cycle = itertools.cycle(responses)
            self._respond = lambda body: next(cycle)
        self._server: asyncio.Server | None = None
        self.served = 0

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the replay is not serving"
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, body: bytes) -> bytes:
        self.served += 1
        return self._respond(body)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(reader, writer, self._answer)
