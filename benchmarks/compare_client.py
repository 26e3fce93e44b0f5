"""One client process of ``compare.py``: takes commands on stdin, answers with one JSON line each.

Runs under whichever venv holds the client it measures (the project's, the published 0.12.2's, the
SDK's), so only the standard library is imported at module level, here and in the modules beside it
that it imports (client_interface, client_measure, clients_aiohttp, clients_axio, clients_sdk); each
client imports its libraries when it opens. CPU time is ``time.process_time()`` of this process (every
thread), taken around the measured streams only: start-up, imports, connecting and warm-up are outside it.

Protocol (one JSON object per line; answers are prefixed with ``@@ `` so that stray output from a
library cannot be mistaken for one):

* ``{"op": "open", "url": ..., "pool": N, "max_tokens": M}``: make the session (or SDK client) for N
  concurrent streams; ``max_tokens`` (optional) is for answers longer than the model's output limit;
* ``{"op": "run", "shape": "text"|"tool", "deltas": D, "streams": S, "loops": L}``: L times, S streams
  at once; answers CPU and wall seconds and what was received;
* ``{"op": "memory", "shape": ..., "deltas": D, "keep": bool}``: one stream under ``tracemalloc``;
* ``{"op": "profile", ..., "path": P}``: a ``run`` under ``cProfile``, stats written to P;
* ``{"op": "close"}``, ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import sys
from collections.abc import Callable
from typing import Any, Final

from client_interface import MAX_TOKENS, Client, Received
from client_measure import measure, measure_memory
from clients_aiohttp import ParseFloor, RawRead
from clients_axio import OursFull, OursOff, Published
from clients_sdk import SdkCreate, SdkStream

__all__ = ["CLIENTS", "Received", "main"]

CLIENTS: Final[dict[str, Callable[[], Client]]] = {
    "raw-read": RawRead,
    "parse-floor": ParseFloor,
    "published": Published,
    "sdk-create": SdkCreate,
    "sdk-stream": SdkStream,
    "ours-off": OursOff,
    "ours-full": OursFull,
}


async def _handle(client: Client, command: dict[str, Any]) -> dict[str, Any]:
    match command["op"]:
        case "open":
            await client.open(str(command["url"]), int(command["pool"]), int(command.get("max_tokens", MAX_TOKENS)))
            return {"versions": client.versions()}
        case "run":
            return await measure(client, command, None)
        case "profile":
            profile = cProfile.Profile()
            result = await measure(client, command, profile)
            profile.dump_stats(str(command["path"]))
            return result
        case "memory":
            return await measure_memory(client, command)
        case "close":
            await client.close()
            return {}
        case other:
            raise ValueError(f"unknown op {other!r}")


async def _serve(name: str) -> None:
    client = CLIENTS[name]()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _reply({"ready": name, "python": sys.version.split()[0]})
    try:
        while line := await reader.readline():
            command = json.loads(line)
            if command["op"] == "quit":
                break
            try:
                _reply({"ok": True, **await _handle(client, command)})
            except Exception as exc:
                _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        await client.close()


def _reply(answer: dict[str, Any]) -> None:
    sys.stdout.write("@@ " + json.dumps(answer) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description="A client process of compare.py (see its docstring).")
    parser.add_argument("client", choices=sorted(CLIENTS))
    args = parser.parse_args()
    asyncio.run(_serve(args.client))


if __name__ == "__main__":
    main()
