"""The answers the gate decodes and serves: fixed bytes, the same on every run and every machine.

Shaped like the Messages API's own (and the simulator's): ``message_start`` with full usage, a
content block of N deltas, ``message_delta`` and ``message_stop``; one HTTP chunk per event on the
wire. They are built here rather than recorded from the simulator so that a change to the simulator
cannot move the counts: these bytes change only when this file does, and then the baseline must too.
Standard library only.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

__all__ = ["TOOL_CHARS", "WORDS", "Shape", "http_200", "http_429", "sse_body", "stream_events"]

Shape = Literal["text", "tool", "thinking", "words"]

MODEL: Final = "claude-sonnet-4-6"
#: Plain words of typical length, one with a non-ASCII letter, as in ordinary model prose; two a
#: text or thinking delta. ``compare_sim.py`` streams the same ones to ``compare.py``'s clients.
_PROSE: Final = (
    "the quick brown fox jumps over a lazy dog while we write some ordinary prose about "
    "streaming, parsing and telemetry; each café serves numbers like 42 and 3.14 to readers."
)
WORDS: Final = tuple(_PROSE.split())
#: Characters of tool-argument JSON per ``input_json_delta``, as the API streams them.
TOOL_CHARS: Final = 12
_SIGNATURE: Final = "EqQBCkYIBRgCIkB" + "x" * 300
_USAGE: Final = {
    "input_tokens": 14,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "service_tier": "standard",
}
_RATE_LIMITS: Final = "".join(
    f"anthropic-ratelimit-{name}-limit: 4000000\r\n"
    f"anthropic-ratelimit-{name}-remaining: 3999000\r\n"
    f"anthropic-ratelimit-{name}-reset: 2026-01-01T00:00:00Z\r\n"
    for name in ("requests", "tokens", "input-tokens", "output-tokens")
)
_COMMON_HEADERS: Final = (
    "request-id: req_perf_0000000000000000000001\r\n"
    "anthropic-organization-id: 00000000-0000-4000-8000-000000000000\r\n"
    "date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
)


def _event(name: str, payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {data}\n\n".encode()


def _words(delta: int) -> str:
    first = 2 * delta
    return f"{WORDS[first % len(WORDS)]} {WORDS[(first + 1) % len(WORDS)]} "


def _tool_json(deltas: int) -> str:
    """Arguments whose JSON is exactly ``deltas`` x 12 characters."""
    frame = len(json.dumps({"path": "notes.md", "content": ""}))
    size = TOOL_CHARS * deltas - frame
    text = "".join(_words(i) for i in range(deltas))
    while len(text) < size:
        text += text
    return json.dumps({"path": "notes.md", "content": text[:size]}, ensure_ascii=False) if deltas else ""


def _block(shape: Shape, deltas: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The opening ``content_block`` and the deltas of one block of this shape."""
    if shape == "text":
        return {"type": "text", "text": ""}, [{"type": "text_delta", "text": _words(i)} for i in range(deltas)]
    if shape == "words":  # text of distinct words: an answer axio's repetition stop lets through
        distinct = [{"type": "text_delta", "text": f"w{2 * i} w{2 * i + 1} "} for i in range(deltas)]
        return {"type": "text", "text": ""}, distinct
    if shape == "thinking":
        thoughts: list[dict[str, Any]] = [{"type": "thinking_delta", "thinking": _words(i)} for i in range(deltas)]
        return {"type": "thinking", "thinking": ""}, [*thoughts, {"type": "signature_delta", "signature": _SIGNATURE}]
    arguments = _tool_json(deltas)
    parts = [arguments[i : i + TOOL_CHARS] for i in range(0, len(arguments), TOOL_CHARS)]
    start = {"type": "tool_use", "id": "toolu_perf_000000000000000001", "name": "write_file", "input": {}}
    return start, [{"type": "input_json_delta", "partial_json": part} for part in parts]


def stream_events(shape: Shape, deltas: int) -> list[bytes]:
    """One answer's SSE events, each one ``event:`` + ``data:`` + blank line."""
    start, block_deltas = _block(shape, deltas)
    message: dict[str, Any] = {
        "id": "msg_perf_000000000000000000000001",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**_USAGE, "output_tokens": 1},
    }
    stop = "tool_use" if shape == "tool" else "end_turn"
    return [
        _event("message_start", {"type": "message_start", "message": message}),
        _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start}),
        _event("ping", {"type": "ping"}),
        *(
            _event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            for delta in block_deltas
        ),
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {**_USAGE, "output_tokens": 2 * deltas + 1},
            },
        ),
        _event("message_stop", {"type": "message_stop"}),
    ]


def sse_body(shape: Shape, deltas: int) -> bytes:
    """The response body as the decoder reads it (no HTTP framing)."""
    return b"".join(stream_events(shape, deltas))


def http_200(shape: Shape, deltas: int) -> bytes:
    """The whole HTTP/1.1 response: status line, headers and the body in one chunk per event."""
    head = (
        "HTTP/1.1 200 OK\r\n"
        "content-type: text/event-stream; charset=utf-8\r\n"
        "transfer-encoding: chunked\r\n"
        "cache-control: no-cache\r\n"
        f"{_COMMON_HEADERS}{_RATE_LIMITS}\r\n"
    ).encode()
    chunks = [b"%x\r\n%b\r\n" % (len(event), event) for event in stream_events(shape, deltas)]
    return head + b"".join(chunks) + b"0\r\n\r\n"


def http_429() -> bytes:
    """A rate-limit refusal as the API sends it; no ``retry-after``, so the client's backoff decides."""
    body = json.dumps(
        {
            "type": "error",
            "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your limit."},
            "request_id": "req_perf_0000000000000000000001",
        },
        separators=(",", ":"),
    ).encode()
    head = (
        "HTTP/1.1 429 Too Many Requests\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-should-retry: true\r\n"
        f"{_COMMON_HEADERS}{_RATE_LIMITS}\r\n"
    ).encode()
    return head + body
