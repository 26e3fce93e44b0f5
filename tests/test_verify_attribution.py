"""verify/attribution.py: what the load processes attach, and the check of the by-label panels."""

from __future__ import annotations

from typing import Any

from dashboards.queries import evaluable_queries
from verify import attribution
from verify.panels import Evaluation
from verify.promapi import QueryResult

LABELS = attribution.LABELS


def evaluation(expr: str, **variables: str) -> Evaluation:
    return Evaluation("axio-anthropic-overview", 1, "Cost per hour by tenant", "A", "{{tenant}}", expr, variables)


def answer(*tenants: str) -> QueryResult:
    rows: list[dict[str, Any]] = [{"metric": {"tenant": t}, "value": [0, "1"]} for t in tenants]
    return QueryResult(True, {"resultType": "vector", "result": rows}, None, 0.0)


BY_TENANT = 'label_replace(sum by (tenant) (rate(x[1m])), "tenant", "(unset)", "tenant", "")'


def test_load_processes_get_one_label_option_per_name() -> None:
    assert attribution.label_argv(LABELS) == [
        "--label",
        "tenant=acme,globex,initech",
        "--label",
        "agent=support,billing",
    ]


def test_a_panel_passes_with_exactly_the_attached_values() -> None:
    (check,) = attribution.checks([(evaluation(BY_TENANT), answer("initech", "acme", "globex"))], [LABELS])
    assert check["ok"] and check["label"] == "tenant" and check["seen"] == ["acme", "globex", "initech"]


def test_an_unattributed_missing_or_overflowing_value_fails() -> None:
    for tenants in (("acme", "globex", "initech", "(unset)"), ("acme", "globex"), ("acme", "globex", "_OTHER")):
        (check,) = attribution.checks([(evaluation(BY_TENANT), answer(*tenants))], [LABELS])
        assert not check["ok"], tenants
    (check,) = attribution.checks([(evaluation(BY_TENANT), answer("acme"))], [()])
    assert not check["ok"], "a label no load process attaches cannot pass"


def test_only_base_queries_of_by_label_panels_are_checked() -> None:
    instant = [
        (evaluation("sum by (model) (rate(x[1m]))"), answer()),
        (evaluation(BY_TENANT, model="claude-haiku-4-5"), answer()),
    ]
    assert attribution.checks(instant, [LABELS]) == []


def test_every_committed_by_label_panel_is_recognised() -> None:
    by_label = [query for query in evaluable_queries() if query.expr.startswith("label_replace(sum by (")]
    instant = [(evaluation(query.expr), answer()) for query in by_label]
    found = attribution.checks(instant, [LABELS])
    assert sorted({check["label"] for check in found}) == ["agent", "tenant"]
    assert len(found) == len(by_label) == 4
