"""What one scenario's run produced, before any check: Prometheus' answers and the load summaries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from verify.panels import Evaluation
from verify.processes import Proc
from verify.promapi import QueryResult
from verify.scenarios import LoadSpec

__all__ = ["RANGE_STEP", "AlertTimeline", "RawRun", "RunningLoad", "rule_key", "rules_of"]

#: Seconds between the points of each panel query's range answer.
RANGE_STEP: Final = 1.0


@dataclass(slots=True)
class RunningLoad:
    spec: LoadSpec
    proc: Proc
    json_path: Path
    instance: str = ""
    exit_code: int | None = None
    summary: dict[str, Any] | None = None


def rules_of(groups: Iterable[Mapping[str, Any]]) -> Iterable[dict[str, Any]]:
    for group in groups:
        for rule in group.get("rules") or []:
            yield {**rule, "group": group.get("name")}


def rule_key(rule: Mapping[str, Any]) -> str:
    return f"{rule.get('group')}/{rule.get('name')}"


@dataclass(slots=True)
class AlertTimeline:
    """The first time (seconds after the load started) each alert was seen in each state."""

    started: float
    first: dict[str, dict[str, float]] = field(default_factory=dict)

    def observe(self, groups: Iterable[Mapping[str, Any]], now: float) -> None:
        for rule in rules_of(groups):
            if rule.get("type") != "alerting":
                continue
            seen = self.first.setdefault(str(rule["name"]), {})
            for alert in rule.get("alerts") or []:
                seen.setdefault(str(alert.get("state")), round(now - self.started, 1))


@dataclass(slots=True)
class RawRun:
    """What the run produced, before any check: Prometheus' answers and the load summaries."""

    window: dict[str, float]
    buildinfo: dict[str, Any]
    targets: list[dict[str, Any]]
    variables: dict[str, list[str]]
    instant: list[tuple[Evaluation, QueryResult]]
    absent: dict[str, bool]
    rules: list[dict[str, Any]]
    rule_queries: dict[str, QueryResult]
    timeline: AlertTimeline
    ranges: list[tuple[Evaluation, QueryResult]]
    exemplars: int
    loads: list[RunningLoad]
    simulators: list[dict[str, Any]]
