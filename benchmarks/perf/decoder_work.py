"""The decoder per event: one answer's bytes through ``MessageStreamDecoder``, 16 KiB at a time.

No IO: the bytes are built and cut before counting starts, in the reads the transport makes
(``attempt._READ_SIZE``, 16 KiB). A run of k decodes the answer of k deltas; the gate subtracts the
run of 0 (the same answer with no deltas: start, block start and stop, message delta, stop), so
what is left is k deltas' worth of SSE splitting, JSON parsing and event building.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

from .streams import Shape, sse_body

if TYPE_CHECKING:
    from .workloads import Run

__all__ = ["decoding"]

#: What the transport reads at a time (``attempt._READ_SIZE``), written out: the gate's input must
#: not move because a private constant did.
READ_SIZE: Final = 16 * 1024


def _reads(data: bytes) -> list[bytes]:
    return [data[i : i + READ_SIZE] for i in range(0, len(data), READ_SIZE)]


@asynccontextmanager
async def decoding(shape: Shape, size: int) -> AsyncIterator[Run]:
    from axio.events import ReasoningDelta, TextDelta, ToolInputDelta

    from axio_transport_anthropic.decoder import MessageStreamDecoder

    kind = {"text": TextDelta, "tool": ToolInputDelta, "thinking": ReasoningDelta}[shape]
    # Built now for the two counted runs; any other (the warm-up) is built when asked for, uncounted.
    reads = {k: _reads(sse_body(shape, k)) for k in (0, size)}

    async def run(k: int) -> None:
        if k not in reads:
            reads[k] = _reads(sse_body(shape, k))
        decoder = MessageStreamDecoder()
        seen = 0
        for chunk in reads[k]:
            for event in decoder.feed(chunk):
                if type(event) is kind:
                    seen += 1
        for event in decoder.close():
            if type(event) is kind:
                seen += 1
        decoder.finish()
        if seen != k:
            raise AssertionError(f"decoded {seen} {kind.__name__} events from an answer of {k} deltas")

    yield run
