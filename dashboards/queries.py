"""Every panel's PromQL from the committed dashboard JSON, and the same made evaluable by Prometheus.

Standard library only, so a verification job can use it without the Grafana SDK:

    for query in committed_queries():
        prometheus.query(substitute(query.expr))
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

DIRECTORY = Path(__file__).resolve().parent

#: What Grafana would put in place of each variable when every value is selected, and a fixed
#: interval for the built-ins (Grafana derives them from the scrape interval and the time range).
DEFAULTS: Mapping[str, str] = {
    "job": ".*",
    "instance": ".*",
    "provider": ".*",
    "model": ".*",
    "__rate_interval": "1m",
    "__interval": "30s",
    "__range": "1h",
}

# `${name}`, `${name:format}`, `[[name]]` and `$name`; a longest `\w+` so `$__rate_interval` is one name.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


class PanelQuery(NamedTuple):
    dashboard: str
    panel_title: str
    ref_id: str
    expr: str


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Panels in order, including those nested in collapsed rows; rows themselves are skipped."""
    for panel in panels:
        if panel.get("type") == "row":
            yield from _panels(panel.get("panels") or [])
        else:
            yield panel


def iter_panels(dashboard_json: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    return _panels(list(dashboard_json.get("panels") or []))


def panel_queries(dashboard_json: Mapping[str, Any]) -> list[PanelQuery]:
    """One entry per target with an expression; hidden targets are included (they still must work)."""
    name = str(dashboard_json.get("uid") or dashboard_json.get("title") or "")
    found: list[PanelQuery] = []
    for panel in iter_panels(dashboard_json):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if isinstance(expr, str) and expr.strip():
                found.append(PanelQuery(name, str(panel.get("title", "")), str(target.get("refId", "")), expr))
    return found


def variables_in(expr: str) -> set[str]:
    return {next(group for group in match.groups() if group) for match in _VARIABLE.finditer(expr)}


def substitute(expr: str, values: Mapping[str, str] | None = None) -> str:
    """`expr` with every template variable replaced; an unknown variable raises KeyError."""
    chosen = {**DEFAULTS, **(values or {})}

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in chosen:
            raise KeyError(f"no value for template variable ${name} in {expr!r}")
        return chosen[name]

    return _VARIABLE.sub(replace, expr)


def committed_dashboards(directory: Path = DIRECTORY) -> list[dict[str, Any]]:
    """The dashboard JSON files next to this module, by file name."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))]


def committed_queries(directory: Path = DIRECTORY) -> list[PanelQuery]:
    return [query for dashboard in committed_dashboards(directory) for query in panel_queries(dashboard)]


def evaluable_queries(directory: Path = DIRECTORY, values: Mapping[str, str] | None = None) -> list[PanelQuery]:
    """`committed_queries()` with the variables substituted, ready for Prometheus' query API."""
    return [query._replace(expr=substitute(query.expr, values)) for query in committed_queries(directory)]
