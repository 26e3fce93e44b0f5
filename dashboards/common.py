"""Shared pieces of the axio-anthropic dashboards: variables, PromQL helpers and panel factories."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import gauge, prometheus, stat, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

TAG = "axio-anthropic"
PREFIX = "axio_anthropic_"
#: Every panel and target queries the datasource the `datasource` variable selects.
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
#: The filter every series selector carries, so the three variables narrow every panel.
FILTER = 'job=~"$job", instance=~"$instance", model=~"$model"'
RATE_WINDOW = "$__rate_interval"
QUANTILES = (0.5, 0.95, 0.99)

#: (value the colour starts at, colour); the first step's value is None (from -inf).
Thresholds = Sequence[tuple[float | None, str]]
NEUTRAL: Thresholds = ((None, "green"),)


def sel(metric: str, extra: str = "") -> str:
    """A selector of `axio_anthropic_<metric>` filtered by the dashboard variables."""
    matchers = f"{FILTER}, {extra}" if extra else FILTER
    return f"{PREFIX}{metric}{{{matchers}}}"


def rate(metric: str, extra: str = "") -> str:
    return f"rate({sel(metric, extra)}[{RATE_WINDOW}])"


def sum_rate(metric: str, by: str = "", extra: str = "") -> str:
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}({rate(metric, extra)})"


def quantile(q: float, histogram: str, by: str = "") -> str:
    """`histogram_quantile` over the per-second bucket rates, grouped by `le` and `by`."""
    grouping = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, {sum_rate(histogram + '_bucket', grouping)})"


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
) -> timeseries.Panel:
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
    return panel


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
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .with_target(target(expr, legend))
        .span(width)
        .height(height)
        .graph_mode(cm.BigValueGraphMode.AREA)
        .color_mode(cm.BigValueColorMode.VALUE)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_thresholds(thresholds))
    )
    return panel.decimals(decimals) if decimals is not None else panel


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
) -> gauge.Panel:
    return (
        gauge.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .with_target(target(expr, legend))
        .span(width)
        .height(height)
        .min(0)
        .max(max_value)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_thresholds(thresholds))
        .show_threshold_markers(True)
    )


def dashed(panel: timeseries.Panel, ref_id: str) -> timeseries.Panel:
    """Draw one query's series dashed (limits next to what remains of them)."""
    style = dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]})
    return panel.override_by_query(ref_id, [style])


def _label_values(label: str, matchers: str) -> str:
    series = f"{PREFIX}requests_total{{{matchers}}}" if matchers else f"{PREFIX}requests_total"
    return f"label_values({series}, {label})"


def variables() -> list[db.DatasourceVariable | db.QueryVariable]:
    """`datasource`, then `job` → `instance` → `model`, each narrowing the next; All matches every value."""
    found: list[db.DatasourceVariable | db.QueryVariable] = [
        db.DatasourceVariable("datasource").id("datasource").label("Data source").type("prometheus")
    ]
    chain = (("job", ""), ("instance", 'job=~"$job"'), ("model", 'job=~"$job", instance=~"$instance"'))
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
    return found


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
