"""The Agents row in the verification: what the load processes' agent runs must show there.

Every `axio-anthropic load` process runs its agents with `AxioInstrumentor` on, each run a tool
loop over the one tool `stock_level`. So on the Overview's Agents row (dashboards/agents.py), with
every variable "All":

- runs end at a rate above 0 with the outcome `ok` among them, and no outcome but `ok`, `error`
  and `cancelled`;
- the mean turns per run is between 1 and the load's `max_iterations` (4), and 2 on a clean run
  (every run is one tool call and one answer);
- tool calls and tool errors are by `stock_level` alone (no `_OTHER`, no unnamed tool), and the
  tool never fails (it cannot);
- run and tool durations are numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from dashboards import agents

from verify import query_answers as answers
from verify.panels import Evaluation
from verify.promapi import QueryResult

__all__ = ["checks"]

TOOL: Final = "stock_level"
MAX_TURNS: Final = 4
OUTCOMES: Final = frozenset({"ok", "error", "cancelled"})


def _rows(result: QueryResult) -> list[Mapping[str, Any]]:
    return list(result.data["result"]) if result.ok and result.data["resultType"] == "vector" else []


def _values(result: QueryResult, label: str) -> dict[str, float]:
    return {str(row["metric"].get(label, "")): answers.number(row["value"][1]) for row in _rows(result)}


def _check(title: str, ref_id: str, result: QueryResult, clean: bool) -> tuple[bool, str]:
    """Whether one of the row's base queries shows what the loads did, and what it shows."""
    match title, ref_id:
        case "Agent runs by outcome", _:
            seen = _values(result, "outcome")
            ok = set(seen) <= OUTCOMES and seen.get("ok", 0.0) > 0
            return ok, f"runs/s by outcome {seen}"
        case "Turns per run", "A":
            (mean,) = _values(result, "").values() or [math.nan]
            ok = abs(mean - 2.0) < 1e-6 if clean else 1.0 <= mean <= MAX_TURNS
            return ok, f"mean turns per run {mean:g}"
        case "Tool calls by tool" | "Tool errors by tool" | "Tool duration p95 by tool", _:
            seen = _values(result, "tool")
            ok = set(seen) == {TOOL}
            if title == "Tool calls by tool":
                ok = ok and seen[TOOL] > 0
            if title == "Tool errors by tool":
                ok = ok and seen[TOOL] == 0
            return ok, f"by tool {seen}"
        case _:
            numbers = [answers.number(row["value"][1]) for row in _rows(result)]
            ok = bool(numbers) and not any(math.isnan(n) for n in numbers)
            return ok, f"values {numbers}"


def checks(instant: Sequence[tuple[Evaluation, QueryResult]], clean: bool) -> list[dict[str, Any]]:
    """One check per base query of the Agents row's panels; ``clean``: a run without faults."""
    titles = {panel.build().title for panel in agents.panels()}
    found: list[dict[str, Any]] = []
    for evaluation, result in instant:
        if not evaluation.base or evaluation.panel_title not in titles:
            continue
        ok, shown = _check(evaluation.panel_title, evaluation.ref_id, result, clean)
        found.append(
            {
                "dashboard": evaluation.dashboard,
                "title": evaluation.panel_title,
                "ref_id": evaluation.ref_id,
                "shown": shown,
                "ok": ok,
            }
        )
    return found
