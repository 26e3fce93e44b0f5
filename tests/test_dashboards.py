"""The Grafana dashboards in dashboards/: generated JSON is committed, and every panel is usable."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboards import agents, build
from dashboards.queries import (
    PanelQuery,
    committed_dashboards,
    evaluable_queries,
    iter_panels,
    panel_queries,
    substitute,
    variables_in,
)

ROOT = Path(__file__).resolve().parent.parent
FILTER_VARIABLES = ("job", "instance", "provider", "model")
TEMPLATE_VARIABLES = ("datasource", *FILTER_VARIABLES)
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range"}
UNITS = {"s", "reqps", "percentunit", "currencyUSD", "short"}
#: Grafana's custom count unit, `count:<unit>` (@grafana/data getValueFormat: simpleCountUnit).
CUSTOM_UNIT = re.compile(r"count:[a-z/]+")

COUNTERS = (
    "requests",
    "attempts",
    "retries",
    "backoff_seconds",
    "tokens",
    "cache_hits",
    "cache_misses",
    "cost_usd",
    "stop_reasons",
    "errors",
)
HISTOGRAMS = (
    "request_duration_seconds",
    "time_to_first_token_seconds",
    "time_per_output_token_seconds",
    "output_tokens",
)
GAUGES = ("in_flight_requests", "ratelimit_remaining", "ratelimit_limit")
#: AxioInstrumentor's series (README "Agent traces"): per agent run and tool call, not per model call.
AGENT_COUNTERS = ("agent_runs", "agent_tool_calls")
AGENT_HISTOGRAMS = ("agent_run_duration_seconds", "agent_turns", "agent_tool_duration_seconds")
#: The metric contract of README.md "Metrics": the only axio_anthropic_* series that exist.
KNOWN_METRICS = (
    {f"axio_anthropic_{name}_total" for name in (*COUNTERS, *AGENT_COUNTERS)}
    | {
        f"axio_anthropic_{name}_{suffix}"
        for name in (*HISTOGRAMS, *AGENT_HISTOGRAMS)
        for suffix in ("bucket", "sum", "count")
    }
    | {f"axio_anthropic_{name}" for name in GAUGES}
)
#: The variables the agent series can be filtered by: a run's series carry no model label.
AGENT_FILTER_VARIABLES = ("job", "instance")
#: Functions, aggregations and keywords that may precede "(" in a panel query.
PROMQL_CALLS = {
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev",
    "rate", "irate", "increase", "delta", "deriv", "histogram_quantile",
    "clamp_min", "clamp_max", "abs", "vector", "scalar", "label_replace", "time", "timestamp",
    "by", "without", "on", "ignoring", "group_left", "group_right",
}  # fmt: skip
METRIC = re.compile(r"axio_anthropic_[a-z_]+")
SELECTOR = re.compile(r"(axio_anthropic_[a-z_]+)(\{[^}]*\})?")
CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
PAIRS = {")": "(", "]": "[", "}": "{"}


@pytest.fixture(scope="module")
def dashboards() -> list[dict[str, Any]]:
    found = committed_dashboards()
    assert found, "no dashboards/*.json: run `python dashboards/build.py`"
    return found


def queries_of(dashboards: list[dict[str, Any]]) -> list[PanelQuery]:
    return [query for dashboard in dashboards for query in panel_queries(dashboard)]


def panels_of(dashboards: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for dashboard in dashboards:
        for panel in iter_panels(dashboard):
            yield dashboard["uid"], panel


def unbalanced(expr: str) -> str | None:
    """Why the brackets of `expr` do not balance (string literals ignored), or None."""
    stack: list[str] = []
    for char in STRING.sub('""', expr):
        if char in "([{":
            stack.append(char)
        elif char in PAIRS and (not stack or stack.pop() != PAIRS[char]):
            return f"unexpected {char!r}"
    return f"unclosed {''.join(stack)!r}" if stack else None


def test_committed_json_is_up_to_date() -> None:
    fresh = build.generate()
    stale = [
        name
        for name, text in fresh.items()
        if not (path := build.DIRECTORY / name).exists() or path.read_text(encoding="utf-8") != text
    ]
    extra = sorted(p.name for p in build.DIRECTORY.glob("*.json") if p.name not in fresh)
    assert not stale and not extra, (
        f"dashboards/*.json out of date (stale: {stale}, no longer generated: {extra}); "
        "run `python dashboards/build.py` and commit the result"
    )


def test_generation_is_deterministic() -> None:
    assert build.generate() == build.generate()
    for text in build.generate().values():
        assert (
            text.endswith("}\n")
            and json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + ("\n") == text
        )


def test_check_mode_runs_as_a_script() -> None:
    result = subprocess.run(
        [sys.executable, "dashboards/build.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_check_mode_reports_stale_missing_and_extra_files(tmp_path: Path) -> None:
    fresh = build.generate()
    first, *rest = sorted(fresh)
    (tmp_path / first).write_text(fresh[first].replace('"title"', '"Title"', 1), encoding="utf-8")
    for name in rest[1:]:
        (tmp_path / name).write_text(fresh[name], encoding="utf-8")
    (tmp_path / "old.json").write_text("{}\n", encoding="utf-8")
    found = build.differences(tmp_path)
    assert found == [
        f"{first}: differs from the generated dashboard",
        f"{rest[0]}: missing",
        "old.json: no longer generated",
    ]


def test_top_level_is_grafana_dashboard_json(dashboards: list[dict[str, Any]]) -> None:
    uids = [dashboard.get("uid") for dashboard in dashboards]
    assert len(dashboards) >= 3
    assert len(set(uids)) == len(uids), uids
    for dashboard in dashboards:
        uid = dashboard.get("uid")
        assert isinstance(uid, str) and 0 < len(uid) <= 40, uid
        assert isinstance(dashboard.get("title"), str) and dashboard["title"], uid
        assert isinstance(dashboard.get("schemaVersion"), int), uid
        assert isinstance(dashboard.get("panels"), list) and dashboard["panels"], uid
        assert isinstance(dashboard.get("templating", {}).get("list"), list), uid
        ids = [panel.get("id") for panel in dashboard["panels"]]
        assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids), (uid, ids)
        titles = [panel["title"] for panel in iter_panels(dashboard)]
        assert len(set(titles)) == len(titles), (uid, titles)


def test_panels_fit_the_grid_without_overlapping(dashboards: list[dict[str, Any]]) -> None:
    for dashboard in dashboards:
        boxes = [(p["title"], p["gridPos"]) for p in dashboard["panels"]]
        for i, (title, a) in enumerate(boxes):
            assert a["x"] >= 0 and a["x"] + a["w"] <= 24 and a["h"] > 0, (dashboard["uid"], title, a)
            for other, b in boxes[i + 1 :]:
                apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"]
                assert apart or b["y"] + b["h"] <= a["y"], (dashboard["uid"], title, other)


def test_every_panel_is_described_has_a_unit_and_uses_the_datasource_variable(
    dashboards: list[dict[str, Any]],
) -> None:
    problems: list[str] = []
    for uid, panel in panels_of(dashboards):
        where = f"{uid} / {panel.get('title')!r}"
        if not str(panel.get("description", "")).strip():
            problems.append(f"{where}: no description")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if unit not in UNITS and not CUSTOM_UNIT.fullmatch(str(unit)):
            problems.append(f"{where}: unit {unit!r} neither one of {sorted(UNITS)} nor count:<unit>")
        if panel.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            problems.append(f"{where}: datasource {panel.get('datasource')}")
        targets = [t for t in panel.get("targets") or [] if str(t.get("expr", "")).strip()]
        if not targets:
            problems.append(f"{where}: no target with an expression")
        for target in panel.get("targets") or []:
            if target.get("datasource", {}).get("uid", "${datasource}") != "${datasource}":
                problems.append(f"{where} {target.get('refId')}: target datasource {target['datasource']}")
            if not str(target.get("legendFormat", "")).strip():
                problems.append(f"{where} {target.get('refId')}: no legend format")
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids) or not all(ref_ids):
            problems.append(f"{where}: refIds {ref_ids}")
    assert not problems, "\n".join(problems)


def test_every_expression_parses_and_uses_only_contract_metrics(dashboards: list[dict[str, Any]]) -> None:
    problems: list[str] = []
    for query in queries_of(dashboards):
        where = f"{query.dashboard} / {query.panel_title!r} {query.ref_id}"
        if (why := unbalanced(query.expr)) is not None:
            problems.append(f"{where}: {why} in {query.expr}")
        unknown = set(METRIC.findall(query.expr)) - KNOWN_METRICS
        if unknown or not METRIC.search(query.expr):
            problems.append(f"{where}: unknown or no axio_anthropic_* metric: {sorted(unknown)}")
        calls = set(CALL.findall(STRING.sub('""', query.expr))) - PROMQL_CALLS
        if calls:
            problems.append(f"{where}: unexpected functions {sorted(calls)}")
    assert not problems, "\n".join(problems)


def test_every_selector_is_filtered_by_job_instance_and_model(dashboards: list[dict[str, Any]]) -> None:
    problems: list[str] = []
    for query in queries_of(dashboards):
        for metric, matchers in SELECTOR.findall(query.expr):
            wanted = AGENT_FILTER_VARIABLES if metric.startswith("axio_anthropic_agent_") else FILTER_VARIABLES
            missing = [name for name in wanted if f'{name}=~"${name}"' not in matchers]
            if missing:
                problems.append(f"{query.dashboard} / {query.panel_title!r}: {metric} lacks {missing}")
    assert not problems, "\n".join(problems)


def test_every_dashboard_defines_the_template_variables(dashboards: list[dict[str, Any]]) -> None:
    for dashboard in dashboards:
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert set(TEMPLATE_VARIABLES) <= set(variables), (dashboard["uid"], sorted(variables))
        assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
        for name in FILTER_VARIABLES:
            variable = variables[name]
            query = variable["query"]
            text = query if isinstance(query, str) else str(query.get("query", ""))
            assert variable["type"] == "query" and variable["multi"] and variable["includeAll"], (name, variable)
            assert re.fullmatch(rf"label_values\(axio_anthropic_\w+(\{{.*\}})?, {name}\)", text), text
            assert variable["datasource"]["uid"] == "${datasource}"
        defined = set(variables) | BUILTIN_VARIABLES
        for query in panel_queries(dashboard):
            assert variables_in(query.expr) <= defined, (query, defined)


def test_drilldown_repeats_rows_by_model_and_instance(dashboards: list[dict[str, Any]]) -> None:
    (drilldown,) = [d for d in dashboards if d["uid"] == "axio-anthropic-drilldown"]
    rows = [p for p in drilldown["panels"] if p["type"] == "row"]
    assert [row.get("repeat") for row in rows] == ["model", "instance"]
    # An expanded row's panels follow it; panels nested inside one would be dropped by Grafana.
    assert all(not row["collapsed"] and not row["panels"] for row in rows)


def test_latency_panels_request_exemplars(dashboards: list[dict[str, Any]]) -> None:
    latency = 0
    for uid, panel in panels_of(dashboards):
        targets = panel.get("targets") or []
        # Graphs draw exemplars; a stat's single number has nowhere to show them.
        if panel["type"] == "timeseries" and any("_seconds_bucket" in t.get("expr", "") for t in targets):
            latency += 1
            assert any(t.get("exemplar") is True for t in targets), (uid, panel["title"])
    assert latency >= 5


def test_substitution_leaves_plain_promql() -> None:
    expr = 'sum(rate(x{job=~"$job", model=~"${model}", instance=~"[[instance]]"}[$__rate_interval])) * $__interval'
    assert substitute(expr) == 'sum(rate(x{job=~".*", model=~".*", instance=~".*"}[1m])) * 30s'
    assert substitute(expr, {"__rate_interval": "5m"}).endswith("[5m])) * 30s")
    with pytest.raises(KeyError, match="nope"):
        substitute("up{a=~'$nope'}")
    for query in evaluable_queries():
        assert "$" not in query.expr and query.expr.strip(), query


def test_expressions_pass_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    queries = evaluable_queries()
    # JSON is YAML, so a recording rule per query lets promtool parse every expression.
    rules = [{"record": f"dashboard_query_{i}", "expr": q.expr} for i, q in enumerate(queries)]
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_overview_breaks_cost_and_tokens_down_by_each_call_label(dashboards: list[dict[str, Any]]) -> None:
    """A row of cost and token panels per call label (README "Cost and usage per tenant"), the
    calls without the label shown as "(unset)" rather than as a nameless series."""
    (overview,) = [d for d in dashboards if d["uid"] == "axio-anthropic-overview"]
    panels = overview["panels"]
    (row,) = [i for i, panel in enumerate(panels) if panel["title"] == "Cost and tokens by tenant and agent"]
    assert panels[row]["type"] == "row" and row == max(i for i, p in enumerate(panels) if p["type"] == "row")
    shown = [(panel["title"], panel["fieldConfig"]["defaults"]["unit"]) for panel in panels[row + 1 :]]
    assert shown == [
        ("Cost per hour by tenant", "currencyUSD"),
        ("Tokens per second by tenant", "count:tokens/s"),
        ("Cost per hour by agent", "currencyUSD"),
        ("Tokens per second by agent", "count:tokens/s"),
    ]
    filtered = 'job=~"$job", instance=~"$instance", provider=~"$provider", model=~"$model"'
    for panel, (label, family, scale) in zip(
        panels[row + 1 :],
        [
            (label, family, scale)
            for label in ("tenant", "agent")
            for family, scale in (("cost_usd", " * 3600"), ("tokens", ""))
        ],
        strict=True,
    ):
        (query,) = panel["targets"]
        inner = f"sum by ({label}) (rate(axio_anthropic_{family}_total{{{filtered}}}[$__rate_interval])){scale}"
        assert query["expr"] == f'label_replace({inner}, "{label}", "(unset)", "{label}", "")', panel["title"]
        assert query["legendFormat"] == "{{" + label + "}}"
        assert label in panel["description"] and "(unset)" in panel["description"] and "_OTHER" in panel["description"]


def test_agent_series_have_no_label_the_agents_row_would_need_to_filter(dashboards: list[dict[str, Any]]) -> None:
    """The Agents row follows job and instance only: the instrumentor's series carry no model (or
    provider) label, so a `model=~"$model"` matcher there would only hide runs once a model is chosen."""
    from prometheus_client import CollectorRegistry

    from axio_transport_anthropic.telemetry.agent_metrics import AgentSeries

    registry = CollectorRegistry()
    series = AgentSeries(registry)
    series.run_ended("ok", 1.0, 2)
    series.tool_ended(series.tool_label("stock_level"), "ok", 0.01)
    labels = {name for family in registry.collect() for sample in family.samples for name in sample.labels}
    assert labels <= {"outcome", "tool", "le"}, labels
    samples = {sample.name for family in registry.collect() for sample in family.samples}
    names = {name for name in samples if not name.endswith("_created")}
    assert names <= KNOWN_METRICS, names - KNOWN_METRICS
    (overview,) = [d for d in dashboards if d["uid"] == "axio-anthropic-overview"]
    titles = [panel["title"] for panel in overview["panels"]]
    row = titles.index("Agents")
    assert titles[row + 1 : row + 7] == [
        "Agent runs by outcome",
        "Agent run duration p50 / p95 / p99",
        "Turns per run",
        "Tool calls by tool",
        "Tool errors by tool",
        "Tool duration p95 by tool",
    ]
    queried = {metric for panel in overview["panels"][row + 1 : row + 7] for metric in METRIC.findall(str(panel))}
    assert {name for name in queried if "_agent_" in name} == {f"axio_anthropic_{m}" for m in agents.METRICS}
