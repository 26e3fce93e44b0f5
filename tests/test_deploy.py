"""The Prometheus configuration and rules under deploy/prometheus/, checked offline: the real
``promtool`` (check config, check rules, test rules) and what the package actually exports
(metric names, histogram buckets). Compose: tests/test_deploy_compose.py; Kubernetes:
tests/test_deploy_kubernetes.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.utils import floatToGoString

from axio_transport_anthropic.telemetry.instruments import TTFT_BUCKETS, prom_instruments

from .deploy_support import (
    JOB,
    PROMETHEUS_CONFIG,
    PROMETHEUS_DIR,
    README,
    RULE_TESTS,
    RULES_FILE,
    alert_names,
    alerts,
    all_rules,
    github_anchor,
    load_yaml,
    readme_anchors,
    records,
    rules_data,
    run_promtool,
)

SEVERITIES = {"critical", "warning", "info"}
#: The SLO bound of the time-to-first-token rules, in seconds.
TTFT_SLO_SECONDS = 5.0
#: How prometheus-client writes a bucket bound into the `le` label (5.0 -> "5.0").
go_float: Callable[[float], str] = floatToGoString


def exported_series_names() -> set[str]:
    """Every sample name the package's Prometheus instruments produce, with each label child created."""
    registry = CollectorRegistry()
    series = prom_instruments(registry).series("claude-sonnet-4-6")
    for by_label in (series.attempts, series.retries, series.backoff_seconds, series.stop_reasons, series.errors):
        by_label("x").inc()
    for gauge in (series.ratelimit_remaining, series.ratelimit_limit):
        gauge("requests").set(1)
    return {sample.name for family in registry.collect() for sample in family.samples}


# --- Prometheus: promtool ---------------------------------------------------------------------


def test_promtool_check_config(tmp_path: Path) -> None:
    # From another directory: rule_files must resolve relative to the configuration file.
    output = run_promtool("check", "config", PROMETHEUS_CONFIG, cwd=tmp_path)
    assert re.search(r"SUCCESS: 1 rule files? found", output), output
    assert f"{len(all_rules())} rules found" in output, output


def test_promtool_check_rules() -> None:
    output = run_promtool("check", "rules", RULES_FILE)
    assert f"{len(all_rules())} rules found" in output, output


def test_promtool_test_rules() -> None:
    assert RULE_TESTS, "no unit tests in deploy/prometheus/tests/"
    output = run_promtool("test", "rules", *RULE_TESTS)
    assert output.count("SUCCESS") == len(RULE_TESTS), output


# --- Prometheus: rules ------------------------------------------------------------------------


def rule_test_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in RULE_TESTS:
        data = load_yaml(path)
        assert [(path.parent / name).resolve() for name in data["rule_files"]] == [RULES_FILE], path
        cases.extend(data["tests"])
    return cases


def test_every_alert_has_firing_and_quiet_unit_tests() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in rule_test_cases():
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = set(alert_names())
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested not firing"
    assert (firing | quiet) - names == set(), "tests for alerts that do not exist"


def test_every_recording_rule_has_a_unit_test() -> None:
    tested = " ".join(check["expr"] for case in rule_test_cases() for check in case.get("promql_expr_test", []))
    untested = [rule["record"] for rule in records() if not re.search(rf"{re.escape(rule['record'])}\b", tested)]
    assert untested == []


def test_rule_names_are_unique_and_groups_well_formed() -> None:
    names = [rule.get("alert") or rule.get("record") for rule in all_rules()]
    assert len(alert_names()) == len(set(alert_names()))
    assert all(names)
    group_names = [group["name"] for group in rules_data()["groups"]]
    assert len(group_names) == len(set(group_names))


@pytest.mark.parametrize("alert", alert_names())
def test_alert_has_severity_annotations_and_runbook(alert: str) -> None:
    rule = next(rule for rule in alerts() if rule["alert"] == alert)
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    url = annotations["runbook_url"]
    # A notification is read outside the repository: a relative link leads nowhere.
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc, f"{alert}: runbook_url {url!r} is not absolute"
    assert parts.path.endswith("/deploy/README.md"), url
    anchor = parts.fragment
    assert anchor == github_anchor(alert), url
    assert anchor in readme_anchors(), f"deploy/README.md has no section #{anchor}"
    assert re.fullmatch(r"\d+[smh]", rule["for"]), rule.get("for")


