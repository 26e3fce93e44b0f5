"""The results of a comparison: each workload's summary, its table, the targets and the environment."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

from compare_plan import CLIENT_ORDER, LABELS, Workload
from compare_rounds import Cell
from compare_venvs import Venv

__all__ = ["environment", "paired_ratio", "summarise", "table", "targets"]

ROOT: Final = Path(__file__).resolve().parent.parent


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:,.0f}" if ms >= 1000 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def summarise(workload: Workload, cells: dict[str, Cell]) -> dict[str, Any]:
    floor = cells.get("parse-floor")
    events = floor.per_stream.get("sse_events", 0) if floor is not None else 0
    floor_rounds = floor.cpu_per_stream() if floor is not None and floor.cpu_s else None
    raw = cells.get("raw-read")
    raw_median = statistics.median(raw.cpu_per_stream()) if raw is not None and raw.cpu_s else None
    rows: dict[str, Any] = {}
    for name, cell in cells.items():
        if cell.error is not None or not cell.cpu_s:
            rows[name] = {"error": cell.error or "no runs"}
            continue
        per_stream = cell.cpu_per_stream()
        median = statistics.median(per_stream)
        rows[name] = {
            "cpu_ms_per_stream": [c * 1e3 for c in per_stream],
            "median_ms": median * 1e3,
            "min_ms": min(per_stream) * 1e3,
            "max_ms": max(per_stream) * 1e3,
            "us_per_event": median / events * 1e6 if events else None,
            # Paired by round, as the targets are: steadier than a ratio of medians on a shared machine.
            "x_parse_floor": paired_ratio(per_stream, floor_rounds) if floor_rounds else None,
            "x_raw_read": median / raw_median if raw_median else None,
            "wall_ms_per_repeat_median": statistics.median(cell.wall_s) * 1e3,
            "waits_per_1k_events": statistics.median(cell.waits) / (events * cell.streams_per_repeat) * 1e3
            if events
            else None,
            "preempted_per_repeat": cell.preempted,
            "gc_ms_per_stream": [g / cell.streams_per_repeat * 1e3 for g in cell.gc_s],
            "gc_full_passes_per_repeat": cell.gc_full_passes,
            "per_stream_received": cell.per_stream,
        }
    for name in workload.skip:
        rows[name] = {"skipped": "left out of this workload to keep the whole run near fifteen minutes"}
    return {**asdict(workload), "sse_events_per_stream": events, "clients": rows}


def paired_ratio(mine: Sequence[float], theirs: Sequence[float]) -> float:
    """The median of same-round ratios; the ratio of medians if the rounds do not line up."""
    if len(mine) != len(theirs):
        return float(statistics.median(mine) / statistics.median(theirs))
    return float(statistics.median([a / b for a, b in zip(mine, theirs, strict=True)]))


def table(results: dict[str, Any]) -> str:
    lines = [
        "| workload | client | CPU ms / stream, median | min–max | µs / event | × parse floor (same round) "
        "| waits / 1k events | wall s / repeat |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for summary in results.values():
        first = True
        for name in CLIENT_ORDER:
            row = summary["clients"].get(name)
            if row is None:
                continue
            label = f"{summary['label']} ({summary['sse_events_per_stream']:,} events/stream)" if first else ""
            first = False
            if "error" in row or "skipped" in row:
                why = f"error: {row['error']}" if "error" in row else "not run (time budget)"
                lines.append(f"| {label} | {LABELS[name]} | {why} | | | | | |")
                continue
            lines.append(
                f"| {label} | {LABELS[name]} | {_ms(row['median_ms'] / 1e3)} | "
                f"{_ms(row['min_ms'] / 1e3)}–{_ms(row['max_ms'] / 1e3)} | {row['us_per_event']:.2f} | "
                f"{row['x_parse_floor']:.2f} | {row['waits_per_1k_events']:.0f} | "
                f"{row['wall_ms_per_repeat_median'] / 1e3:.2f} |"
            )
    return "\n".join(lines)


def targets(regime: str, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target as the median over rounds of the two clients' ratio within the round: a round
    runs every client once, one after the other, so a noisy neighbour slows both sides of a ratio
    and the median of ratios is steadier than the ratio of medians on a shared machine."""
    checks: list[dict[str, Any]] = []

    def ratio(summary: dict[str, Any], name: str, base: str) -> list[float] | None:
        rows = summary["clients"]
        mine, theirs = rows.get(name, {}).get("cpu_ms_per_stream"), rows.get(base, {}).get("cpu_ms_per_stream")
        if not mine or not theirs or len(mine) != len(theirs):
            return None
        return [a / b for a, b in zip(mine, theirs, strict=True)]

    for key, summary in results.items():
        if (value := ratio(summary, "ours-off", "parse-floor")) is not None:
            checks.append(_target(regime, key, "telemetry off ≤ 1.3 × parse floor", value, 1.3))
        for rival in ("published", "sdk-create", "sdk-stream"):
            if (value := ratio(summary, "ours-off", rival)) is not None:
                checks.append(_target(regime, key, f"telemetry off faster than {rival}", value, 1.0, strict=True))
        if (value := ratio(summary, "ours-full", "ours-off")) is not None:
            checks.append(_target(regime, key, "full telemetry ≤ 1.10 × telemetry off", value, 1.10))
    return checks


def _target(
    regime: str, workload: str, what: str, ratios: list[float], limit: float, *, strict: bool = False
) -> dict[str, Any]:
    ratio = float(statistics.median(ratios))
    ok = ratio < limit if strict else ratio <= limit
    return {
        "regime": regime,
        "workload": workload,
        "target": what,
        # The rounds' spread says how much one noisy round could have moved the verdict.
        "value": f"{ratio:.2f}× ({min(ratios):.2f}–{max(ratios):.2f})",
        "ratio": ratio,
        "round_ratios": ratios,
        "pass": ok,
    }


def environment(envs: dict[str, Venv], versions: dict[str, Any]) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    cpu = ""
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty_paths": git("status", "--porcelain", "--", "src").splitlines(),
        "venvs": {name: {"path": str(env.path), "requirements": env.requirements} for name, env in envs.items()},
        "client_versions": versions,
    }
