"""Rule checks: every rule loaded and healthy, which alerting rules watch 429s and 529s, their states."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml  # type: ignore[import-untyped,unused-ignore]

from verify import query_answers as answers
from verify.raw_run import RawRun, rule_key

__all__ = ["RULES_DIR", "alert_checks", "classify", "rule_entries", "rule_files", "yaml_rule_count"]

RULES_DIR: Final = Path(__file__).resolve().parent.parent / "deploy" / "prometheus" / "rules"

_STATES: Final = ("inactive", "pending", "firing")
_ALERT_CLASSES: Final = {
    "429": re.compile(r'"429"|rate_limited|rate_limit_error'),
    "529": re.compile(r'"529"|overloaded'),
}
_ALERT_NAMES: Final = {"429": re.compile(r"RateLimited|429"), "529": re.compile(r"Overload|529")}
_RECORD_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def rule_files(directory: Path = RULES_DIR) -> list[Path]:
    return sorted(path for path in directory.glob("*.y*ml") if path.is_file())


def classify(rules: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Which alerting rules watch 429s and which 529s: by their expression, recording rules
    expanded, else by name."""
    recorded = {str(rule["name"]): str(rule["query"]) for rule in rules if rule.get("type") == "recording"}

    def expand(expr: str, depth: int = 0) -> str:
        if depth > 5:
            return expr
        return _RECORD_NAME.sub(
            lambda match: (
                f"({expand(recorded[match.group(0)], depth + 1)})" if match.group(0) in recorded else match.group(0)
            ),
            expr,
        )

    alerting = [rule for rule in rules if rule.get("type") == "alerting"]
    classes: dict[str, list[str]] = {}
    for name, pattern in _ALERT_CLASSES.items():
        found = [str(rule["name"]) for rule in alerting if pattern.search(expand(str(rule["query"])))]
        if not found:
            found = [str(rule["name"]) for rule in alerting if _ALERT_NAMES[name].search(str(rule["name"]))]
        classes[name] = found
    return classes


def yaml_rule_count(files: Sequence[Path]) -> int:
    count: int = 0
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in document.get("groups") or []:
            count += len(group.get("rules") or [])
    return count


def rule_entries(raw: RawRun, classes: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    class_of = {name: label for label, names in classes.items() for name in names}
    entries: list[dict[str, Any]] = []
    for rule in raw.rules:
        result = raw.rule_queries[rule_key(rule)]
        entry: dict[str, Any] = {
            "group": rule.get("group"),
            "name": rule.get("name"),
            "type": rule.get("type"),
            "expr": rule.get("query"),
            "health": rule.get("health"),
            "last_error": rule.get("lastError") or None,
            "valid": result.ok,
            "error": result.error,
            "series": answers.series_count(result),
            "sample": answers.sample(result),
        }
        if rule.get("type") == "alerting":
            entry["for_seconds"] = rule.get("duration")
            entry["class"] = class_of.get(str(rule["name"]))
            entry["state"] = rule.get("state")
            entry["active"] = [
                {"labels": alert.get("labels"), "state": alert.get("state"), "value": alert.get("value")}
                for alert in rule.get("alerts") or []
            ]
            first = raw.timeline.first.get(str(rule["name"]), {})
            entry["first_pending_s"] = first.get("pending")
            entry["first_firing_s"] = first.get("firing")
        entry["ok"] = result.ok and rule.get("health") == "ok"
        entries.append(entry)
    return entries


def _state_rank(state: Any) -> int:
    return _STATES.index(state) if state in _STATES else 0


def alert_checks(
    faults: bool,
    raw: RawRun,
    classes: Mapping[str, Sequence[str]],
    alerts: Mapping[str, Mapping[str, Any]],
    failures: list[str],
) -> list[dict[str, Any]]:
    """Under faults a 429 and a 529 alert must be active; without, no alert may be, nor ever have been.
    Each failed check is appended to ``failures``."""
    checks: list[dict[str, Any]] = []
    for label, names in classes.items():
        states = {name: alerts[name]["state"] for name in names}
        if not names:
            failures.append(f"no alerting rule watches {label}s")
        if faults:
            ok = any(_state_rank(state) >= 1 for state in states.values())
            expectation = "pending or firing"
        else:
            ever = {name: sorted(raw.timeline.first.get(name, {})) for name in names}
            ok = all(_state_rank(state) == 0 for state in states.values()) and not any(ever.values())
            expectation = "inactive, and never pending or firing during the run"
        check = {"status": label, "alerts": names, "states": states, "expected": expectation, "ok": ok and bool(names)}
        checks.append(check)
        if not check["ok"]:
            failures.append(f"{label} alerts {names}: {states}, expected {expectation}")
    if not faults:
        active = {name: entry["state"] for name, entry in alerts.items() if _state_rank(entry["state"]) >= 1}
        checks.append({"status": "any", "alerts": sorted(alerts), "active": active, "ok": not active})
        if active:
            failures.append(f"alerts active in a run without faults: {active}")
    return checks
