"""The simulator in a process of its own, for the load test, with what it served on ``GET /stats``.

``python sim_runner.py [--rates JSON] [--seed N] [--inject-http-errors N] [--inject-stream-errors N]
[--token-delay S] [--max-seconds S]`` prints one JSON line, ``{"base_url": ..., "stats_url": ...}``,
then serves on 127.0.0.1 until SIGTERM/SIGINT, until its stdin closes (the parent is gone), or
for ``--max-seconds`` at most, whichever comes first.

``/stats`` (a second aiohttp app, on its own port): ``served`` (``POST /v1/messages`` requests
seen), ``by_fault`` (how many got each fault kind, ``none`` for none), ``open_streams`` and
``requests`` (``[request_id, marker, fault]`` per request, the marker being the last user text).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections import Counter
from typing import Any

from aiohttp import web

from axio_transport_anthropic.simulator import Fault, FaultProfile, Simulator

HOST = "127.0.0.1"


def _marker(body: Any) -> str:
    try:
        content = body["messages"][-1]["content"]
        return str(content if isinstance(content, str) else content[0]["text"])
    except (KeyError, IndexError, TypeError):
        return ""


def stats(sim: Simulator) -> dict[str, Any]:
    served = [r for r in sim.requests if r.method == "POST" and r.path == "/v1/messages"]
    return {
        "served": len(served),
        "by_fault": dict(Counter(r.fault or "none" for r in served)),
        "open_streams": sim.open_streams,
        "requests": [[r.request_id, _marker(r.body), r.fault] for r in served],
    }


async def _until_stopped(max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def parent_gone() -> None:
        await reader.read()  # EOF: the parent closed our stdin or died
        stop.set()

    watcher = asyncio.create_task(parent_gone())
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max_seconds)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def serve(args: argparse.Namespace) -> None:
    rates: dict[str, float] = json.loads(args.rates)
    profile = FaultProfile(rates, seed=args.seed) if rates else None
    async with Simulator(profile=profile, seed=args.seed, token_delay=args.token_delay, host=HOST) as sim:
        sim.inject(*[Fault.http_error(400, "invalid_request_error", "load: a bad request")] * args.inject_http_errors)
        sim.inject(*[Fault.stream_error("overloaded_error", "Overloaded", after_events=4)] * args.inject_stream_errors)

        async def stats_route(request: web.Request) -> web.Response:
            return web.json_response(stats(sim))

        app = web.Application()
        app.router.add_get("/stats", stats_route)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, HOST, 0).start()
            stats_port = runner.addresses[0][1]
            print(json.dumps({"base_url": sim.base_url, "stats_url": f"http://{HOST}:{stats_port}/stats"}), flush=True)
            await _until_stopped(args.max_seconds)
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="{}", help="FaultProfile rates as JSON, e.g. '{\"overloaded\": 0.1}'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inject-http-errors", type=int, default=0, help="queue this many 400s first")
    parser.add_argument("--inject-stream-errors", type=int, default=0, help="then this many errors after output")
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
