"""A client of ``benchmarks/compare.py`` streaming from the in-process replay: the peers' cost per event.

For ``benchmarks/compare_instructions.py`` (reported, not gated): this project, the published
0.12.2 and the official SDK, each in its own venv, read the same bytes (``streams.http_200``). A run
of k streams one answer of ``BASE + k`` deltas, which the replay picks by what the client asked for
(``client_interface.ask``); the counted difference of the two runs is k deltas' worth of reading,
decoding and handing out events, each client's whole path, with what a stream costs by itself
(request, headers, start and stop events) subtracted. Runs in venvs without this project's
dependencies: the standard library only at module level, like the clients it drives.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

from .replay import Replay
from .streams import Shape, http_200

if TYPE_CHECKING:
    from .workloads import Run

__all__ = ["BASE", "client_streaming"]

#: Deltas in the answer of a run of 0: every client gets a real, non-empty block.
BASE: Final = 10
_ASKED: Final = re.compile(rb"bench:(?:text|tool):(\d+)")


@asynccontextmanager
async def client_streaming(client: str, shape: Shape, size: int) -> AsyncIterator[Run]:
    from client_interface import MAX_TOKENS
    from compare_client import CLIENTS

    answers = {BASE + k: http_200(shape, BASE + k) for k in (0, size)}

    def answer(body: bytes) -> bytes:
        asked = _ASKED.search(body)
        if asked is None or int(asked.group(1)) not in answers:
            raise AssertionError(f"{client} asked for something the replay has no answer to: {body[:200]!r}")
        return answers[int(asked.group(1))]

    async with Replay(answer) as replay:
        streaming = CLIENTS[client]()
        await streaming.open(replay.base_url, 1, MAX_TOKENS)
        try:

            async def run(k: int) -> None:
                got = await streaming.one(shape, BASE + k)
                if got.deltas != BASE + k:
                    raise AssertionError(f"{client}: {got.deltas} deltas of an answer of {BASE + k}")

            yield run
        finally:
            await streaming.close()
