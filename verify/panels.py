"""Dashboard panels as Grafana lays them out, and the queries each one sends.

A row with ``repeat: model`` is drawn once per model by Grafana, its panels' ``$model`` set to
that model; ``evaluations()`` gives the base query of every target (every variable "All", the
same as ``dashboards.queries.evaluable_queries()``) plus one query per repeated value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from dashboards.queries import substitute

__all__ = [
    "Box",
    "Evaluation",
    "PlacedPanel",
    "evaluations",
    "layout",
    "legend",
    "regex_value",
    "selectors",
    "title_for",
]

#: Characters Grafana escapes in a multi-value variable substituted into a `=~` matcher.
_REGEX_SPECIAL: Final = re.compile(r"([\\.^$*+?()\[\]{}|])")
_SELECTOR: Final = re.compile(r"\b(axio_anthropic_[a-z_]+)(\{[^}]*\})?")
_MATCHER: Final = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_LEGEND: Final = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_TITLE_VARIABLE: Final = re.compile(r"\$\{?(\w+)\}?")


def regex_value(value: str) -> str:
    """``value`` as Grafana puts a selected variable value into a regex matcher's string literal."""
    # The regex escape, then PromQL's string escape of the backslash itself.
    return _REGEX_SPECIAL.sub(r"\\\\\1", value)


@dataclass(frozen=True, slots=True)
class PlacedPanel:
    """A panel (never a row) and the row it sits under."""

    dashboard: str
    panel: Mapping[str, Any]
    row_title: str | None
    row_repeat: str | None
    row_y: int | None

    @property
    def id(self) -> int:
        return int(self.panel.get("id", 0))

    @property
    def title(self) -> str:
        return str(self.panel.get("title", ""))

    @property
    def kind(self) -> str:
        return str(self.panel.get("type", ""))

    @property
    def unit(self) -> str:
        return str(((self.panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit") or "short")

    @property
    def targets(self) -> list[dict[str, Any]]:
        return [
            target
            for target in self.panel.get("targets") or []
            if isinstance(target.get("expr"), str) and target["expr"].strip()
        ]


@dataclass(frozen=True, slots=True)
class Box:
    """A panel or row header in grid units (24 columns), after repeated rows are expanded."""

    x: int
    y: int
    w: int
    h: int
    title: str
    placed: PlacedPanel | None
    variables: Mapping[str, str]


def layout(dashboard: Mapping[str, Any]) -> list[PlacedPanel]:
    """Every panel with its row: rows scope the panels below them, or hold them when collapsed."""
    uid = str(dashboard.get("uid") or dashboard.get("title") or "")
    placed: list[PlacedPanel] = []
    row: Mapping[str, Any] | None = None
    for panel in dashboard.get("panels") or []:
        if panel.get("type") == "row":
            row = panel
            for nested in panel.get("panels") or []:
                placed.append(_place(uid, nested, row))
        else:
            placed.append(_place(uid, panel, row))
    return placed


def _place(uid: str, panel: Mapping[str, Any], row: Mapping[str, Any] | None) -> PlacedPanel:
    if row is None:
        return PlacedPanel(uid, panel, None, None, None)
    repeat = row.get("repeat") or None
    return PlacedPanel(uid, panel, str(row.get("title", "")), repeat, int((row.get("gridPos") or {}).get("y", 0)))


def title_for(title: str, variables: Mapping[str, str]) -> str:
    """A title with the repeated variables filled in, and "All" for the others, as Grafana shows it."""
    return _TITLE_VARIABLE.sub(lambda match: variables.get(match.group(1), "All"), title)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One query Grafana sends for one target of one panel (copy)."""

    dashboard: str
    panel_id: int
    panel_title: str
    ref_id: str
    legend_format: str
    expr: str
    variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def base(self) -> bool:
        """True for the query with every variable "All": the one ``evaluable_queries()`` lists."""
        return not self.variables

    def key(self) -> str:
        chosen = ",".join(f"{name}={value}" for name, value in sorted(self.variables.items()))
        return f"{self.dashboard}/{self.panel_id}/{self.ref_id}/{chosen}"


def evaluations(
    dashboards: Sequence[Mapping[str, Any]], values: Mapping[str, Sequence[str]] | None = None
) -> Iterator[Evaluation]:
    """The base query of every target, then one per value of a repeating row's variable.

    ``values``: the values of each template variable (as its ``label_values()`` query finds them);
    without them only the base queries are made.
    """
    for dashboard in dashboards:
        for placed in layout(dashboard):
            copies: list[dict[str, str]] = [{}]
            if placed.row_repeat and values is not None:
                copies += [{placed.row_repeat: value} for value in values.get(placed.row_repeat, ())]
            for chosen in copies:
                escaped = {name: regex_value(value) for name, value in chosen.items()}
                for target in placed.targets:
                    yield Evaluation(
                        dashboard=placed.dashboard,
                        panel_id=placed.id,
                        panel_title=title_for(placed.title, chosen) if chosen else placed.title,
                        ref_id=str(target.get("refId", "")),
                        legend_format=str(target.get("legendFormat") or ""),
                        expr=substitute(str(target["expr"]), escaped),
                        variables=chosen,
                    )


@dataclass(frozen=True, slots=True)
class Selector:
    metric: str
    text: str
    matchers: tuple[tuple[str, str, str], ...]


def selectors(expr: str) -> list[Selector]:
    """The ``axio_anthropic_*`` vector selectors in ``expr``, with their label matchers."""
    found: list[Selector] = []
    for match in _SELECTOR.finditer(expr):
        body = match.group(2) or ""
        matchers = tuple((name, op, value) for name, op, value in _MATCHER.findall(body))
        found.append(Selector(match.group(1), match.group(0), matchers))
    return found


def legend(legend_format: str, labels: Mapping[str, str]) -> str:
    """The series name Grafana shows: ``legendFormat`` filled from the labels, else the label set."""
    if legend_format and legend_format != "__auto":
        return _LEGEND.sub(lambda match: labels.get(match.group(1), ""), legend_format).strip()
    shown = {name: value for name, value in labels.items() if name != "__name__"}
    name = labels.get("__name__", "")
    inner = ", ".join(f'{key}="{value}"' for key, value in sorted(shown.items()))
    return f"{name}{{{inner}}}" if inner or not name else name
