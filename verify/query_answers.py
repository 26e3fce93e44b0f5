"""Reading Prometheus' instant query answers: a value, whether there is data, a sample of series."""

from __future__ import annotations

import math
from typing import Any, Final

from verify.promapi import QueryResult

__all__ = ["SAMPLE_SERIES", "has_data", "number", "sample", "series_count"]

#: Series kept in the report per query.
SAMPLE_SERIES: Final = 6


def number(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def has_data(result: QueryResult) -> bool:
    """At least one series with a value that is a number (a NaN from 0/0 draws nothing)."""
    if not result.ok:
        return False
    data = result.data
    if data["resultType"] in ("scalar", "string"):
        return not math.isnan(number(data["result"][1]))
    return any(not math.isnan(number(item["value"][1])) for item in data["result"])


def sample(result: QueryResult) -> list[dict[str, Any]]:
    if not result.ok:
        return []
    data = result.data
    if data["resultType"] in ("scalar", "string"):
        return [{"labels": {}, "value": data["result"][1]}]
    # The largest values first: a sample of zeros says less than one of the busiest series.
    ranked = sorted(
        data["result"],
        key=lambda item: -abs(number(item["value"][1])) if not math.isnan(number(item["value"][1])) else 0.0,
    )
    return [{"labels": item["metric"], "value": item["value"][1]} for item in ranked[:SAMPLE_SERIES]]


def series_count(result: QueryResult) -> int:
    if not result.ok:
        return 0
    data = result.data
    return 1 if data["resultType"] in ("scalar", "string") else len(data["result"])
