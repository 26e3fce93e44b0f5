"""The dashboards show the alerts as the rules define them: the error-ratio panels compute the
alert's own expression with its threshold drawn, panels link to the runbook of the alert they
show, and every dashboard draws the firing alerts as annotations."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dashboards.queries import iter_panels, substitute, variables_in

from .dashboard_support import (
    DRILLDOWN,
    OVERVIEW,
    RETRIES,
    RULES_FILE,
    by_uid,
    exprs,
    panel,
    rules_by_name,
)

MODEL = "claude-sonnet-4-6"


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return by_uid()


@pytest.fixture(scope="module")
def rules() -> dict[str, dict[str, Any]]:
    return rules_by_name()


def normalise(expr: str) -> str:
    return " ".join(expr.split())


def unscoped(expr: str) -> str:
    """`expr` without the dashboard's own `job`, `instance` and `model` matchers."""

    def strip(match: re.Match[str]) -> str:
        kept = [m.strip() for m in match.group(1).split(",") if not re.fullmatch(r'\s*(\w+)=~"\$\1"\s*', m)]
        return "{" + ", ".join(kept) + "}" if kept else ""

    return re.sub(r"\{([^}]*)\}", strip, expr)


def threshold_steps(found: dict[str, Any]) -> list[tuple[float | None, str]]:
    steps = found["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [(step.get("value"), step["color"]) for step in steps]


# --- the error ratio is the alert's ---------------------------------------------------------------


def test_overview_error_ratio_is_the_alerts_own_expression(
    dashboards: dict[str, dict[str, Any]], rules: dict[str, dict[str, Any]]
) -> None:
    alert = rules["AxioAnthropicHighErrorRatio"]
    found = re.fullmatch(r"\s*([a-zA-Z0-9_:]+)\s*>\s*([0-9.]+)\s*", alert["expr"])
    assert found, alert["expr"]
    recorded, threshold = found.group(1), float(found.group(2))
    expected = normalise(rules[recorded]["expr"])
    by_model = panel(dashboards, OVERVIEW, "Error ratio by model")
    (expr,) = exprs(by_model)
    assert normalise(unscoped(expr)) == expected
    stat = panel(dashboards, OVERVIEW, "Error ratio")
    (expr,) = exprs(stat)
    # The stat is the worst (job, model) series: red exactly when the alert's condition holds.
    assert normalise(unscoped(expr)) == f"max({expected})"
    for shown in (stat, by_model):
        assert (threshold, "red") in threshold_steps(shown), shown["title"]
    assert by_model["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] in ("dashed", "line")


# --- runbook links --------------------------------------------------------------------------------


def runbook_urls(found: dict[str, Any], runbooks: set[str]) -> set[str]:
    return {str(link["url"]) for link in found.get("links") or [] if link["url"] in runbooks}


def test_panels_link_to_the_runbooks_of_their_alerts(
    dashboards: dict[str, dict[str, Any]], rules: dict[str, dict[str, Any]]
) -> None:
    runbook = {name: str(r["annotations"]["runbook_url"]) for name, r in rules.items() if "alert" in r}
    linked: set[str] = set()
    for uid, dashboard in dashboards.items():
        for found in iter_panels(dashboard):
            for link in found.get("links") or []:
                if str(link.get("title", "")).startswith("Runbook"):
                    assert link["url"] in runbook.values(), (uid, found["title"], link)
                    assert link.get("targetBlank") is True, (uid, found["title"], link)
                    linked.add(str(link["url"]))
    assert set(runbook.values()) - linked == set(), "alerts no panel links to"
    expected = {
        (OVERVIEW, "Error ratio"): {"AxioAnthropicHighErrorRatio"},
        (OVERVIEW, "Error ratio by model"): {"AxioAnthropicHighErrorRatio"},
        (OVERVIEW, "Time to first token p50 / p95 / p99"): {
            "AxioAnthropicTTFTBudgetBurnFast",
            "AxioAnthropicTTFTBudgetBurnSlow",
        },
        (OVERVIEW, "Cost per hour by model"): {"AxioAnthropicCostSpike", "AxioAnthropicCostHigh"},
        (RETRIES, "Rate-limited and overloaded attempts"): {"AxioAnthropicRateLimited", "AxioAnthropicOverloaded"},
        (RETRIES, "Rate-limit headroom by resource"): {"AxioAnthropicRateLimitHeadroomLow"},
        (DRILLDOWN, "Time to first token · $model"): {
            "AxioAnthropicTTFTBudgetBurnFast",
            "AxioAnthropicTTFTBudgetBurnSlow",
        },
    }
    for (uid, title), names in expected.items():
        found = panel(dashboards, uid, title)
        assert runbook_urls(found, set(runbook.values())) == {runbook[name] for name in names}, title


# --- alert annotations ----------------------------------------------------------------------------


def alert_annotation(dashboard: dict[str, Any]) -> dict[str, Any]:
    listed: list[dict[str, Any]] = (dashboard.get("annotations") or {}).get("list") or []
    found = [a for a in listed if "ALERTS" in str(a.get("expr"))]
    assert found, f"{dashboard['uid']}: no annotation over the ALERTS series"
    return found[0]


def test_every_dashboard_annotates_its_firing_alerts(dashboards: dict[str, dict[str, Any]]) -> None:
    for uid, dashboard in dashboards.items():
        annotation = alert_annotation(dashboard)
        assert annotation["enable"] is True, uid
        assert annotation["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, uid
        expr = str(annotation["expr"])
        assert 'alertstate="firing"' in expr and 'alertname=~"AxioAnthropic.+"' in expr, expr
        defined = {str(v["name"]) for v in dashboard["templating"]["list"]}
        assert variables_in(expr) <= defined, expr
        assert "{{alertname}}" in annotation["titleFormat"], uid


def test_the_alert_annotation_shows_the_selected_models_alerts(
    dashboards: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    expr = substitute(str(alert_annotation(dashboards[OVERVIEW])["expr"]), {"model": MODEL})
    series = 'axio_anthropic_requests_total{{job="axio-anthropic",instance="app:9464",model="{}",outcome="{}"}}'
    # Both models fail 10 % of calls: each one's alert fires, the selected model's shows; so does
    # TargetMissing (no `up` here), which concerns every model.
    test = {
        "rule_files": [str(RULES_FILE)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [
                    {"series": series.format(model, outcome), "values": values}
                    for model in (MODEL, "claude-haiku-4-5")
                    for outcome, values in (("ok", "0+9x60"), ("error", "0+1x60"))
                ],
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": 'ALERTS{alertname="AxioAnthropicHighErrorRatio", alertstate="firing", '
                                f'job="axio-anthropic", model="{MODEL}", severity="critical"}}',
                                "value": 1,
                            },
                            {
                                "labels": 'ALERTS{alertname="AxioAnthropicTargetMissing", alertstate="firing", '
                                'job="axio-anthropic", severity="warning"}',
                                "value": 1,
                            },
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "annotation.test.yml"
    path.write_text(json.dumps(test), encoding="utf-8")
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
