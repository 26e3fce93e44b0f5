"""Memory: ``tracemalloc`` peaks of one long stream, text kept or dropped, against the raw read."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from compare_processes import Proc
from compare_sim import text_of

__all__ = [
    "MEMORY_DELTAS",
    "PACED_DELAY",
    "PACED_DELTAS",
    "QUICK_MEMORY_DELTAS",
    "measure_memory",
    "memory_checks",
    "memory_table",
]

#: Stream lengths of the memory measurement; the longest is past aiohttp's read window many times over.
MEMORY_DELTAS: Final = (1000, 10_000, 100_000)
QUICK_MEMORY_DELTAS: Final = (1000, 10_000)
#: At wire speed a long answer outruns the client and arrives in 256 KiB socket reads; at a pace
#: (far faster than any model's) every read is small. Memory is measured both ways.
PACED_DELAY: Final = 0.0002
PACED_DELTAS: Final = (1000, 10_000)


def measure_memory(url: str, logs: Path, sizes: Sequence[int], regime: str = "live") -> dict[str, Any]:
    """tracemalloc peaks: this transport (telemetry off) keeping or dropping the text, and the raw read.

    Each in a fresh process; ``max_tokens`` is raised so that the longest answer is not cut at the
    model's output limit.
    """
    runs: dict[str, Any] = {}
    for client, keeps in (("ours-off", (True, False)), ("raw-read", (False,))):
        proc = Proc(client, Path(sys.executable), logs)
        try:
            proc.ask("open", url=url, pool=100, max_tokens=10**8)
            for deltas in sizes:
                for keep in keeps:
                    answer = proc.ask("memory", shape="text", deltas=deltas, keep=keep)
                    if not answer.get("ok"):
                        raise RuntimeError(f"memory run of {client} failed: {answer.get('error')}")
                    if client != "raw-read" and answer["received"]["text_chars"] != len(text_of(deltas)):
                        raise RuntimeError(f"memory run of {client}: incomplete text {answer['received']}")
                    runs[f"{client}/{deltas}/{'keep' if keep else 'drop'}"] = answer
            proc.ask("close")
        finally:
            proc.stop()
    return {"sizes": list(sizes), "runs": runs, "checks": memory_checks(runs, sizes, regime)}


def memory_checks(runs: dict[str, Any], sizes: Sequence[int], regime: str = "live") -> list[dict[str, Any]]:
    """The target as stated (10k ≤ 1k + its text), and the same from 10k to each longer stream."""
    checks = []
    for small, large in itertools.pairwise(sizes):
        low, high = runs[f"ours-off/{small}/keep"], runs[f"ours-off/{large}/keep"]
        bound = low["peak_bytes"] + high["text_bytes"]
        checks.append(
            {
                "regime": regime,
                "workload": "memory",
                "target": f"peak({large:,} deltas) ≤ peak({small:,} deltas) + the {large:,}-delta text",
                "value": f"{high['peak_bytes'] / 1024:,.0f} KiB vs {bound / 1024:,.0f} KiB",
                "pass": high["peak_bytes"] <= bound,
            }
        )
    return checks


def memory_table(memory: dict[str, Any]) -> str:
    lines = [
        "| stream | text returned | this project, text kept | this project, text dropped | aiohttp body read |",
        "|---|---:|---:|---:|---:|",
    ]
    runs = memory["runs"]
    for deltas in memory["sizes"]:
        keep, drop, raw = (
            runs[f"{c}/{deltas}/{k}"] for c, k in (("ours-off", "keep"), ("ours-off", "drop"), ("raw-read", "drop"))
        )
        lines.append(
            f"| {deltas:,} deltas | {keep['text_chars']:,} chars, {keep['text_bytes'] / 1024:,.0f} KiB | "
            f"{keep['peak_bytes'] / 1024:,.0f} KiB | {drop['peak_bytes'] / 1024:,.0f} KiB | "
            f"{raw['peak_bytes'] / 1024:,.0f} KiB |"
        )
    return "\n".join(lines)
