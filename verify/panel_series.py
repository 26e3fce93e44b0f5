"""The series file: every panel query over a scenario's window, for verify/render.py."""

from __future__ import annotations

import math
from typing import Any

from verify import query_answers as answers
from verify.raw_run import RANGE_STEP, RawRun

__all__ = ["series_of"]


def series_of(raw: RawRun) -> dict[str, Any]:
    """Every panel query over the run's window, values rounded; a NaN becomes null (a gap)."""

    def value(raw_value: Any) -> float | None:
        number = answers.number(raw_value)
        return None if math.isnan(number) else float(f"{number:.6g}")

    items: list[dict[str, Any]] = []
    for evaluation, result in raw.ranges:
        series = []
        if result.ok:
            for item in result.data["result"]:
                series.append(
                    {"labels": item["metric"], "values": [[float(t), value(v)] for t, v in item.get("values", [])]}
                )
        items.append(
            {
                "key": evaluation.key(),
                "dashboard": evaluation.dashboard,
                "panel_id": evaluation.panel_id,
                "title": evaluation.panel_title,
                "ref_id": evaluation.ref_id,
                "legend_format": evaluation.legend_format,
                "variables": dict(evaluation.variables),
                "expr": evaluation.expr,
                "error": result.error,
                "series": series,
            }
        )
    return {**raw.window, "step": RANGE_STEP, "variables": raw.variables, "queries": items}
