"""The scraped process of tests/test_prometheus.py.

Serves /metrics, runs a seeded fault-profile simulator, makes CALLS stream() calls against it one at
a time, writes what the simulator served to OUT_DIR/counts.json, then serves until killed (or until
its parent is gone, so a crashed test run leaves nothing behind).

``python prometheus_worker.py OUT_DIR CALLS SEED``; OUT_DIR/ready.json gives the metrics port first.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from axio.blocks import TextBlock
from axio.messages import Message
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import start_http_server

from axio_transport_anthropic import AnthropicError, AnthropicTransport
from axio_transport_anthropic.simulator import Fault, FaultProfile, Simulator
from axio_transport_anthropic.telemetry import TelemetryConfig

#: Faults whose status and retry reason follow from the kind alone (no 504 among the server errors,
#: no multi-second retry-after); the 429s are injected with a short wait instead.
RATES = {
    "overloaded": 0.08,
    "server_error_plain": 0.05,
    "reset_before": 0.05,
    "reset_after": 0.05,
    "stream_error": 0.08,
}
RATE_LIMITED = 3


def write_json(path: Path, data: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    temporary.replace(path)  # atomic: the test never reads half a file


async def work(calls: int, seed: int) -> dict[str, Any]:
    tracer = TracerProvider().get_tracer("prometheus-worker")
    served: list[list[str]] = []
    raised = output_tokens = 0
    trace_ids: list[str] = []
    async with Simulator(profile=FaultProfile(RATES, seed=seed), seed=seed) as sim, aiohttp.ClientSession() as http:
        sim.inject(*[Fault.rate_limited(retry_after=0.02)] * RATE_LIMITED)
        transport = AnthropicTransport(
            api_key="k",
            base_url=sim.base_url,
            session=http,
            retry_base_delay=0.005,
            retry_max_delay=0.02,
            telemetry=TelemetryConfig(traces=False, logs=False),
        )
        for i in range(calls):
            before = len(sim.requests)
            messages = [Message(role="user", content=[TextBlock(text=f"Tell me about the number {i}.")])]
            with tracer.start_as_current_span("agent turn") as span:
                trace_ids.append(format(span.get_span_context().trace_id, "032x"))
                try:
                    async for _ in transport.stream(messages, [], ""):
                        pass
                except AnthropicError:
                    raised += 1
            if transport.last_usage is not None:
                output_tokens += transport.last_usage.output_tokens
            served.append([record.fault or "none" for record in sim.requests[before:]])
    # Calls are sequential, so each call's records are known: all but its last were retried.
    return {
        "served": sum(len(kinds) for kinds in served),
        "by_fault": Counter(kind for kinds in served for kind in kinds),
        "retried": Counter(kind for kinds in served for kind in kinds[:-1]),
        "ok": sum(kinds[-1] == "none" for kinds in served),
        "error": sum(kinds[-1] != "none" for kinds in served),
        "raised": raised,
        "output_tokens": output_tokens,
        "trace_ids": trace_ids,
    }


def main(out_dir: Path, calls: int, seed: int) -> None:
    parent = os.getppid()
    server, _ = start_http_server(0, addr="127.0.0.1")
    write_json(out_dir / "ready.json", {"metrics_port": server.server_port, "pid": os.getpid()})
    counts = asyncio.run(work(calls, seed))
    counts["finished_at"] = time.time()
    write_json(out_dir / "counts.json", counts)
    while os.getppid() == parent:
        time.sleep(0.2)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
