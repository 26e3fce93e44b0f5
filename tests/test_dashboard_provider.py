"""The `provider` variable narrows every panel and every alert to one provider.

Checked on the committed dashboards and rules with promtool: the series a fixed scenario exposes
on Anthropic's API and on Bedrock (the same two models on each), evaluated by every panel query
with `$provider` set to each of them and to one with no traffic.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dashboards.queries import committed_dashboards, panel_queries, substitute
from prometheus_client import CollectorRegistry

from axio_transport_anthropic.telemetry import RequestInfo, RequestObserver, TelemetryConfig

from .deploy_support import promtool
from .test_labels_exposition import scenario

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules" / "axio-anthropic.rules.yml"
TARGET = {"job": "axio-anthropic", "instance": "app:9464"}
STEPS = 40  # 10 minutes at 15 s


class _On:
    """A config whose requests all go to ``provider``: the scenario, replayed on another cloud."""

    def __init__(self, config: TelemetryConfig, provider: str) -> None:
        self._config = config
        self._provider = provider

    def start(self, info: RequestInfo) -> RequestObserver:
        return self._config.start(dataclasses.replace(info, provider=self._provider))


def _input_series(providers: tuple[str, ...]) -> list[dict[str, str]]:
    """The scenario's samples on each provider, as promtool input: counters grow by their value
    every step, gauges hold it."""
    registry = CollectorRegistry()
    config = TelemetryConfig(registry=registry, traces=False, logs=False)
    for provider in providers:
        scenario(_On(config, provider))  # type: ignore[arg-type]
    found = []
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = {**TARGET, **sample.labels}
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            grows = family.type in ("counter", "histogram")
            values = f"0+{sample.value:g}x{STEPS}" if grows else f"{sample.value:g}x{STEPS}"
            found.append({"series": f"{sample.name}{{{text}}}", "values": values})
    return found


def _queries() -> list[tuple[str, str]]:
    """``(where, expr)`` of every panel query over the request series (the Agents row's series
    carry no provider: runs are not per provider)."""
    return [
        (f"{q.dashboard} / {q.panel_title} {q.ref_id}", q.expr)
        for dashboard in committed_dashboards()
        for q in panel_queries(dashboard)
        if "axio_anthropic_agent_" not in q.expr
    ]


def _run(tmp_path: Path, tests: list[dict[str, Any]]) -> str:
    path = tmp_path / "provider.test.yml"
    path.write_text(json.dumps({"rule_files": [str(RULES_FILE)], "evaluation_interval": "15s", "tests": tests}))
    result = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    return "" if result.returncode == 0 else result.stdout + result.stderr


def test_every_dashboard_chains_provider_between_instance_and_model() -> None:
    for dashboard in committed_dashboards():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        names = [v["name"] for v in dashboard["templating"]["list"]]
        assert names.index("instance") < names.index("provider") < names.index("model"), names
        query = variables["provider"]["query"]
        text = query if isinstance(query, str) else str(query.get("query", ""))
        assert text == 'label_values(axio_anthropic_requests_total{job=~"$job", instance=~"$instance"}, provider)'
        model = variables["model"]["query"]
        assert 'provider=~"$provider"' in (model if isinstance(model, str) else str(model.get("query", "")))
        assert variables["provider"]["allValue"] == ".*" and variables["provider"]["includeAll"]


def test_every_panel_query_follows_the_provider_variable(tmp_path: Path) -> None:
    """A query that ignored `$provider` would show Anthropic's traffic under Vertex AI; one that
    filtered on something else would show nothing under Bedrock."""
    queries = _queries()
    assert len(queries) > 30
    checks: list[dict[str, Any]] = []
    for _where, expr in queries:
        for provider, present in (("gcp.vertex_ai", False), ("aws.bedrock", True), ("anthropic", True), (".*", True)):
            chosen = substitute(expr, {"provider": provider})
            if present:
                checks.append(
                    {
                        "expr": f"count({chosen}) > bool 0",
                        "eval_time": "9m",
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    }
                )
            else:
                checks.append({"expr": chosen, "eval_time": "9m", "exp_samples": []})
    failure = _run(
        tmp_path,
        [{"interval": "15s", "input_series": _input_series(("anthropic", "aws.bedrock")), "promql_expr_test": checks}],
    )
    assert not failure, failure[:4000]


def test_alerts_and_records_keep_providers_apart(tmp_path: Path) -> None:
    """One model on two providers: Anthropic's calls fail 10 %, Bedrock's none. The error ratio is
    recorded per provider, and only Anthropic's alert fires (by model alone, 5 % would not)."""
    series = (
        'axio_anthropic_requests_total{{job="axio-anthropic",instance="app:9464",model="m",provider="{}",outcome="{}"}}'
    )
    failing = {"ok": "0+9x60", "error": "0+1x60"}
    healthy = {"ok": "0+10x60", "error": "0+0x60"}
    inputs = [
        {"series": series.format(provider, outcome), "values": values}
        for provider, outcomes in (("anthropic", failing), ("aws.bedrock", healthy))
        for outcome, values in outcomes.items()
    ]
    record = "job_model:axio_anthropic_request_errors:ratio_rate5m"
    runbook = (
        "https://github.com/mosquito/axio-transport-anthropic/blob/main/deploy/README.md#axioanthropichigherrorratio"
    )
    labels = 'job="axio-anthropic", model="m", provider="{}"'
    test = {
        "interval": "15s",
        "input_series": inputs,
        "promql_expr_test": [
            {
                "expr": f"{record} > bool 0.05",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": f"{{{labels.format('anthropic')}}}", "value": 1},
                    {"labels": f"{{{labels.format('aws.bedrock')}}}", "value": 0},
                ],
            }
        ],
        "alert_rule_test": [
            {
                "eval_time": "10m",
                "alertname": "AxioAnthropicHighErrorRatio",
                "exp_alerts": [
                    {
                        "exp_labels": {**_labels(labels.format("anthropic")), "severity": "critical"},
                        "exp_annotations": {
                            "summary": "m on anthropic: 10% of Claude calls fail",
                            "description": "10% of the stream() calls that job axio-anthropic made to m over the last "
                            "5 minutes failed after all retries (threshold 5 %). axio_anthropic_errors_total by type "
                            "says which error.",
                            "runbook_url": runbook,
                        },
                    }
                ],
            }
        ],
    }
    failure = _run(tmp_path, [test])
    assert not failure, failure


def _labels(text: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


@pytest.fixture(autouse=True)
def _needs_promtool() -> None:
    promtool()
