"""Decoder cost against the floor: a bare line split + json.loads of the same bytes.

Run: .venv/bin/python benchmarks/decoder.py  (CPU time, best of several rounds, same process)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from axio_transport_anthropic.decoder import MessageStreamDecoder


def _event(name: str, payload: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def make_stream(deltas: int = 3000) -> bytes:
    parts = [
        _event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-6",
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 10, "output_tokens": 1},
                },
            },
        ),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    for i in range(deltas):
        parts.append(
            _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"word{i} café "}},
            )
        )
        if i % 500 == 0:
            parts.append(_event("ping", {"type": "ping"}))
    parts += [
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": deltas}},
        ),
        _event("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(parts)


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def floor(chunks: list[bytes]) -> int:
    """The least any decoder must do: split lines and parse each data line's JSON."""
    tail = b""
    n = 0
    for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                json.loads(line[5:])
                n += 1
    return n


def ours(chunks: list[bytes]) -> int:
    decoder = MessageStreamDecoder()
    n = 0
    for chunk in chunks:
        n += len(decoder.feed(chunk))
    n += len(decoder.close())
    decoder.finish()
    return n


def best_cpu(fn: Callable[[list[bytes]], int], chunks: list[bytes], rounds: int = 7) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        fn(chunks)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    stream = make_stream()
    print(f"stream: {len(stream):,} bytes")
    print(f"{'chunk size':>10} | {'floor ms':>9} | {'decoder ms':>10} | {'ratio':>5}")
    for size in (64, 1024, 16384):
        chunks = chunks_of(stream, size)
        base = best_cpu(floor, chunks)
        mine = best_cpu(ours, chunks)
        print(f"{size:>10} | {base * 1000:>9.2f} | {mine * 1000:>10.2f} | {mine / base:>5.2f}")


if __name__ == "__main__":
    main()
