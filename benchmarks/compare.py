"""Client CPU per streamed event: this transport against the floors, the published 0.12.2 and the SDK.

Run (from the repository root, with the project's venv)::

    .venv/bin/python benchmarks/compare.py --setup   # first time: makes the two extra venvs, then runs
    .venv/bin/python benchmarks/compare.py           # the full run, ~15 min (replay ~9); writes benchmarks/results.json
    .venv/bin/python benchmarks/compare.py --quick   # smoke run, < 1 min; writes benchmarks/results-quick.json
    .venv/bin/python benchmarks/compare.py --profile ours-off:text-10k   # cProfile of one client, one workload

``--setup`` creates, when missing, ``/tmp/bench-published`` (``axio-transport-anthropic==0.12.2``, which
has the same import name as this project, pinned to the project venv's aiohttp and axio) and
``/tmp/bench-sdk`` (the official ``anthropic`` SDK), both from the interpreter the project's venv was
made from, so every client runs on the same Python. ``--venv-root`` puts them elsewhere. Without
``--setup`` a missing venv stops the run before anything is measured.

Clients: ``raw-read`` (aiohttp, body bytes only: the floor), ``parse-floor`` (aiohttp, SSE line split,
``json.loads`` of each data line), ``published`` (0.12.2's ``AnthropicTransport.stream()``),
``sdk-create`` (``messages.create(stream=True)``), ``sdk-stream`` (``messages.stream()``), ``ours-off``
(``telemetry=None``) and ``ours-full`` (SDK tracer with a batch processor into an exporter that drops,
Prometheus on a fresh registry, structlog JSON at INFO into /dev/null). ``--clients`` picks a subset.

How it measures:

* One simulator process (``compare_sim.py``) hosts the project's ``Simulator`` (``token_delay=0``,
  ``chunking="event"``, no faults, no rate limits) and serves it two ways. **live**: the simulator
  answers each request itself. **replay**: each answer is recorded once from the simulator and then
  written byte for byte, whole, on every request for it. The live simulator costs ~15 µs of CPU per
  event, more than the fast clients need to read one: they wait on it, read in small pieces and
  their CPU per event mostly says how often they woke up (raw read, parse floor and this project
  all land on ~12 µs). Replayed, every client reads as fast as it can, so the CPU is the client's
  own cost; that is the regime the ratios are meant for. The default runs both, replay first.
* The reply's size is chosen by the request, so every client receives the same answers.
* One process per client (``compare_client.py``), started once; imports, start-up, connecting
  and a warm-up run are outside the measurement. CPU is ``time.process_time()`` in the client
  process around the measured streams (all its threads: the span exporter's included).
* Repeats are interleaved: round r runs every client once, in an order rotated each round, so
  drift on a shared machine lands on all clients alike. Median and min–max are over the repeats.
  "waits / 1k events" are voluntary context switches: how often the client blocked for data.
* Every stream is checked: each client must report the same text and tool-argument characters
  that the simulator sent.
* Memory: ``tracemalloc`` peak in fresh processes around consuming one stream of 1,000, 10,000 and
  100,000 deltas from the live simulator: this transport (telemetry off) keeping the text
  (``text += delta``) or dropping it, and the raw read for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_memory import (  # noqa: E402
    MEMORY_DELTAS,
    PACED_DELAY,
    PACED_DELTAS,
    QUICK_MEMORY_DELTAS,
    measure_memory,
    memory_table,
)
from compare_plan import CLIENT_ORDER, FLOORS, FULL, QUICK, REGIME_NOTES, REGIMES, Workload  # noqa: E402
from compare_processes import Proc, cpu_seconds, simulator  # noqa: E402
from compare_profile import profile  # noqa: E402
from compare_report import environment, summarise, table, targets  # noqa: E402
from compare_rounds import run_workload  # noqa: E402
from compare_venvs import python_for, venvs  # noqa: E402


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Client CPU per streamed event, against floors and other clients.")
    parser.add_argument("--setup", action="store_true", help="create the extra venvs where missing, then run")
    parser.add_argument("--quick", action="store_true", help="small workloads, 3 repeats: a smoke run under a minute")
    parser.add_argument("--venv-root", type=Path, default=Path("/tmp"), help="where the extra venvs live")
    parser.add_argument("--clients", default=",".join(CLIENT_ORDER), help="comma-separated subset")
    parser.add_argument("--workloads", default=None, help="comma-separated subset of workload names")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc measurement")
    parser.add_argument("--profile", metavar="CLIENT:WORKLOAD", help="only profile one client on one workload")
    parser.add_argument("--json", type=Path, default=None, help="where to write results")
    parser.add_argument(
        "--server",
        choices=("both", *REGIMES),
        default=None,
        help="replayed answers, the live simulator, or both (the default; --quick: replay)",
    )
    args = parser.parse_args(argv)

    envs = venvs(args.venv_root)
    clients = [c for c in CLIENT_ORDER if c in {*args.clients.split(","), *FLOORS}]
    needed = {"published"} & set(clients) | ({"sdk"} if any(c.startswith("sdk-") for c in clients) else set())
    if args.profile:
        needed = {"published"} if args.profile.startswith("published:") else set()
        needed |= {"sdk"} if args.profile.startswith("sdk-") else set()
    missing = [name for name in sorted(needed) if not envs[name].ready()]
    if missing and not args.setup:
        raise SystemExit(f"missing venvs {[str(envs[m].path) for m in missing]}: run once with --setup")
    for name in missing:
        envs[name].create()

    logs = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    if args.profile:
        profile(args.profile, "live" if args.server == "live" else "replay", envs, logs)
        return
    plan: tuple[Workload, ...] = QUICK if args.quick else FULL
    if args.workloads:
        wanted = set(args.workloads.split(","))
        plan = tuple(w for w in plan if w.name in wanted)
    out = args.json or HERE / ("results-quick.json" if args.quick else "results.json")

    server = args.server or ("replay" if args.quick else "both")
    regimes = REGIMES if server == "both" else (server,)
    started = time.perf_counter()
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    memory: dict[str, Any] | None = None
    versions: dict[str, Any] = {}
    with simulator(logs, plan) as (urls, sim), ExitStack() as stack:
        print(f"simulator: live {urls['live']}, replay {urls['replay']}; client logs in {logs}", flush=True)
        procs: dict[str, Proc] = {}
        for name in clients:  # all start at once; each greets when its imports are done
            procs[name] = Proc(name, python_for(name, envs), logs)
            stack.callback(procs[name].stop)
        for regime in regimes:
            results[regime] = {}
            for workload in (w.in_regime(regime) for w in plan):
                print(f"[{regime}] {workload.name}: {workload.label}, {workload.repeats} repeats", flush=True)
                sim_cpu = cpu_seconds(sim.pid)
                cells = run_workload(workload, procs, urls[regime], versions)
                results[regime][workload.name] = summarise(workload, cells)
                results[regime][workload.name]["simulator_cpu_s"] = cpu_seconds(sim.pid) - sim_cpu
        stack.close()
        if "ours-off" in clients and not args.no_memory:
            sizes = QUICK_MEMORY_DELTAS if args.quick else MEMORY_DELTAS
            print(f"memory: tracemalloc around one stream of {', '.join(f'{n:,}' for n in sizes)} deltas", flush=True)
            memory = measure_memory(urls["live"], logs, sizes)
            # The same at a model's pace: the client keeps up, so no socket read piles up.
            print(f"memory, paced ({PACED_DELAY * 1e3:g} ms a delta): {', '.join(f'{n:,}' for n in PACED_DELTAS)}")
            with simulator(logs, (), token_delay=PACED_DELAY) as (paced_urls, _):
                memory["paced"] = measure_memory(paced_urls["live"], logs, PACED_DELTAS, regime="paced")
    elapsed = time.perf_counter() - started
    checks = [check for regime in regimes for check in targets(regime, results[regime])]
    checks += memory["checks"] + memory["paced"]["checks"] if memory is not None else []
    report = {
        "mode": "quick" if args.quick else "full",
        "elapsed_s": elapsed,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "environment": environment(envs, versions),
        "regimes": {regime: REGIME_NOTES[regime] for regime in regimes},
        "results": results,
        "memory": memory,
        "targets": checks,
    }
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    for regime in regimes:
        print(f"\n### {regime}: {REGIME_NOTES[regime]}\n\n{table(results[regime])}")
    if memory is not None:
        print(f"\n### memory (tracemalloc peak, live simulator)\n\n{memory_table(memory)}")
        print(f"\n### memory, paced ({PACED_DELAY * 1e3:g} ms a delta)\n\n{memory_table(memory['paced'])}")
    print("\n### targets\n\n| regime | workload | target | value | |\n|---|---|---|---:|---|")
    for item in checks:
        verdict = "pass" if item["pass"] else "MISS"
        print(f"| {item['regime']} | {item['workload']} | {item['target']} | {item['value']} | {verdict} |")
    print(
        f"\n{elapsed:.0f} s; load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"({os.cpu_count()} cores); results in {out}"
    )


if __name__ == "__main__":
    main()
