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
from collections.abc import Sequence
from typing import Final, Self

__all__ = ["Replay"]

_CONTENT_LENGTH: Final = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_NO_LENGTH: Final = b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class Replay:
    """An HTTP/1.1 keep-alive server on 127.0.0.1 that answers request k with ``responses[k % len]``."""

    def __init__(self, responses: Sequence[bytes]) -> None:
        self._next = itertools.cycle(responses)
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

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                length = _CONTENT_LENGTH.search(head)
                if length is None:
                    # The transport sends a sized body; anything else is a change worth hearing about.
                    writer.write(_NO_LENGTH)
                    return
                await reader.readexactly(int(length.group(1)))
                self.served += 1
                writer.write(next(self._next))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
