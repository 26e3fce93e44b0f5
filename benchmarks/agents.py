"""What the agent instrumentor costs per model turn: instructions, instrumentor off against on.

Run: .venv/bin/python benchmarks/agents.py [--runs N] [--repeat R]

Each agent run is the two-turn tool loop `axio-anthropic load` drives (a turn that calls the tool,
the tool, a turn that answers), against the simulator in another process, so only the client is
counted. Instructions come from callgrind (valgrind), which no neighbour moves. Two answer sizes:
``short``, the simulator's own (5 text deltas a turn, the cheapest turn there is, so the
instrumentor's per-run work weighs most), and ``long``, an answer of ``LONG_WORDS`` distinct words
(about 150 deltas; repeated words would trip axio's repetition stop), where per-event work shows.

One process under callgrind imports everything once, then forks one process per variant and repeat
(as benchmarks/perf does). Each fork sets its variant up, makes ``WARM`` uncounted runs, then counts
``--runs`` runs between two ``os.getppid()`` calls (callgrind runs with ``--dump-before=getppid``,
so start-up, imports and set-up stay out of the figure). Two settings, each with the instrumentor
off and on:

- ``sdk``: what a host that set up tracing has: an SDK tracer provider with a ``BatchSpanProcessor``
  (to an exporter that drops) for the transport and the instrumentor, a fresh Prometheus registry,
  ``telemetry.setup()``'s JSON logs at INFO to /dev/null (the full telemetry of benchmarks/telemetry.py);
- ``default``: nothing configured: the transport's default telemetry, the API's no-op tracer, and the
  instrumentor with no provider (its Prometheus series only).

Variants are named ``<setting>-<answer>-<off|on>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, NoReturn, TextIO

KEY: Final = "sk-ant-bench-0000"
SETTINGS: Final = ("sdk", "default")
ANSWERS: Final = ("short", "long")
LONG_WORDS: Final = 300
#: The system prompt asks for the answer size; the benchmark's simulator reads it back.
_SIZE: Final = re.compile(r"Answer in (\d+) words")
RUNS: Final = 20
#: Runs before the counted ones: connections, first-use caches, metric children.
WARM: Final = 3
TURNS_PER_RUN: Final = 2
_PRELOAD: Final = (
    "aiohttp",
    "axio.agent",
    "opentelemetry.sdk.trace.export",
    "prometheus_client",
    "axio_transport_anthropic.telemetry.agent_run",
    "axio_transport_anthropic.telemetry.setup",
)
_TOTALS: Final = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)


async def _runs(url: str, setting: str, answer: str, on: bool, runs: int, log_stream: TextIO) -> None:
    """``WARM`` runs, then ``runs`` counted ones between the two markers."""
    import aiohttp
    from axio import Agent
    from axio.context import MemoryContextStore
    from axio.tool import Tool
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from prometheus_client import CollectorRegistry

    from axio_transport_anthropic import AnthropicTransport, telemetry
    from axio_transport_anthropic.telemetry import AxioInstrumentor, TelemetryConfig

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    async def stock_level(item: str) -> str:
        """Units of an item in stock."""
        return f"{item}: 12 units"

    provider: TracerProvider | None = None
    registry = CollectorRegistry()
    if setting == "sdk":
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Drop()))
        telemetry.setup(
            metrics_port=None, registry=registry, log_format="json", log_level=logging.INFO, log_stream=log_stream
        )
    config = TelemetryConfig(tracer_provider=provider, registry=registry)
    if on:
        AxioInstrumentor().instrument(tracer_provider=provider, registry=registry)
    async with aiohttp.ClientSession() as session:
        transport = AnthropicTransport(api_key=KEY, base_url=url, session=session, telemetry=config)
        tools: list[Tool[Any]] = [Tool(name="stock_level", handler=stock_level)]
        system = f"Answer in {LONG_WORDS} words." if answer == "long" else "You are terse."
        agent = Agent(system=system, transport=transport, tools=tools, max_iterations=4)
        for _ in range(WARM):
            await agent.run("How many widgets are in stock?", MemoryContextStore())
        if provider is not None:
            provider.force_flush()
        gc.collect()
        os.getppid()
        for _ in range(runs):
            await agent.run("How many widgets are in stock?", MemoryContextStore())
        if provider is not None:
            provider.force_flush()  # the exports of the counted runs' spans are theirs
        os.getppid()


def _forked(url: str, variant: str, runs: int) -> NoReturn:
    setting, answer, state = variant.split("-")
    status = 0
    try:
        with open(os.devnull, "w") as devnull:
            asyncio.run(_runs(url, setting, answer, state == "on", runs, devnull))
        print(os.getpid(), variant, flush=True)
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    sys.stderr.flush()
    os._exit(status)


def _child(url: str, variants: Sequence[str], runs: int) -> int:
    """Imports once, then one fork per variant, one at a time."""
    for module in _PRELOAD:  # before the forks: no fork counts an import
        importlib.import_module(module)
    gc.collect()
    gc.freeze()
    failed = 0
    for variant in variants:
        if os.fork() == 0:
            _forked(url, variant, runs)
        failed += os.waitstatus_to_exitcode(os.wait()[1]) != 0
    return 1 if failed else 0


def _env() -> dict[str, str]:
    """Fixed string hashes (header and set orders repeat), none of the caller's OTEL_/ANTHROPIC_ settings."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return {key: value for key, value in env.items() if not key.startswith(("OTEL_", "ANTHROPIC_"))}


