"""The alert rules as the dashboards show them, read from deploy/prometheus/rules/axio-anthropic.rules.yml.

The rules file is the one source of truth: a panel that shows an alert's condition takes the
alert's expression from it (``alert_operand()``), scoped to the dashboard's variables
(``scoped()``), and links to the runbook the alert names. Change a rule and
`dashboards/build.py --check` reports the dashboards stale.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, NamedTuple

import yaml  # type: ignore[import-untyped,unused-ignore]

from dashboards.promql import FILTER

RULES_FILE = Path(__file__).resolve().parent.parent / "deploy" / "prometheus" / "rules" / "axio-anthropic.rules.yml"

_CONDITION = re.compile(r"\s*(?P<operand>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?P<op>[<>]=?)\s*(?P<threshold>[0-9.]+)\s*")
_SELECTOR = re.compile(r"\b(axio_anthropic_[a-z_]+)(?:\{([^}]*)\})?")


class Condition(NamedTuple):
    """``<expression> <op> <threshold>``: what an alert compares, and with what."""

    expression: str
    op: str
    threshold: float


@functools.cache
def rules(path: Path = RULES_FILE) -> dict[str, dict[str, Any]]:
    """Every rule of the file by its alert or record name."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(rule.get("alert") or rule.get("record")): rule for group in data["groups"] for rule in group["rules"]}


def normalise(expr: str) -> str:
    return " ".join(expr.split())


def alert_condition(alert: str) -> Condition:
    """The alert's condition, its recorded operand replaced by the recording rule's expression.

    Only for alerts of the form ``<recorded series> <op> <number>``; others raise ValueError.
    """
    expr = str(rules()[alert]["expr"])
    found = _CONDITION.fullmatch(expr)
    if found is None:
        raise ValueError(f"{alert}: {expr!r} is not '<recorded series> <op> <number>'")
    recorded = rules()[found["operand"]]
    return Condition(normalise(str(recorded["expr"])), found["op"], float(found["threshold"]))


def runbook(alert: str) -> str:
    """The alert's own ``runbook_url``."""
    return str(rules()[alert]["annotations"]["runbook_url"])


def scoped(expr: str) -> str:
    """``expr`` with the dashboard's `job`, `instance` and `model` matchers on every selector."""

    def scope(match: re.Match[str]) -> str:
        own = (match.group(2) or "").strip()
        return f"{match.group(1)}{{{FILTER}, {own}}}" if own else f"{match.group(1)}{{{FILTER}}}"

    return _SELECTOR.sub(scope, expr)
