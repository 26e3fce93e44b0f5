"""Measuring one workload: every client in interleaved rounds, every answer checked against the reply sent."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from compare_plan import FLOORS, Workload
from compare_processes import Proc
from compare_sim import TOOL_INTRO, text_of, tool_json_chars

__all__ = ["Cell", "check", "expected", "run_workload"]


@dataclass(slots=True)
class Cell:
    """One client on one workload."""

    cpu_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)
    preempted: list[int] = field(default_factory=list)
    gc_s: list[float] = field(default_factory=list)
    gc_full_passes: list[int] = field(default_factory=list)
    streams_per_repeat: int = 0
    per_stream: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def cpu_per_stream(self) -> list[float]:
        return [c / self.streams_per_repeat for c in self.cpu_s]


def expected(workload: Workload, deltas: int | None = None) -> dict[str, int]:
    n = workload.deltas if deltas is None else deltas
    if workload.shape == "text":
        return {"text_chars": len(text_of(n)), "json_chars": 0}
    return {"text_chars": len(TOOL_INTRO), "json_chars": tool_json_chars(n)}


def check(client: str, workload: Workload, answer: dict[str, Any], deltas: int | None = None) -> str | None:
    """Why this run's answers are not the whole reply, or None."""
    if not answer.get("ok"):
        return str(answer.get("error"))
    if not answer["all_same"]:
        return "streams differ from each other"
    got = answer["per_stream"]
    if client in FLOORS:
        return None if got["body_bytes"] > 0 else "empty body"
    want = expected(workload, deltas)
    if (got["text_chars"], got["json_chars"]) != (want["text_chars"], want["json_chars"]):
        return f"received {got['text_chars']} text / {got['json_chars']} json chars, expected {want}"
    return None


def run_workload(workload: Workload, procs: dict[str, Proc], url: str, versions: dict[str, Any]) -> dict[str, Cell]:
    procs = {name: proc for name, proc in procs.items() if name not in workload.skip}
    cells = {name: Cell(streams_per_repeat=workload.streams * workload.loops) for name in procs}
    pool = max(100, workload.streams)
    live = []
    for name, proc in procs.items():
        answer = proc.ask("open", url=url, pool=pool)
        versions.setdefault(name, {"python": proc.hello.get("python"), **answer.get("versions", {})})
        warm = workload.warm_deltas or workload.deltas
        if answer.get("ok"):
            answer = proc.ask(
                "run", shape=workload.shape, deltas=warm, streams=workload.streams, loops=workload.warm_loops
            )
        problem = check(name, workload, answer, warm)
        if problem is not None:
            cells[name].error = f"warm-up: {problem}"
            print(f"  {name}: {cells[name].error}", file=sys.stderr)
        else:
            live.append(name)
    for repeat in range(workload.repeats):
        shift = repeat % len(live) if live else 0
        for name in live[shift:] + live[:shift]:
            cell = cells[name]
            if cell.error is not None:
                continue
            answer = procs[name].ask(
                "run", shape=workload.shape, deltas=workload.deltas, streams=workload.streams, loops=workload.loops
            )
            problem = check(name, workload, answer)
            if problem is not None:
                cell.error = problem
                print(f"  {name}: {problem}", file=sys.stderr)
                continue
            cell.cpu_s.append(answer["cpu_s"])
            cell.wall_s.append(answer["wall_s"])
            cell.waits.append(answer["waits"])
            cell.preempted.append(answer["preempted"])
            cell.gc_s.append(answer.get("gc_s", 0.0))
            cell.gc_full_passes.append(answer.get("gc_full_passes", 0))
            cell.per_stream = answer["per_stream"]
        done = ", ".join(
            f"{n} {cells[n].cpu_s[-1] / cells[n].streams_per_repeat * 1e3:.1f}"
            f" (gc {cells[n].gc_s[-1] / cells[n].streams_per_repeat * 1e3:.2f})"
            for n in live
            if cells[n].cpu_s
        )
        print(f"  round {repeat + 1}/{workload.repeats} (CPU ms/stream, of which GC): {done}", flush=True)
    for proc in procs.values():
        proc.ask("close")
    return cells
