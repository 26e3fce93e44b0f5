"""What telemetry costs per stream: each sink against ``telemetry=None``, paired stream by stream.

Run: .venv/bin/python benchmarks/telemetry.py [--streams N] [--instructions]

The answers come from ``compare_sim.py``'s replay server in another process (recorded answers
written at wire speed), so only the client's CPU is counted. One process holds a transport per
variant on one ``aiohttp`` session and streams with each in turn, in rotating order, timing each
stream's thread CPU: a variant's cost is the median over streams of its difference from the
``off`` stream next to it, which a noisy neighbour slows alike. "all" is the benchmark's full
telemetry: an SDK tracer with a ``BatchSpanProcessor`` (to an exporter that drops), a fresh
Prometheus registry and ``telemetry.setup()``'s JSON logs at INFO to ``/dev/null``.

Two answer sizes: 10 text deltas (the cost with the telemetry code still in the CPU caches) and
1,000 (after decoding 110 KB, which evicts it: the same work costs about twice as much).
``--instructions`` also counts instructions with callgrind (valgrind), which no neighbour moves:
per 1,000-delta stream, the difference between runs of 0 and ``INSTRUCTION_STREAMS`` streams.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import aiohttp
from axio.blocks import TextBlock
from axio.messages import Message
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport, telemetry
from axio_transport_anthropic.telemetry import TelemetryConfig

HERE: Final = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_plan import Workload  # noqa: E402
from compare_processes import simulator  # noqa: E402
from compare_sim import ask  # noqa: E402

KEY: Final = "sk-ant-bench-0000"
VARIANTS: Final = ("none", "traces", "metrics", "logs", "all")
SIZES: Final = (10, 1000)
INSTRUCTION_STREAMS: Final = 20


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _config(variant: str, provider: TracerProvider) -> TelemetryConfig | None:
    if variant == "off":
        return None
    return TelemetryConfig(
        tracer_provider=provider,
        registry=CollectorRegistry(),
        traces=variant in ("traces", "all"),
        metrics=variant in ("metrics", "all"),
        logs=variant in ("logs", "all"),
    )


def _messages(deltas: int) -> list[Message]:
    return [Message(role="user", content=[TextBlock(text=ask("text", deltas))])]


async def _one(transport: AnthropicTransport, messages: list[Message]) -> float:
    started = time.thread_time()
    async for _ in transport.stream(messages, [], ""):
        pass
    return time.thread_time() - started


async def _paired(url: str, variants: Sequence[str], streams: int) -> dict[int, dict[str, list[float]]]:
    """Thread CPU seconds of each stream, by answer size and variant, the variants taking turns."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Drop()))
    cpu: dict[int, dict[str, list[float]]] = {}
    async with aiohttp.ClientSession() as session:
        transports = {
            name: AnthropicTransport(api_key=KEY, base_url=url, session=session, telemetry=_config(name, provider))
            for name in ("off", *variants)
        }
        order = list(transports.items())
        for deltas in SIZES:
            messages = _messages(deltas)
            for _, transport in order:  # warm: connections, first-use caches, metric children
                for _ in range(5):
                    await _one(transport, messages)
            times: dict[str, list[float]] = {name: [] for name in transports}
            for i in range(streams):
                shift = i % len(order)
                for name, transport in order[shift:] + order[:shift]:
                    times[name].append(await _one(transport, messages))
            cpu[deltas] = times
    provider.shutdown()
    return cpu


def _instructions(url: str, variant: str, streams: int) -> int:
    """Instructions the client executes for ``streams`` 1,000-delta streams (plus start-up)."""
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        variant,
        "--url",
        url,
        "--streams",
        str(streams),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count: {done.stderr[-500:]}")
    return int(found.group(1))


async def _child(url: str, variant: str, streams: int) -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Drop()))
    messages = _messages(1000)
    async with aiohttp.ClientSession() as session:
        transport = AnthropicTransport(api_key=KEY, base_url=url, session=session, telemetry=_config(variant, provider))
        for _ in range(2 + streams):
            await _one(transport, messages)
    provider.shutdown()


def _report(cpu: dict[int, dict[str, list[float]]], variants: Sequence[str]) -> None:
    for deltas, times in cpu.items():
        off = times["off"]
        median = statistics.median(off) * 1e3
        print(f"\n{deltas:,} text deltas a stream, {len(off)} streams each; off: {median:.3f} ms\n")
        print("| telemetry | µs per stream (median paired difference) | ratio to off (median) |\n|---|---:|---:|")
        for name in variants:
            diffs = [(a - b) * 1e6 for a, b in zip(times[name], off, strict=True)]
            ratios = [a / b for a, b in zip(times[name], off, strict=True)]
            print(f"| {name} | {statistics.median(diffs):+.0f} | {statistics.median(ratios):.3f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=300, help="streams per variant and size (default 300)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    parser.add_argument("--child", choices=("off", *VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    devnull = open(os.devnull, "w")  # noqa: SIM115 - the log stream, open for the process's life
    handle = telemetry.setup(
        metrics_port=None, registry=CollectorRegistry(), log_format="json", log_level=logging.INFO, log_stream=devnull
    )
    try:
        if args.child:
            asyncio.run(_child(args.url, args.child, args.streams))
            return
        plan = [Workload(f"text-{n}", "", "text", n) for n in SIZES]
        with tempfile.TemporaryDirectory() as logs, simulator(Path(logs), plan) as (urls, _):
            started = time.perf_counter()
            cpu = asyncio.run(_paired(urls["replay"], VARIANTS, args.streams))
            print(f"paired in one process, {time.perf_counter() - started:.0f} s; thread CPU per stream")
            _report(cpu, VARIANTS)
            if args.instructions:
                _print_instructions(urls["replay"])
    finally:
        handle.shutdown()
        devnull.close()


def _print_instructions(url: str) -> None:
    if shutil.which("valgrind") is None:
        print("\n--instructions: valgrind is not installed (apt install valgrind)")
        return
    print(f"\ninstructions per 1,000-delta stream (callgrind; runs of 0 and {INSTRUCTION_STREAMS} streams)\n")
    print("| telemetry | instructions per stream | vs off |\n|---|---:|---:|")
    per: dict[str, float] = {}
    for variant in ("off", "all"):
        # Once uncounted: a fresh checkout compiles its .pyc files in the first run, which would
        # land in the 0-stream count alone and skew the difference (by ~2.5 M on a clean clone).
        subprocess.run([sys.executable, __file__, "--child", variant, "--url", url, "--streams", "0"], check=True)
        counts: list[int] = [_instructions(url, variant, n) for n in (0, INSTRUCTION_STREAMS)]
        per[variant] = (counts[1] - counts[0]) / INSTRUCTION_STREAMS
        print(f"| {variant} | {per[variant] / 1e6:.2f} M | {per[variant] / per['off']:.3f}× |", flush=True)


if __name__ == "__main__":
    main()
