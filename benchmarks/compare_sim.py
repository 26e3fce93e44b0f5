"""The simulator process for ``compare.py``: one ``Simulator``, replies sized by what the request asks for.

Run by ``compare.py`` (project venv); by hand: ``.venv/bin/python benchmarks/compare_sim.py``. It prints
``READY <live base_url> <replay base_url>`` and serves until its standard input closes: the live
simulator, and ``Replay`` (below), the same simulator's answers recorded once and written at wire speed.

A client in another process cannot script replies through ``sim.enqueue``, so the reply is chosen
from the request: a last user turn containing ``bench:text:N`` is answered with N text deltas,
``bench:tool:N`` with a short text then a tool call whose arguments stream in N chunks. Anything
else gets the simulator's own default reply. The simulator itself is unchanged; this script only
wraps the function it calls when no reply is scripted, and sets three server knobs:

* fast: ``token_delay=0``, ``chunking="event"``, no fault profile, rate limits out of reach;
* keep-alive of an hour, so a client's pool stays warm while the other clients take their turns;
* a listen backlog of 4,096, so a thousand simultaneous connects are not dropped and retried.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from aiohttp import web

from axio_transport_anthropic.simulator import Reply, Simulator
from axio_transport_anthropic.simulator import server as sim_server
from axio_transport_anthropic.simulator.defaults import default_reply
from perf.replay import serve_connection
from perf.streams import TOOL_CHARS, WORDS

__all__ = ["TOOL_INTRO", "WORDS", "ask", "reply_for", "serve", "text_of", "tool_arguments", "tool_json_chars"]

#: The simulator sends two words per text delta and 12 characters of tool arguments per delta, the
#: words and sizes of the performance gate's streams (perf/streams.py).
WORDS_PER_DELTA: Final = 2
TOOL_CHARS_PER_DELTA: Final = TOOL_CHARS
TOOL_NAME: Final = "write_file"
TOOL_INTRO: Final = "I'll write that file now."
_ASK: Final = re.compile(r"bench:(text|tool):(\d+)")
MODEL: Final = "claude-sonnet-4-6"
_LAST_CHUNK: Final = b"\r\n0\r\n\r\n"
UNLIMITED: Final = dict.fromkeys(("requests", "tokens", "input_tokens", "output_tokens"), 10**12)


def ask(shape: str, deltas: int) -> str:
    """The user turn that asks this script for a reply of this shape."""
    return f"bench:{shape}:{deltas}"


def text_of(deltas: int) -> str:
    words = [WORDS[i % len(WORDS)] for i in range(WORDS_PER_DELTA * deltas)]
    return " ".join(words)


def tool_arguments(chunks: int) -> dict[str, str]:
    """Arguments whose JSON is exactly ``chunks`` x 12 characters, so it streams in ``chunks`` deltas."""
    frame = len(json.dumps({"path": "notes.md", "content": ""}))
    body = text_of(chunks)
    while len(body) < TOOL_CHARS_PER_DELTA * chunks:
        body += " " + body
    size = TOOL_CHARS_PER_DELTA * chunks - frame
    return {"path": "notes.md", "content": body[: size - 1].rstrip(" ").ljust(size - 1, ".") + "."}


def tool_json_chars(chunks: int) -> int:
    return len(json.dumps(tool_arguments(chunks), ensure_ascii=False))


@cache
def text_reply(deltas: int) -> Reply:
    return Reply.text(text_of(deltas))


@cache
def tool_reply(chunks: int) -> Reply:
    return Reply.tool_use(TOOL_NAME, tool_arguments(chunks), text=TOOL_INTRO)


def reply_for(body: Mapping[str, Any]) -> Reply:
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    found = _ASK.search(json.dumps(last)) if last is not None else None
    if found is None:
        return default_reply(body)
    shape, size = found.group(1), int(found.group(2))
    return text_reply(size) if shape == "text" else tool_reply(size)


class _LongKeepAliveRunner(web.AppRunner):
    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", 3600.0)
        super().__init__(app, **kwargs)


class _DeepBacklogSite(web.TCPSite):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("backlog", 4096)
        super().__init__(*args, **kwargs)


def _install() -> None:
    """Point the simulator at ``reply_for`` and the two server classes above (this process only)."""
    vars(sim_server)["default_reply"] = reply_for
    # The simulator reaches these through the shared ``aiohttp.web`` module, as this file does.
    web.AppRunner = _LongKeepAliveRunner  # type: ignore[misc]
    web.TCPSite = _DeepBacklogSite  # type: ignore[misc]


async def _until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


class Replay:
    """The simulator's answers at wire speed: each one recorded once from the simulator, byte for byte
    (status line, headers, one HTTP chunk per SSE event), then written whole on every request for it.

    The live simulator spends ~15 µs of CPU per event (a JSON encode and a ``send`` each), more than
    a fast client needs to read one, so against it fast clients wait on the server and read in small
    pieces, and their CPU per event mostly measures how often they woke up. Replayed, the body is
    in the socket before the client asks: every client reads as fast as it can, and CPU per event is
    what the client itself costs. Only HTTP/1.1 keep-alive POSTs with a ``Content-Length`` are served.
    """

    def __init__(self, live_port: int) -> None:
        self._live_port = live_port
        self._recorded: dict[bytes, bytes] = {}

    async def record(self, key: str) -> bytes:
        recorded = self._recorded.get(key.encode())
        if recorded is not None:
            return recorded
        reader, writer = await asyncio.open_connection("127.0.0.1", self._live_port)
        body = json.dumps(
            {"model": MODEL, "max_tokens": 64000, "stream": True, "messages": [{"role": "user", "content": key}]}
        ).encode()
        head = (
            "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: sk-ant-replay\r\n"
            f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        pieces: list[bytes] = []
        tail = b""
        while not tail.endswith(_LAST_CHUNK):
            piece = await reader.read(1 << 16)
            if not piece:
                raise RuntimeError(f"the simulator closed the connection while recording {key!r}")
            pieces.append(piece)
            tail = (tail + piece)[-len(_LAST_CHUNK) :]
        writer.close()
        recorded = self._recorded[key.encode()] = b"".join(pieces)
        if not recorded.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"the simulator refused {key!r}: {recorded[:200]!r}")
        return recorded

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(reader, writer, self.answer)

    async def answer(self, body: bytes) -> bytes:
        found = _ASK.search(body.decode("utf-8", "replace"))
        if found is None:
            return b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
        return self._recorded.get(found.group(0).encode()) or await self.record(found.group(0))


async def serve(port: int, prepare: list[str], token_delay: float = 0.0) -> None:
    _install()
    simulator = Simulator(
        token_delay=token_delay, chunking="event", port=port, rate_limits=UNLIMITED, keep_requests=100, profile=None
    )
    async with simulator as sim:
        replay = Replay(sim.port)
        for key in prepare:
            await replay.record(key)
        server = await asyncio.start_server(replay.handle, "127.0.0.1", 0, backlog=4096)
        async with server:
            replay_port = server.sockets[0].getsockname()[1]
            print(f"READY {sim.base_url} http://127.0.0.1:{replay_port}/v1", flush=True)
            await _until_stdin_closes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="of the live simulator; 0 picks a free port")
    parser.add_argument("--prepare", default="", help="comma-separated bench:SHAPE:N answers to record at start")
    parser.add_argument(
        "--token-delay", type=float, default=0.0, help="the live simulator's pause before each delta (0: wire speed)"
    )
    args = parser.parse_args()
    asyncio.run(serve(args.port, [key for key in args.prepare.split(",") if key], args.token_delay))


if __name__ == "__main__":
    main()
