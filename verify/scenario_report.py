"""The report section of one scenario: every check on its run, the evidence, and ``passed``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dashboards.queries import evaluable_queries

from verify import agent_checks, attribution, rule_checks
from verify.panel_checks import panel_entries, panels_with_data
from verify.promapi import JOB
from verify.raw_run import RawRun
from verify.scenarios import Scenario

__all__ = ["evaluate"]


def evaluate(scenario: Scenario, raw: RawRun, files: Sequence[Path]) -> dict[str, Any]:
    """The report section of one scenario: every check, its evidence, and ``passed``."""
    failures: list[str] = []
    panels = panel_entries(raw, strict=scenario.faults)
    base = [entry for entry in panels if not entry["variables"]]
    variants = [entry for entry in panels if entry["variables"]]
    for entry in panels:
        if not entry["ok"]:
            where = f"{entry['dashboard']} / {entry['title']} [{entry['ref_id']}]"
            failures.append(f"panel {where}: {entry['error'] or entry.get('empty') or 'failed'}")

    expected = {(query.dashboard, query.panel_title, query.ref_id, query.expr) for query in evaluable_queries()}
    checked = {(entry["dashboard"], entry["title"], entry["ref_id"], entry["expr"]) for entry in base}
    if expected != checked:
        failures.append(f"panel queries checked differ from evaluable_queries(): {sorted(expected ^ checked)[:5]}")

    instances = sorted(load.instance for load in raw.loads)
    models = sorted({load.spec.model for load in raw.loads})
    # The loads all call Anthropic's API (the simulator's direct route): the one provider listed.
    for name, wanted in (("job", [JOB]), ("instance", instances), ("provider", ["anthropic"]), ("model", models)):
        if sorted(raw.variables.get(name, [])) != wanted:
            failures.append(f"variable ${name} lists {raw.variables.get(name)}, expected {wanted}")

    classes = rule_checks.classify(raw.rules)
    rules = rule_checks.rule_entries(raw, classes)
    for entry in rules:
        if not entry["ok"]:
            failures.append(f"rule {entry['name']}: health {entry['health']} {entry['last_error'] or entry['error']}")
    in_files = rule_checks.yaml_rule_count(files)
    if len(raw.rules) != in_files:
        failures.append(f"Prometheus loaded {len(raw.rules)} rules, the rule files hold {in_files}")

    alerts = {entry["name"]: entry for entry in rules if entry["type"] == "alerting"}
    alert_results = rule_checks.alert_checks(scenario.faults, raw, classes, alerts, failures)

    attribution_checks = attribution.checks(raw.instant, [load.spec.labels for load in raw.loads])
    for check in attribution_checks:
        if not check["ok"]:
            failures.append(
                f"panel {check['dashboard']} / {check['title']}: {check['label']} values {check['seen']}, "
                f"expected those the load processes attached: {check['expected']}"
            )
    if not attribution_checks:
        failures.append("no panel breaks cost or tokens down by a call label")

    agent_results = agent_checks.checks(raw.instant, clean=not scenario.faults)
    for check in agent_results:
        if not check["ok"]:
            failures.append(f"panel {check['dashboard']} / {check['title']} [{check['ref_id']}]: {check['shown']}")
    if not agent_results:
        failures.append("no Agents row: the load processes' agent runs are on no panel")

    load_entries: list[dict[str, Any]] = []
    for load in raw.loads:
        load_entries.append(
            {
                "name": load.spec.name,
                "simulator_profile": load.spec.profile,
                "model": load.spec.model,
                "concurrency": load.spec.concurrency,
                "labels": {name: list(values) for name, values in load.spec.labels},
                "instance": load.instance,
                "exit_code": load.exit_code,
                "summary": load.summary,
            }
        )
        if load.exit_code != 0 or load.summary is None:
            failures.append(
                f"load {load.spec.name} exited with {load.exit_code}, summary {'ok' if load.summary else 'missing'}"
            )
        elif load.summary["requests"]["total"] == 0:
            failures.append(f"load {load.spec.name} made no request")
    if scenario.faults:
        statuses: dict[str, int] = {}
        for load in raw.loads:
            for status, count in ((load.summary or {}).get("attempts", {}).get("by_status") or {}).items():
                statuses[status] = statuses.get(status, 0) + int(count)
        for status in ("429", "529"):
            if not statuses.get(status):
                failures.append(f"the fault run produced no {status} attempt")

    return {
        "passed": not failures,
        "failures": failures,
        "description": scenario.description,
        "duration_seconds": scenario.duration,
        "window": raw.window,
        "simulators": raw.simulators,
        "loads": load_entries,
        "targets": [
            {
                "instance": target.get("labels", {}).get("instance"),
                "labels": target.get("labels"),
                "health": target.get("health"),
                "last_error": target.get("lastError") or None,
            }
            for target in raw.targets
        ],
        "variables": raw.variables,
        "summary": {
            "panel_queries_ok": sum(entry["ok"] for entry in base),
            "panel_queries": len(base),
            "panel_queries_with_data": sum(entry["has_data"] for entry in base),
            "panels_with_data": panels_with_data(base),
            "panels": len({(entry["dashboard"], entry["panel_id"]) for entry in base}),
            "repeat_queries_ok": sum(entry["ok"] for entry in variants),
            "repeat_queries": len(variants),
            "rules_ok": sum(entry["ok"] for entry in rules),
            "rules": len(rules),
            "alerts": {name: entry["state"] for name, entry in alerts.items()},
            "exemplars": raw.exemplars,
        },
        "alert_checks": alert_results,
        "attribution_checks": attribution_checks,
        "agent_checks": agent_results,
        "panels": panels,
        "rules": rules,
    }
