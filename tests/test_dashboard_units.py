"""Every panel's unit says what its query measures: requests, retries and tokens per second, seconds
of backoff per second, ratios, seconds, dollars."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dashboards.queries import iter_panels

from .dashboard_support import by_uid, exprs

#: What a rate of each counter counts per second.
RATE_UNITS = {
    "requests_total": "reqps",
    "errors_total": "reqps",
    "attempts_total": "reqps",
    "stop_reasons_total": "reqps",
    "cache_hits_total": "reqps",
    "cache_misses_total": "reqps",
    "retries_total": "count:retries/s",
    "tokens_total": "count:tokens/s",
    "backoff_seconds_total": "count:s/s",
    "agent_runs_total": "count:runs/s",
    "agent_tool_calls_total": "count:calls/s",
}
#: Turns per agent run: a count, whether a quantile or the mean (sum over count).
TURNS = {"agent_turns_bucket", "agent_turns_sum", "agent_turns_count"}


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return by_uid()


def expected_unit(queries: list[str]) -> str:
    """The unit a panel's queries call for, from what they compute."""
    joined = " ".join(queries)
    metrics = set(re.findall(r"axio_anthropic_([a-z_]+)", joined))
    if metrics and metrics <= TURNS:
        return "short"
    if "histogram_quantile" in joined:
        return "s" if all(m.endswith("_seconds_bucket") for m in metrics) else "count:tokens"
    if metrics == {"cost_usd_total"}:
        return "currencyUSD"  # a rate times 3600: USD per hour
    if any(" / " in query for query in queries):
        return "short" if metrics == {"attempts_total", "requests_total"} else "percentunit"
    if metrics == {"in_flight_requests"}:
        return "short"
    if metrics <= {"ratelimit_remaining", "ratelimit_limit"}:
        return "count:requests" if 'resource="requests"' in joined else "count:tokens"
    units = {RATE_UNITS[metric] for metric in metrics}
    return units.pop() if len(units) == 1 else "count:events/s"


def test_every_unit_says_what_its_query_measures(dashboards: dict[str, dict[str, Any]]) -> None:
    wrong = []
    for uid, dashboard in dashboards.items():
        for found in iter_panels(dashboard):
            unit = found["fieldConfig"]["defaults"].get("unit")
            if unit != (want := expected_unit(exprs(found))):
                wrong.append(f"{uid} / {found['title']!r}: {unit!r}, want {want!r}")
    assert not wrong, "\n".join(wrong)


def test_the_rendered_pictures_format_count_units_as_grafana_does() -> None:
    from verify import render

    # @grafana/data getValueFormat("count:<unit>") is simpleCountUnit: K/M/B/T scaling, then " <unit>".
    assert render.format_value("count:retries/s", 2.5) == "2.5 retries/s"
    assert render.format_value("count:tokens/s", 12_300) == "12.3K tokens/s"
    assert render.format_value("count:s/s", 0.25) == "0.25 s/s"