def _counts(url: str, variants: Sequence[str], runs: int) -> dict[str, list[float]]:
    """Instructions per model turn of each variant, one figure per time it is listed."""
    env = _env()
    child = [sys.executable, __file__, "--child", "--url", url, "--runs", str(runs)]
    # Uncounted first: a fresh checkout compiles its .pyc files here, and a broken variant fails fast.
    subprocess.run([*child, *dict.fromkeys(variants)], env=env, check=True, capture_output=True)
    found: dict[str, list[float]] = {variant: [] for variant in variants}
    with tempfile.TemporaryDirectory(prefix="agents-bench-") as tmp:
        valgrind = ["valgrind", "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={tmp}/cg.%p"]
        valgrind += ["--dump-line=no", "--compress-pos=no"]
        done = subprocess.run([*valgrind, *child, *variants], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the counted runs failed:\n{done.stderr[-3000:]}")
        for line in done.stdout.splitlines():
            pid, variant = line.split()
            parts = sorted(Path(tmp).glob(f"cg.{pid}.*"), key=lambda path: int(path.suffix[1:]))
            totals = [int(m.group(1)) for path in parts if (m := _TOTALS.search(path.read_text()))]
            if len(totals) != 2:
                raise RuntimeError(f"{variant}: {len(totals)} counted parts, expected 2")
            found[variant].append(totals[1] / runs / TURNS_PER_RUN)
    return found


async def _serve() -> None:
    """The simulator, its answers after a tool call ``N`` words long when the system prompt asks."""
    import json
    from collections.abc import Mapping

    from axio_transport_anthropic.simulator import Simulator, defaults, server
    from axio_transport_anthropic.simulator.replies import Reply, TextBlock

    own = defaults.default_reply

    def reply(body: Mapping[str, Any]) -> Reply:
        found = own(body)
        size = _SIZE.search(json.dumps(body.get("system")))
        if size is None or found.stop_reason != "end_turn":
            return found
        words = (f"w{i}" for i in range(int(size.group(1))))  # all distinct: axio stops a repeating answer
        return Reply((TextBlock(" ".join(words)),), "end_turn")

    server.default_reply = reply  # type: ignore[attr-defined]  # the server's own name for it
    async with Simulator(api_key=KEY) as sim:
        print(sim.base_url, flush=True)
        await asyncio.Event().wait()


@contextmanager
def _simulator() -> Iterator[str]:
    argv = [sys.executable, __file__, "--serve"]
    with subprocess.Popen(argv, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            found = re.search(r"(http://\S+)", proc.stdout.readline())
            if found is None:
                raise RuntimeError("the simulator printed no URL")
            yield found.group(1)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help="counted agent runs per variant (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=2, help="counts per variant (default %(default)s)")
    parser.add_argument("--setting", action="append", choices=SETTINGS, help="only these settings (repeatable)")
    parser.add_argument("--answer", action="append", choices=ANSWERS, help="only these answer sizes (repeatable)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("variants", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.exit(_child(args.url, args.variants, args.runs))
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve())
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    cases = [(setting, answer) for setting in args.setting or SETTINGS for answer in args.answer or ANSWERS]
    variants = [f"{setting}-{answer}-{state}" for setting, answer in cases for state in ("off", "on")]
    with _simulator() as url:
        counts = _counts(url, variants * args.repeat, args.runs)
    print(f"instructions per model turn (callgrind; {args.runs} two-turn runs, counted {args.repeat}x)\n")
    print("| setting | answer | instrumentor off | on | extra per turn | ratio | spread |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for setting, answer in cases:
        off, on = counts[f"{setting}-{answer}-off"], counts[f"{setting}-{answer}-on"]
        spread = max((max(c) - min(c)) / min(c) for c in (off, on))
        off_mean, on_mean = sum(off) / len(off), sum(on) / len(on)
        extra = on_mean - off_mean
        line = f"| {setting} | {answer} | {off_mean / 1e6:.3f} M | {on_mean / 1e6:.3f} M | {extra / 1e3:+.0f} k"
        print(f"{line} | {on_mean / off_mean:.3f}× | {spread:.2%} |", flush=True)


if __name__ == "__main__":
    main()