def test_every_runbook_url_is_built_from_one_base() -> None:
    bases = {str(rule["annotations"]["runbook_url"]).partition("#")[0] for rule in alerts()}
    assert len(bases) == 1, bases
    # The one setting: deploy/kubernetes/generate.py --runbook-base-url replaces it.
    from dashboards.settings import RUNBOOK_BASE_URL

    assert bases == {RUNBOOK_BASE_URL}


def test_readme_lists_every_alert() -> None:
    text = README.read_text(encoding="utf-8")
    for alert in alert_names():
        assert f"[`{alert}`](#{github_anchor(alert)})" in text, f"{alert} missing from the alert table"


def test_rules_only_use_metrics_the_package_exports() -> None:
    exported = exported_series_names()
    defined = {rule["record"] for rule in records()}
    for rule in all_rules():
        expr = rule["expr"]
        for name in re.findall(r"(?<![:\w])axio_anthropic_\w+(?![:\w])", expr):
            assert name in exported, f"{rule.get('alert') or rule.get('record')}: {name} is not exported"
        for name in re.findall(r"\b[a-z_]+:axio_anthropic_\w+:\w+\b", expr):
            assert name in defined, f"{rule.get('alert') or rule.get('record')}: no recording rule {name}"


def test_ttft_slo_uses_an_existing_bucket_bound() -> None:
    assert TTFT_SLO_SECONDS in TTFT_BUCKETS
    bounds = {go_float(bound) for bound in TTFT_BUCKETS}
    used = {le for rule in all_rules() for le in re.findall(r'le="([^"]+)"', rule["expr"])}
    assert used == {go_float(TTFT_SLO_SECONDS)}
    assert used <= bounds


def test_retry_alerts_react_within_two_minutes() -> None:
    # A short verification run must see the 429 and 529 alerts pending or firing.
    for alert in ("AxioAnthropicRateLimited", "AxioAnthropicOverloaded"):
        rule = next(rule for rule in alerts() if rule["alert"] == alert)
        assert rule["for"] == "1m"
        recorded = re.search(r"\b([a-z_]+:axio_anthropic_\w+:\w+)\b", rule["expr"])
        assert recorded is not None
        source = next(r for r in records() if r["record"] == recorded.group(1))
        windows = set(re.findall(r"\[(\w+)\]", source["expr"]))
        dependencies = re.findall(r"\b([a-z_]+:axio_anthropic_\w+:\w+)\b", source["expr"])
        for dependency in dependencies:
            windows |= set(re.findall(r"\[(\w+)\]", next(r for r in records() if r["record"] == dependency)["expr"]))
        assert windows == {"1m"}, (alert, windows)


def test_availability_alerts_name_the_scrape_job() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alerts()}
    assert f'up{{job="{JOB}"}} == 0' in exprs["AxioAnthropicTargetDown"]
    assert f'absent(up{{job="{JOB}"}})' in exprs["AxioAnthropicTargetMissing"]
    # Every other rule works whatever the job is called.
    others = [rule["expr"] for rule in all_rules() if "up{" not in rule["expr"]]
    assert not any("job=" in expr for expr in others)


def test_prometheus_config_scrapes_the_app() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    app = jobs[JOB]
    targets = [target for static in app["static_configs"] for target in static["targets"]]
    assert targets == ["app:9464"]
    assert app.get("metrics_path", "/metrics") == "/metrics"
    interval = app.get("scrape_interval", config["global"]["scrape_interval"])
    assert 5 <= int(interval.rstrip("s")) <= 15
    rule_globs = config["rule_files"]
    matched = {path.resolve() for pattern in rule_globs for path in PROMETHEUS_DIR.glob(pattern)}
    assert matched == {RULES_FILE}
