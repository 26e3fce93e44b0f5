"""A long answer that arrives faster than it is read is still decoded a bounded piece at a time.

When the server outruns the client, aiohttp's buffer holds hundreds of KiB; ``readany()`` would
join all of it into one more copy and the decoder would turn it into text, lines and events at
once (about four times the bytes). The transport reads at most ``_READ_SIZE`` at a time instead.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from axio.events import IterationEnd, TextDelta

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.attempt import _READ_SIZE
from axio_transport_anthropic.decoder import MessageStreamDecoder
from axio_transport_anthropic.simulator import Reply, Simulator

from .conftest import SECRET
from .support import user


async def test_a_fast_long_answer_is_decoded_in_bounded_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    fed: list[int] = []
    feed = MessageStreamDecoder.feed

    def recording(self: MessageStreamDecoder, chunk: bytes) -> list[object]:
        fed.append(len(chunk))
        return feed(self, chunk)  # type: ignore[return-value]

    monkeypatch.setattr(MessageStreamDecoder, "feed", recording)
    text = "word " * 40_000  # about 200 KB of text, 40,000 deltas on the wire
    async with Simulator(api_key=SECRET) as sim, aiohttp.ClientSession() as session:
        sim.enqueue(Reply.text(text))
        transport = AnthropicTransport(api_key=SECRET, base_url=sim.base_url, session=session, max_tokens=100_000)
        stream = aiter(transport.stream(user("a long one"), [], ""))
        events = [await anext(stream)]
        await asyncio.sleep(0.3)  # let the server write everything while nobody reads
        events += [event async for event in stream]
    assert isinstance(events[-1], IterationEnd)
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == text
    assert sum(fed) > 1_000_000, f"the answer was only {sum(fed)} bytes on the wire"
    assert max(fed) <= _READ_SIZE, f"the decoder was fed {max(fed)} bytes at once"
    assert max(fed) == _READ_SIZE, "the server never outran the reader: the bound was not exercised"
