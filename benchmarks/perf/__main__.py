"""The performance gate: instruction counts against a committed baseline.

    python -m perf check      # make perf-check: fails on a count more than 3 % above the baseline
    python -m perf baseline   # make perf-baseline: rewrites benchmarks/perf/baseline.json
    python -m perf list       # the workloads

Run with ``benchmarks`` on ``PYTHONPATH``. Counts are made by running ``perf.child`` under callgrind
with the interpreter that runs this (``make`` uses ``.venv-perf``, built from
``benchmarks/perf/constraints.txt``). Both commands count every workload twice by default and show
how far the two counts differ. Exit status: 0 passed, 1 a count or a cost target failed, 2
refused (the baseline was made in another environment) or could not count (valgrind missing, a
workload broke).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import baseline, report
from .count import Count, CountError, count_all
from .environment import differences, fingerprint
from .workloads import WORKLOADS, Workload, named

PASSED, FAILED, REFUSED = 0, 1, 2
#: Repeats further apart than this mean a count is no longer deterministic: a tenth of the tolerance.
NOISE = baseline.TOLERANCE / 10


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m perf", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("check", "baseline", "list"))
    parser.add_argument("--baseline", type=Path, default=baseline.DEFAULT, help="default: %(default)s")
    parser.add_argument("--only", help="comma-separated workloads (default: all); `baseline --only` updates those")
    parser.add_argument("--repeat", type=int, default=2, help="counts per workload (default 2: their spread is shown)")
    parser.add_argument("--jobs", type=int, default=2, help="processes counted at once (default 2)")
    parser.add_argument(
        "--pythonpath",
        type=Path,
        default=None,
        help="put DIR first on the counted process's path: measure another copy of the package (the bite test)",
    )
    return parser.parse_args(argv)


def _count(args: argparse.Namespace, workloads: Sequence[Workload]) -> tuple[dict[str, float], dict[str, float]]:
    """Instructions per unit (the mean of the repeats) and the repeats' spread, by workload."""
    print(f"perf: counting {len(workloads)} workloads x {args.repeat} under callgrind ...", file=sys.stderr, flush=True)
    counts = count_all(Path(sys.executable), workloads, repeat=args.repeat, jobs=args.jobs, pythonpath=args.pythonpath)
    return {name: _mean(runs) for name, runs in counts.items()}, {name: _spread(runs) for name, runs in counts.items()}


def _mean(runs: Sequence[Count]) -> float:
    return sum(c.per_unit for c in runs) / len(runs)


def _spread(runs: Sequence[Count]) -> float:
    per_unit = [c.per_unit for c in runs]
    return (max(per_unit) - min(per_unit)) / min(per_unit)


def _noisy(spreads: dict[str, float]) -> str:
    return ", ".join(f"{name} ({spread * 100:.2f} %)" for name, spread in spreads.items() if spread > NOISE)


def _check(args: argparse.Namespace, workloads: Sequence[Workload]) -> int:
    started = time.perf_counter()
    try:
        saved = baseline.load(args.baseline)
    except FileNotFoundError:
        print(f"perf-check: no baseline at {args.baseline}: run `make perf-baseline` first", file=sys.stderr)
        return REFUSED
    now = fingerprint(Path(sys.executable), args.pythonpath)
    if reasons := differences(saved.get("environment", {}), now):
        print(report.refusal(args.baseline, reasons), file=sys.stderr)
        return REFUSED
    per_unit, spreads = _count(args, workloads)
    rows = baseline.compare(saved, workloads, per_unit)
    targets = baseline.target_rows(per_unit)
    print(f"perf-check: instructions counted by callgrind against {args.baseline}")
    print(report.table(rows, spreads if args.repeat > 1 else None))
    for line in report.target_lines(targets, per_unit):
        print(f"  {line}")
    if noisy := _noisy(spreads):
        print(f"perf-check: WARNING: repeats disagree by more than {NOISE * 100:g} %: {noisy}; something in")
        print("  the counted code now depends on time or chance, which makes this gate flaky (see transport_work.py)")
    failures = report.failure_lines(rows) + report.failure_lines(targets)
    elapsed = time.perf_counter() - started
    if failures:
        print(f"perf-check: FAILED ({elapsed:.0f} s):")
        for line in failures:
            print(f"  {line}")
        print(report.REBASELINE)
        return FAILED
    limit = f"+{baseline.TOLERANCE * 100:g} %"
    print(f"perf-check: passed: {len(rows)} counts within {limit} of the baseline ({elapsed:.0f} s)")
    return PASSED


def _rebaseline(args: argparse.Namespace, workloads: Sequence[Workload]) -> int:
    started = time.perf_counter()
    now = fingerprint(Path(sys.executable), args.pythonpath)
    measurements: dict[str, dict[str, Any]] = {}
    if args.only and args.baseline.exists():
        saved = baseline.load(args.baseline)
        if reasons := differences(saved.get("environment", {}), now):
            print(report.refusal(args.baseline, reasons), file=sys.stderr)
            print("(`baseline --only` keeps the other counts, so it needs the same environment: drop --only)")
            return REFUSED
        measurements = saved.get("measurements", {})
    counts = count_all(Path(sys.executable), workloads, repeat=args.repeat, jobs=args.jobs, pythonpath=args.pythonpath)
    if noisy := _noisy({name: _spread(runs) for name, runs in counts.items()}):
        print(f"perf-baseline: not written: repeats disagree by more than {NOISE * 100:g} %: {noisy}", file=sys.stderr)
        return FAILED
    for workload in workloads:
        measurements[workload.name] = baseline.measurement(workload, counts[workload.name])
        print(f"  {workload.name}: {report.figure(_mean(counts[workload.name]))} per {workload.unit}")
    baseline.save(args.baseline, now, {w.name: measurements[w.name] for w in WORKLOADS if w.name in measurements})
    print(f"perf-baseline: wrote {args.baseline} ({time.perf_counter() - started:.0f} s)")
    return PASSED


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    try:
        workloads = named(args.only)
    except KeyError as exc:
        print(f"perf: {exc.args[0]}", file=sys.stderr)
        return REFUSED
    if args.command == "list":
        for w in workloads:
            print(f"{w.name:18} per {w.unit:16} {w.what}")
        return PASSED
    try:
        return _check(args, workloads) if args.command == "check" else _rebaseline(args, workloads)
    except CountError as exc:
        print(f"perf: could not count: {exc}", file=sys.stderr)
        return REFUSED


if __name__ == "__main__":
    sys.exit(main())
