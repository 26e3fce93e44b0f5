"""verify/agent_checks.py: the Agents row's base queries against what the load processes' agent runs did."""

from __future__ import annotations

from typing import Any

from dashboards.queries import committed_dashboards, panel_queries
from verify import agent_checks
from verify.panels import Evaluation
from verify.promapi import QueryResult


def evaluation(title: str, ref_id: str = "A", **variables: str) -> Evaluation:
    return Evaluation("axio-anthropic-overview", 1, title, ref_id, "", "expr", variables)


def answer(label: str, **values: float) -> QueryResult:
    rows: list[dict[str, Any]] = [
        {"metric": {label: k} if label else {}, "value": [0, str(v)]} for k, v in values.items()
    ]
    return QueryResult(True, {"resultType": "vector", "result": rows}, None, 0.0)


def one(title: str, result: QueryResult, ref_id: str = "A", clean: bool = False) -> bool:
    (check,) = agent_checks.checks([(evaluation(title, ref_id), result)], clean)
    return bool(check["ok"])


def test_runs_must_end_ok_among_known_outcomes() -> None:
    assert one("Agent runs by outcome", answer("outcome", ok=1.5, error=0.2, cancelled=0))
    assert not one("Agent runs by outcome", answer("outcome", error=0.2))
    assert not one("Agent runs by outcome", answer("outcome", ok=1.0, lost=0.1))


def test_turns_per_run_are_two_on_a_clean_run_and_within_the_limit_under_faults() -> None:
    assert one("Turns per run", answer("", x=2.0), clean=True)
    assert not one("Turns per run", answer("", x=1.5), clean=True)
    assert one("Turns per run", answer("", x=1.5))
    assert not one("Turns per run", answer("", x=4.5))
    assert not one("Turns per run", answer(""))
    assert one("Turns per run", answer("", x=1.9), ref_id="B")  # the p95: a number is enough


def test_tool_panels_show_the_loads_one_tool_and_no_failure() -> None:
    assert one("Tool calls by tool", answer("tool", stock_level=3.0))
    assert not one("Tool calls by tool", answer("tool", stock_level=3.0, _OTHER=1.0))
    assert not one("Tool calls by tool", answer("tool", stock_level=0.0))
    assert one("Tool errors by tool", answer("tool", stock_level=0.0))
    assert not one("Tool errors by tool", answer("tool", stock_level=0.1))
    assert one("Tool duration p95 by tool", answer("tool", stock_level=0.001))
    assert not one("Agent run duration p50 / p95 / p99", answer("", x=float("nan")))


def test_every_base_query_of_the_committed_agents_row_is_checked_and_nothing_else() -> None:
    (overview,) = [d for d in committed_dashboards() if d["uid"] == "axio-anthropic-overview"]
    instant = [(evaluation(q.panel_title, q.ref_id), answer("")) for q in panel_queries(overview)]
    instant.append((evaluation("Agent runs by outcome", model="claude-haiku-4-5"), answer("")))
    found = agent_checks.checks(instant, clean=True)
    assert len(found) == sum("agent_" in q.expr for q in panel_queries(overview)) == 9
