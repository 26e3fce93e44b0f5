"""Shared pieces of the axio-anthropic dashboards: units, variables, panel factories, rendering."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import gauge, prometheus, stat, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.links import PanelLinks, alert_annotations, panel_links, series_links, trace_variables
from dashboards.promql import PREFIX, QUANTILES, quantile

TAG = "axio-anthropic"
#: Every panel and target queries the datasource the `datasource` variable selects.
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")

#: Grafana unit ids. `count:<unit>` is Grafana's custom count unit: the number scaled with K, M, B
#: (as `short` does), then the unit.
REQUESTS_PER_S = "reqps"
RETRIES_PER_S = "count:retries/s"
TOKENS_PER_S = "count:tokens/s"
#: Seconds spent in backoff per second of wall time: how many calls wait at any moment.
BACKOFF_PER_S = "count:s/s"
#: Retries and failed calls on one graph.
EVENTS_PER_S = "count:events/s"
TOKENS = "count:tokens"
REQUESTS = "count:requests"
SECONDS = "s"
RATIO = "percentunit"
USD = "currencyUSD"
NUMBER = "short"

#: (value the colour starts at, colour); the first step's value is None (from -inf).
Thresholds = Sequence[tuple[float | None, str]]
NEUTRAL: Thresholds = ((None, "green"),)
NO_LINKS = PanelLinks()
_BY_MODEL = re.compile(r"\bby \([^)]*\bmodel\b")
#: An outermost aggregation without `by`: one series, whatever is grouped inside it.
_UNGROUPED = re.compile(r"\s*(sum|min|max|avg|count)\s*\(")


def target(expr: str, legend: str, ref_id: str = "A", *, exemplar: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).datasource(DATASOURCE).range()
    # Exemplars are opt-in per target; only histogram buckets carry them (trace_id → Jaeger).
    return query.exemplar(exemplar)


def quantile_targets(
    histogram: str, by: str = "", quantiles: Sequence[float] = QUANTILES
) -> list[prometheus.Dataquery]:
    """One target per quantile. Exemplars go on the first only: each target would fetch the same ones."""
    suffix = " {{" + by + "}}" if by else ""
    return [
        target(quantile(q, histogram, by), f"p{round(q * 100)}{suffix}", chr(ord("A") + i), exemplar=i == 0)
        for i, q in enumerate(quantiles)
    ]


def _thresholds(steps: Thresholds) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def _by_model(targets: Sequence[prometheus.Dataquery]) -> bool:
    """True when a query gives a series per model (each carries the `model` label)."""
    exprs = [target.build().expr or "" for target in targets]
    return any(_BY_MODEL.search(expr) and not _UNGROUPED.match(expr) for expr in exprs)


def _linked[P: (timeseries.Panel, stat.Panel, gauge.Panel)](
    panel: P, targets: Sequence[prometheus.Dataquery], links: PanelLinks
) -> P:
    """The panel's links, and a trace link on each series when it has a series per model."""
    panel = panel.links(list(panel_links(links)))
    return panel.data_links(list(series_links(links))) if _by_model(targets) else panel


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    width: int = 12,
    height: int = 8,
    min_value: float | None = 0,
    max_value: float | None = None,
    stacked: bool = False,
    links: PanelLinks = NO_LINKS,
    threshold_line: Thresholds | None = None,
) -> timeseries.Panel:
    """A graph; `threshold_line` draws an alert's threshold dashed across it."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .span(width)
        .height(height)
        .line_width(1)
        .fill_opacity(10)
        .show_points(cm.VisibilityMode.NEVER)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
    )
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    if stacked:
        panel = panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    if threshold_line is not None:
        style = cb.GraphThresholdsStyleConfig().mode(cm.GraphTresholdsStyleMode.DASHED)
        panel = panel.thresholds(_thresholds(threshold_line)).thresholds_style(style)
    return _linked(panel, targets, links)


def stat_panel(
    title: str,
    description: str,
    unit: str,
    expr: str,
    legend: str,
    thresholds: Thresholds = NEUTRAL,
    *,
    width: int = 4,
    height: int = 4,
    decimals: int | None = None,
    links: PanelLinks = NO_LINKS,
) -> stat.Panel:
    query = target(expr, legend)
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .with_target(query)
        .span(width)
        .height(height)
        .graph_mode(cm.BigValueGraphMode.AREA)
        .color_mode(cm.BigValueColorMode.VALUE)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_thresholds(thresholds))
    )
    panel = panel.decimals(decimals) if decimals is not None else panel
    return _linked(panel, [query], links)


def gauge_panel(
    title: str,
    description: str,
    unit: str,
    expr: str,
    legend: str,
    thresholds: Thresholds,
    *,
    width: int = 6,
    height: int = 4,
    max_value: float = 1,
    links: PanelLinks = NO_LINKS,
) -> gauge.Panel:
    query = target(expr, legend)
    panel = (
        gauge.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .with_target(query)
        .span(width)
        .height(height)
        .min(0)
        .max(max_value)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_thresholds(thresholds))
        .show_threshold_markers(True)
    )
    return _linked(panel, [query], links)


def dashed(panel: timeseries.Panel, ref_id: str) -> timeseries.Panel:
    """Draw one query's series dashed (limits next to what remains of them)."""
    style = dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]})
    return panel.override_by_query(ref_id, [style])


