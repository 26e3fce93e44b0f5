"""How encoded SSE bytes are cut into socket writes."""

from __future__ import annotations

import itertools
import random
from typing import Final, Literal, Protocol

__all__ = ["CHUNKINGS", "Chunker", "Chunking", "EventChunker", "RandomChunker", "make_chunker"]

Chunking = Literal["event", "random"]
CHUNKINGS: Final[tuple[Chunking, ...]] = ("event", "random")

_MAX_CUTS_PER_EVENT: Final = 3


class Chunker(Protocol):
    def feed(self, data: bytes) -> list[bytes]:
        """The writes to make now for `data`; some bytes may be held back for later."""
        ...

    def flush(self) -> list[bytes]:
        """Whatever is still held back."""
        ...


class EventChunker:
    """One write per SSE event."""

    def feed(self, data: bytes) -> list[bytes]:
        return [data]

    def flush(self) -> list[bytes]:
        return []


class RandomChunker:
    """Cuts at seeded random byte offsets and carries tails into the next event.

    Offsets ignore character and line boundaries on purpose: clients must cope with a UTF-8
    character or a CRLF pair split across reads, as happens on real networks.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._carry = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._carry + data
        if len(buffer) < 2:
            self._carry = buffer
            return []
        cuts = sorted(self._rng.sample(range(1, len(buffer)), min(len(buffer) - 1, self._cut_count())))
        edges = [0, *cuts, len(buffer)]
        pieces = [buffer[a:b] for a, b in itertools.pairwise(edges)]
        # Holding back the last piece sometimes makes event boundaries fall mid-write too.
        if self._rng.random() < 0.5:
            self._carry = pieces.pop()
        else:
            self._carry = b""
        return pieces

    def flush(self) -> list[bytes]:
        carry, self._carry = self._carry, b""
        return [carry] if carry else []

    def _cut_count(self) -> int:
        return self._rng.randint(0, _MAX_CUTS_PER_EVENT)


def make_chunker(chunking: Chunking, seed: int) -> Chunker:
    if chunking == "random":
        return RandomChunker(random.Random(seed))
    return EventChunker()
