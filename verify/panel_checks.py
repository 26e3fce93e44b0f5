"""Panel checks: each panel query's answer, and whether an empty one is the truth.

Under faults every base query must have data. Otherwise an empty answer passes only when a
selector has no series and the load processes' own counters count no event it would have matched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from verify import query_answers as answers
from verify.panels import Evaluation, selectors
from verify.raw_run import RawRun, RunningLoad

__all__ = ["panel_entries", "panels_with_data"]


def _unquote(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


def _matches(matchers: Sequence[tuple[str, str, str]], label: str, value: str) -> bool:
    for name, op, wanted in matchers:
        if name != label:
            continue
        pattern = _unquote(wanted)
        if op == "=" and value != pattern:
            return False
        if op == "!=" and value == pattern:
            return False
        if op == "=~" and re.fullmatch(pattern, value) is None:
            return False
        if op == "!~" and re.fullmatch(pattern, value) is not None:
            return False
    return True


#: For a metric with no series at all: the load summary field that counts its events, and the label
#: that field is keyed by. Not retries, backoff nor errors: their fixed reasons and types exist at 0
#: from a model's first request, so no series at all there is a fault, not a quiet run.
_SUMMARY_COUNTS: Final[Mapping[str, tuple[Callable[[Mapping[str, Any]], Mapping[str, Any]], str]]] = {
    "axio_anthropic_attempts_total": (lambda summary: summary["attempts"]["by_status"], "status"),
    "axio_anthropic_stop_reasons_total": (lambda summary: summary["stop_reasons"], "reason"),
}


def _explain_empty(
    evaluation: Evaluation, absent: Mapping[str, bool], loads: Sequence[RunningLoad]
) -> tuple[bool, str]:
    """Whether an empty answer is the truth: a selector has no series, and the load processes' own
    counters (their --json summaries, read from the registries /metrics served) count no event
    it would have matched."""
    scope = [
        load
        for load in loads
        if evaluation.variables.get("instance", load.instance) == load.instance
        and evaluation.variables.get("model", load.spec.model) == load.spec.model
    ]
    missing = [selector for selector in selectors(evaluation.expr) if absent.get(selector.text)]
    if not missing:
        return False, "no data, though every selector has series: the query itself finds nothing"
    reasons: list[str] = []
    for selector in missing:
        known = _SUMMARY_COUNTS.get(selector.metric)
        if known is None:
            return False, f"{selector.metric} has no series at all"
        field_of, label = known
        if any(load.summary is None for load in scope):
            return False, f"{selector.metric} has no series, and a load summary is missing to tell why"
        counted = sum(
            int(count)
            for load in scope
            if load.summary is not None
            for key, count in field_of(load.summary).items()
            if _matches(selector.matchers, label, str(key))
        )
        if counted:
            return False, f"{selector.text} has no series, but the load processes counted {counted} such events"
        reasons.append(f"{selector.metric} matching {selector.text!r}: 0 in the summaries of {len(scope)} load(s)")
    return True, "nothing happened to show: " + "; ".join(reasons)


def panel_entries(raw: RawRun, strict: bool) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for evaluation, result in raw.instant:
        has_data = answers.has_data(result)
        entry: dict[str, Any] = {
            "dashboard": evaluation.dashboard,
            "panel_id": evaluation.panel_id,
            "title": evaluation.panel_title,
            "ref_id": evaluation.ref_id,
            "variables": dict(evaluation.variables),
            "expr": evaluation.expr,
            "valid": result.ok,
            "error": result.error,
            "series": answers.series_count(result),
            "has_data": has_data,
            "sample": answers.sample(result),
        }
        if not result.ok:
            entry["ok"] = False
        elif has_data:
            entry["ok"] = True
        elif strict and evaluation.base:
            entry["ok"] = False
            entry["empty"] = "no data: under faults every panel must show something"
        else:
            explained, reason = _explain_empty(evaluation, raw.absent, raw.loads)
            entry["ok"] = explained
            entry["empty"] = reason
        entries.append(entry)
    return entries


def panels_with_data(base: Sequence[Mapping[str, Any]]) -> int:
    panels: dict[tuple[str, int], bool] = {}
    for entry in base:
        key = (entry["dashboard"], entry["panel_id"])
        panels[key] = panels.get(key, True) and bool(entry["has_data"])
    return sum(panels.values())