def _label_values(label: str, matchers: str) -> str:
    series = f"{PREFIX}requests_total{{{matchers}}}" if matchers else f"{PREFIX}requests_total"
    return f"label_values({series}, {label})"


def variables() -> list[db.DatasourceVariable | db.QueryVariable | db.TextBoxVariable]:
    """`datasource`, then `job` → `instance` → `provider` → `model`, each narrowing the next (All
    matches every value); then where trace links search."""
    found: list[db.DatasourceVariable | db.QueryVariable | db.TextBoxVariable] = [
        db.DatasourceVariable("datasource").id("datasource").label("Data source").type("prometheus")
    ]
    chain = (
        ("job", ""),
        ("instance", 'job=~"$job"'),
        ("provider", 'job=~"$job", instance=~"$instance"'),
        ("model", 'job=~"$job", instance=~"$instance", provider=~"$provider"'),
    )
    for name, matchers in chain:
        found.append(
            db.QueryVariable(name)
            .id(name)
            .label(name.capitalize())
            .datasource(DATASOURCE)
            .query(_label_values(name, matchers))
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            # `.*` rather than the listed values: a series appearing after the variable loaded still shows.
            .all_value(".*")
            .current(dm.VariableOption(selected=True, text="All", value="$__all"))
        )
    return [*found, *trace_variables()]


def new_dashboard(uid: str, title: str, description: str) -> db.Dashboard:
    dashboard = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .link(
            db.DashboardLink("Axio Anthropic")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for variable in variables():
        dashboard = dashboard.with_variable(variable)
    for annotation in alert_annotations(DATASOURCE):
        dashboard = dashboard.annotation(annotation)
    return dashboard


def add_panels(dashboard: db.Dashboard, panels: Iterable[cogbuilder.Builder[dm.Panel]]) -> db.Dashboard:
    for panel in panels:
        dashboard = dashboard.with_panel(panel)
    return dashboard


def add_row(dashboard: db.Dashboard, row: db.Row, panels: Iterable[cogbuilder.Builder[dm.Panel]]) -> db.Dashboard:
    """An expanded row with `panels` after it at the top level: Grafana drops panels nested in an
    expanded row, and a repeated row repeats every panel up to the next row."""
    return add_panels(dashboard.with_row(row), panels)


def render(dashboard: db.Dashboard) -> str:
    """The dashboard's JSON text: panel ids numbered in order, sorted keys, so output is deterministic."""
    model = dashboard.build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
