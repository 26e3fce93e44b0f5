"""``compare.py --profile CLIENT:WORKLOAD``: cProfile of one client on one workload, summed by area."""

from __future__ import annotations

import pstats
import re
from pathlib import Path
from typing import Any

from compare_plan import CLIENT_ORDER, FULL
from compare_processes import Proc, simulator
from compare_rounds import check
from compare_venvs import Venv, python_for

__all__ = ["print_profile", "profile"]


def profile(spec: str, regime: str, envs: dict[str, Venv], logs: Path, top: int = 25) -> None:
    """cProfile of one client on one workload (replayed answers unless ``--server live``)."""
    client, _, name = spec.partition(":")
    workload = next((w for w in FULL if w.name == name), None)
    if workload is None or client not in CLIENT_ORDER:
        raise SystemExit(f"--profile CLIENT:WORKLOAD, clients {list(CLIENT_ORDER)}, workloads {[w.name for w in FULL]}")
    path = logs / f"{client}-{name}-{regime}.prof"
    with simulator(logs, [workload]) as (urls, _):
        proc = Proc(client, python_for(client, envs), logs)
        try:
            proc.ask("open", url=urls[regime], pool=max(100, workload.streams))
            warm = workload.warm_deltas or workload.deltas
            proc.ask("run", shape=workload.shape, deltas=warm, streams=workload.streams, loops=workload.warm_loops)
            answer = proc.ask(
                "profile",
                shape=workload.shape,
                deltas=workload.deltas,
                streams=workload.streams,
                loops=workload.loops,
                path=str(path),
            )
            if (problem := check(client, workload, answer)) is not None:
                raise SystemExit(f"profile run failed: {problem}")
        finally:
            proc.stop()
    streams = workload.loops * workload.streams
    print(f"cProfile of {client} on {workload.label} ({regime}), {streams} streams: {path}\n")
    print_profile(path, top)


def print_profile(path: Path, top: int) -> None:
    """Top functions by self time, then self time by area, built-ins charged to whoever called them."""
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    print(f"total {total * 1e3:,.0f} ms of self time under the profiler\n")
    print("| self % | self ms | cum % | calls | function |\n|---:|---:|---:|---:|---|")
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (filename, line, func), (_, calls, self_time, cumulative, _) in rows:
        where = f" {_short(filename)}:{line}" if filename != "~" else ""
        print(
            f"| {self_time / total * 100:.1f} | {self_time * 1e3:,.0f} | {cumulative / total * 100:.1f} | {calls:,} "
            f"| `{func}`{where} |"
        )
    by_area: dict[str, float] = {}
    for (filename, _, func), (_, _, self_time, _, callers) in raw.items():
        if filename == "~" and callers:
            # A built-in (dict.get, len, bytes.split, ...) is the cost of the code that called it.
            for caller, timing in callers.items():
                area = _area(caller[0], caller[2])
                by_area[area] = by_area.get(area, 0.0) + timing[2]
        else:
            area = _area(filename, func)
            by_area[area] = by_area.get(area, 0.0) + self_time
    print("\n| self % | self ms | area (built-ins charged to their caller) |\n|---:|---:|---|")
    for area, spent in sorted(by_area.items(), key=lambda item: item[1], reverse=True)[:16]:
        print(f"| {spent / total * 100:.1f} | {spent * 1e3:,.0f} | {area} |")


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    if (stdlib := re.search(r"/lib/python3\.\d+/(.*)", filename)) is not None:
        return stdlib.group(1)
    return Path(filename).name if filename.startswith("/") else filename


def _area(filename: str, func: str) -> str:
    if filename == "~":
        return "built-ins called by the interpreter"
    short = _short(filename)
    if short.startswith("axio_transport_anthropic/"):
        return short
    if "site-packages/" in filename:
        return short.split("/", 1)[0]
    if re.search(r"/lib/python3\.\d+/", filename):
        return f"stdlib {short.split('/', 1)[0].removesuffix('.py')}"
    return short
