"""Draw each Grafana dashboard from the Prometheus data of a verification run.

    python verify/render.py [--series verify/series.json] [--scenario faults] [--out-dir docs/img]

One PNG per dashboard, ``<out-dir>/<dashboard uid>.png``: the panels where the dashboard's
gridPos puts them (repeated rows once per value, as Grafana repeats them), titled as in
Grafana, each drawn from the range query verify/run.py sent for it: the panel's own PromQL,
units on the axes, legends from its legendFormat with the mean/max/last table Grafana shows,
stacking, min/max and thresholds from its fieldConfig. These are matplotlib renderings of the
same queries, not Grafana screenshots.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboards.queries import committed_dashboards  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle, Wedge  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402
from PIL import Image  # noqa: E402

from verify.panels import PlacedPanel, layout, legend, title_for  # noqa: E402

__all__ = ["DEFAULT_OUT_DIR", "format_value", "main", "render_all", "render_dashboard"]

DEFAULT_SERIES: Final = ROOT / "verify" / "series.json"
DEFAULT_OUT_DIR: Final = ROOT / "docs" / "img"
DPI: Final = 80

WIDTH_IN: Final = 16.0
UNIT_W: Final = WIDTH_IN / 24
UNIT_H: Final = 0.34
HEADER_IN: Final = 1.25
GAP: Final = 0.04
LEGEND_ROW: Final = 0.125

BACKGROUND: Final = "#111217"
PANEL: Final = "#181b1f"
BORDER: Final = "#2c3235"
TEXT: Final = "#ccccdc"
DIM: Final = "#8e8e9e"
GRID: Final = "#2a2d33"
#: Grafana's classic palette, in the order it hands colors to series.
PALETTE: Final = (
    "#7EB26D",
    "#EAB839",
    "#6ED0E0",
    "#EF843C",
    "#E24D42",
    "#1F78C1",
    "#BA43A9",
    "#705DA0",
    "#508642",
    "#CCA300",
    "#447EBC",
    "#C15C17",
)
NAMED_COLORS: Final = {
    "green": "#73BF69",
    "orange": "#FF9830",
    "red": "#F2495C",
    "yellow": "#FADE2A",
    "blue": "#5794F2",
    "purple": "#B877D9",
    "dark-red": "#C4162A",
    "text": TEXT,
}


# --------------------------------------------------------------------------------------------
# Values and units


def _si(value: float) -> str:
    magnitude = abs(value)
    for factor, suffix in ((1e9, " B"), (1e6, " M"), (1e3, " k")):
        if magnitude >= factor:
            return f"{value / factor:.3g}{suffix}"
    if magnitude == 0 or magnitude >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2g}"


def format_value(unit: str, value: float | None, decimals: int | None = None) -> str:
    """A value as Grafana's unit formats show it: ``12.5 req/s``, ``340 ms``, ``4.2%``, ``$1.20``."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if unit == "percentunit":
        percent = value * 100
        digits = decimals if decimals is not None else (0 if abs(percent) >= 10 or percent == 0 else 1)
        return f"{percent:.{digits}f}%"
    if unit == "s":
        magnitude = abs(value)
        if magnitude == 0:
            return "0 s"
        if magnitude < 1e-3:
            return f"{value * 1e6:.3g} µs"
        if magnitude < 1:
            return f"{value * 1e3:.3g} ms"
        if magnitude < 120:
            return f"{value:.3g} s"
        return f"{value / 60:.3g} min"
    if unit == "reqps":
        return f"{_si(value)} req/s"
    if unit == "currencyUSD":
        return f"${value:,.{decimals if decimals is not None else 2}f}"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return _si(value)


def _unit_label(unit: str) -> str:
    return {"reqps": "req/s", "s": "time", "percentunit": "percent", "currencyUSD": "USD"}.get(unit, "")


def _threshold_color(panel: Mapping[str, Any], value: float | None) -> str:
    steps = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("thresholds", {}).get("steps") or []
    color = NAMED_COLORS["green"]
    for step in steps:
        bound = step.get("value")
        if bound is None or (value is not None and not math.isnan(value) and value >= float(bound)):
            name = str(step.get("color", "green"))
            color = NAMED_COLORS.get(name, name)
    return color


# --------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    times: list[float]
    values: list[float]

    def last(self) -> float | None:
        for value in reversed(self.values):
            if not math.isnan(value):
                return value
        return None

    def finite(self) -> list[float]:
        return [value for value in self.values if math.isfinite(value)]


class Data:
    """The range queries of one scenario of ``series.json``, by panel copy and target."""

    def __init__(self, scenario: Mapping[str, Any]) -> None:
        self.scenario = scenario
        self.start = float(scenario["start"])
        self.end = float(scenario["evaluated_at"])
        self.origin = float(scenario["load_started"])
        self.step = float(scenario.get("step", 1.0))
        self.variables: Mapping[str, Sequence[str]] = scenario.get("variables") or {}
        self._queries: dict[tuple[str, int, str, tuple[tuple[str, str], ...]], Mapping[str, Any]] = {}
        for query in scenario.get("queries") or []:
            chosen = tuple(sorted((query.get("variables") or {}).items()))
            self._queries[(query["dashboard"], int(query["panel_id"]), query["ref_id"], chosen)] = query

    def lines(self, placed: PlacedPanel, chosen: Mapping[str, str]) -> list[Line]:
        found: list[Line] = []
        for target in placed.targets:
            key = (placed.dashboard, placed.id, str(target.get("refId", "")), tuple(sorted(chosen.items())))
            query = self._queries.get(key)
            if query is None:
                continue
            for series in query.get("series") or []:
                times = [float(point[0]) - self.origin for point in series["values"]]
                values = [math.nan if point[1] is None else float(point[1]) for point in series["values"]]
                found.append(Line(legend(str(target.get("legendFormat") or ""), series["labels"]), times, values))
        return found


# --------------------------------------------------------------------------------------------
# Layout: rows, repeats, panel boxes


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


def _grid(item: Mapping[str, Any]) -> tuple[int, int, int, int]:
    pos = item.get("gridPos") or {}
    return int(pos.get("x", 0)), int(pos.get("y", 0)), int(pos.get("w", 24)), int(pos.get("h", 8))


def boxes(dashboard: Mapping[str, Any], values: Mapping[str, Sequence[str]]) -> list[Box]:
    """Grafana's layout: each repeated row (and its panels) once per value, later rows pushed down."""
    placed = {id(item.panel): item for item in layout(dashboard)}
    blocks: list[tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]] = [(None, [])]
    for item in dashboard.get("panels") or []:
        if item.get("type") == "row":
            blocks.append((item, list(item.get("panels") or [])))
        else:
            blocks[-1][1].append(item)
    found: list[Box] = []
    shift = 0
    for row, panels in blocks:
        repeat = row.get("repeat") if row is not None else None
        copies: Sequence[Mapping[str, str]] = [{}]
        if repeat:
            copies = [{str(repeat): value} for value in values.get(str(repeat), ())] or [{}]
        top = _grid(row)[1] if row is not None else min((_grid(panel)[1] for panel in panels), default=0)
        bottom = max([_grid(panel)[1] + _grid(panel)[3] for panel in panels] + [top + 1])
        height = bottom - top
        for index, chosen in enumerate(copies):
            offset = shift + index * height
            if row is not None:
                x, y, w, _ = _grid(row)
                found.append(Box(x, y + offset, w, 1, title_for(str(row.get("title", "")), chosen), None, chosen))
            for panel in panels:
                x, y, w, h = _grid(panel)
                title = title_for(str(panel.get("title", "")), chosen)
                found.append(Box(x, y + offset, w, h, title, placed.get(id(panel)), chosen))
        shift += (len(copies) - 1) * height
    return found


# --------------------------------------------------------------------------------------------
# Drawing


class Canvas:
    """A figure addressed in inches from the top-left corner, like a dashboard."""

    def __init__(self, height_units: int) -> None:
        self.height = HEADER_IN + height_units * UNIT_H + 0.15
        self.figure = Figure(figsize=(WIDTH_IN, self.height), facecolor=BACKGROUND)

    def rect(self, left: float, top: float, width: float, height: float) -> tuple[float, float, float, float]:
        """Figure fractions of a box given in inches from the top-left."""
        return (left / WIDTH_IN, 1 - (top + height) / self.height, width / WIDTH_IN, height / self.height)

    def point(self, left: float, top: float) -> tuple[float, float]:
        return left / WIDTH_IN, 1 - top / self.height

    def text(self, left: float, top: float, text: str, **style: Any) -> None:
        x, y = self.point(left, top)
        self.figure.text(x, y, text, **{"color": TEXT, "va": "top", "ha": "left", **style})

    def axes(self, left: float, top: float, width: float, height: float) -> Axes:
        return self.figure.add_axes(self.rect(left, top, max(width, 0.01), max(height, 0.01)))


def _clip(text: str, width_in: float, font: float) -> str:
    fits = max(4, int(width_in * 120 / font))
    return text if len(text) <= fits else text[: fits - 1] + "…"


def _panel_frame(canvas: Canvas, box: Box) -> tuple[float, float, float, float]:
    left, top = box.x * UNIT_W + GAP, HEADER_IN + box.y * UNIT_H + GAP
    width, height = box.w * UNIT_W - 2 * GAP, box.h * UNIT_H - 2 * GAP
    frame = canvas.axes(left, top, width, height)
    frame.set_xticks([])
    frame.set_yticks([])
    frame.set_facecolor(PANEL)
    for spine in frame.spines.values():
        spine.set_color(BORDER)
    canvas.text(left + 0.08, top + 0.06, _clip(box.title, width - 0.2, 8.5), fontsize=8.5, fontweight="bold")
    return left, top, width, height


def _no_data(canvas: Canvas, left: float, top: float, width: float, height: float) -> None:
    canvas.text(left + width / 2, top + height / 2, "No data", fontsize=10, color=DIM, ha="center", va="center")


def _framed(canvas: Canvas, box: Box, lines: Sequence[Line]) -> tuple[float, float, float, float, list[Line]] | None:
    """The panel's frame (left, top, width, height) and its lines with data; ``None`` once it has
    drawn "No data" because none has any."""
    left, top, width, height = _panel_frame(canvas, box)
    shown = [line for line in lines if line.finite()]
    if not shown:
        _no_data(canvas, left, top, width, height)
        return None
    return left, top, width, height, shown


def _style_axes(ax: Axes) -> None:
    ax.set_facecolor(PANEL)
    for side, spine in ax.spines.items():
        spine.set_visible(side in ("bottom", "left"))
        spine.set_color(BORDER)
    ax.tick_params(colors=DIM, labelsize=6.5, length=2, pad=1.5)
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _elapsed(seconds: float, _: Any = None) -> str:
    sign = "-" if seconds < 0 else ""
    whole = round(abs(seconds))
    return f"{sign}{whole // 60}:{whole % 60:02d}"


def _aligned(lines: Sequence[Line]) -> tuple[list[float], list[list[float]]]:
    """Every line on one time grid (the union of their timestamps); gaps are NaN."""
    grid = sorted({t for line in lines for t in line.times})
    where = {t: index for index, t in enumerate(grid)}
    rows: list[list[float]] = []
    for line in lines:
        row = [math.nan] * len(grid)
        for t, value in zip(line.times, line.values, strict=True):
            row[where[t]] = value
        rows.append(row)
    return grid, rows


def _draw_timeseries(canvas: Canvas, box: Box, lines: Sequence[Line], data: Data) -> None:
    assert box.placed is not None
    panel = box.placed.panel
    unit = box.placed.unit
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    custom = defaults.get("custom") or {}
    framed = _framed(canvas, box, lines)
    if framed is None:
        return
    left, top, width, height, shown = framed
    # The legend: a table (name, mean, max, last) under the plot, at most ~40 % of the panel.
    rows = min(len(shown), max(1, int(height * 0.42 / LEGEND_ROW) - 1))
    legend_h = (rows + 1) * LEGEND_ROW + 0.04
    plot_left, plot_top = left + 0.68, top + 0.3
    plot_w, plot_h = width - 0.68 - 0.14, height - 0.3 - 0.2 - legend_h
    ax = canvas.axes(plot_left, plot_top, plot_w, plot_h)
    _style_axes(ax)
    grid, series = _aligned(shown)
    stacked = (custom.get("stacking") or {}).get("mode") == "normal"
    fill = float(custom.get("fillOpacity", 10)) / 100
    base = [0.0] * len(grid)
    for index, row in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        if stacked:
            upper = [b + (0.0 if math.isnan(v) else v) for b, v in zip(base, row, strict=True)]
            upper = [u if not math.isnan(v) else math.nan for u, v in zip(upper, row, strict=True)]
            lower = base
        else:
            upper, lower = row, [0.0] * len(grid)
        ax.plot(grid, upper, color=color, linewidth=float(custom.get("lineWidth", 1)) + 0.2)
        ax.fill_between(grid, lower, upper, color=color, alpha=max(fill, 0.12), linewidth=0)
        if stacked:
            base = [b + (0.0 if math.isnan(v) else v) for b, v in zip(base, row, strict=True)]
    low = defaults.get("min")
    high = defaults.get("max")
    top_value = max((max(line.finite()) for line in shown), default=0.0)
    if stacked:
        top_value = max((value for value in base if math.isfinite(value)), default=top_value)
    if low is not None:
        ax.set_ylim(bottom=float(low))
    if high is not None and top_value <= float(high):
        ax.set_ylim(top=float(high))
    elif top_value <= 0:
        ax.set_ylim(top=1.0)
    ax.set_xlim(data.start - data.origin, data.end - data.origin)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=max(3, int(plot_w * 1.6)), steps=[1, 2, 3, 5, 6, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(_elapsed))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=max(2, int(plot_h * 2.2))))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: format_value(unit, value)))
    if label := _unit_label(unit):
        ax.set_ylabel(label, fontsize=6, color=DIM, labelpad=1)
    _legend_table(canvas, shown, rows, unit, left, top + height - legend_h, width)


def _legend_table(
    canvas: Canvas, lines: Sequence[Line], rows: int, unit: str, left: float, top: float, width: float
) -> None:
    columns = (("Mean", width - 1.25), ("Max", width - 0.7), ("Last", width - 0.15))
    for name, right in columns:
        canvas.text(left + right, top, name, fontsize=6, color=DIM, ha="right")
    # Too many series for the space: the largest (by last value) are listed, the rest counted.
    ranked = sorted(range(len(lines)), key=lambda index: -(lines[index].last() or 0.0))
    keep = set(ranked[:rows])
    if len(lines) > rows:
        canvas.text(left + 0.1, top, f"{len(lines) - rows} more series not listed", fontsize=6, color=DIM)
    row = 1
    for index, line in enumerate(lines):
        if index not in keep:
            continue
        y = top + row * LEGEND_ROW
        finite = line.finite()
        canvas.text(left + 0.1, y - 0.01, "■", fontsize=6.5, color=PALETTE[index % len(PALETTE)])
        canvas.text(left + 0.24, y, _clip(line.name, width - 1.75, 6.5), fontsize=6.5)
        numbers = (sum(finite) / len(finite), max(finite), line.last()) if finite else (None, None, None)
        for (_, right), value in zip(columns, numbers, strict=True):
            canvas.text(left + right, y, format_value(unit, value), fontsize=6.5, ha="right")
        row += 1


def _decimals(panel: Mapping[str, Any]) -> int | None:
    value = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("decimals")
    return int(value) if value is not None else None


def _draw_stat(canvas: Canvas, box: Box, lines: Sequence[Line], data: Data) -> None:
    assert box.placed is not None
    panel, unit = box.placed.panel, box.placed.unit
    framed = _framed(canvas, box, lines)
    if framed is None:
        return
    left, top, width, height, shown = framed
    cell = width / len(shown)
    for index, line in enumerate(shown):
        value = line.last()
        color = _threshold_color(panel, value)
        cell_left = left + index * cell
        if (panel.get("options") or {}).get("graphMode", "area") == "area":
            spark = canvas.axes(cell_left + 0.05, top + height * 0.55, cell - 0.1, height * 0.43)
            spark.set_axis_off()
            spark.plot(line.times, line.values, color=color, linewidth=1)
            spark.fill_between(line.times, 0, [0 if math.isnan(v) else v for v in line.values], color=color, alpha=0.2)
            spark.set_xlim(data.start - data.origin, data.end - data.origin)
            spark.set_ylim(bottom=min(0.0, *line.finite()))
        text = format_value(unit, value, _decimals(panel))
        canvas.text(cell_left + cell / 2, top + height * 0.5, text, fontsize=18, color=color, ha="center", va="center")
        if len(shown) > 1:
            canvas.text(cell_left + cell / 2, top + height * 0.78, line.name, fontsize=6.5, color=DIM, ha="center")


def _draw_gauge(canvas: Canvas, box: Box, lines: Sequence[Line]) -> None:
    assert box.placed is not None
    panel, unit = box.placed.panel, box.placed.unit
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    low, high = float(defaults.get("min", 0) or 0), float(defaults.get("max", 1) or 1)
    framed = _framed(canvas, box, lines)
    if framed is None:
        return
    left, top, width, height, shown = framed
    cell = width / len(shown)
    for index, line in enumerate(shown):
        value = line.last()
        fraction = 0.0 if value is None else min(1.0, max(0.0, (value - low) / (high - low or 1)))
        color = _threshold_color(panel, value)
        ax = canvas.axes(left + index * cell + 0.04, top + 0.3, cell - 0.08, height - 0.45)
        ax.set_axis_off()
        ax.set_aspect("equal")
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-0.45, 1.1)
        ax.add_patch(Wedge((0, 0), 1, 0, 180, width=0.25, color=BORDER))
        ax.add_patch(Wedge((0, 0), 1, 180 - 180 * fraction, 180, width=0.25, color=color))
        ax.text(0, 0.12, format_value(unit, value, _decimals(panel)), color=color, ha="center", fontsize=10)
        ax.text(0, -0.35, line.name, color=DIM, ha="center", fontsize=6.5)


def _draw_row(canvas: Canvas, box: Box) -> None:
    left, top = box.x * UNIT_W + GAP, HEADER_IN + box.y * UNIT_H
    canvas.text(left + 0.04, top + 0.08, box.title, fontsize=10, fontweight="bold")
    ax = canvas.axes(left, top + UNIT_H - 0.03, box.w * UNIT_W - 2 * GAP, 0.01)
    ax.set_axis_off()
    ax.add_patch(Rectangle((0, 0), 1, 1, color=BORDER, transform=ax.transAxes))


def render_dashboard(dashboard: Mapping[str, Any], data: Data, caption: str) -> Figure:
    laid = boxes(dashboard, data.variables)
    canvas = Canvas(max((box.y + box.h for box in laid), default=1))
    canvas.text(0.12, 0.1, str(dashboard.get("title", "")), fontsize=15, fontweight="bold")
    canvas.text(0.12, 0.43, caption, fontsize=7.5, color=DIM, linespacing=1.4)
    for box in laid:
        if box.placed is None:
            _draw_row(canvas, box)
            continue
        lines = data.lines(box.placed, box.variables)
        if box.placed.kind == "stat":
            _draw_stat(canvas, box, lines, data)
        elif box.placed.kind == "gauge":
            _draw_gauge(canvas, box, lines)
        else:
            _draw_timeseries(canvas, box, lines, data)
    return canvas.figure


def _caption(series: Mapping[str, Any], scenario: str, section: Mapping[str, Any]) -> str:
    when = datetime.fromtimestamp(float(series["scenarios"][scenario]["load_started"]), UTC)
    description = str(section.get("description", scenario))
    instances = "; ".join(
        f"{load['instance']} = {load['name']} ({load['model']} on the {load['simulator_profile']} simulator)"
        for load in section.get("loads") or []
    )
    first = (
        f"Rendered by verify/render.py from Prometheus range queries of the verification run "
        f"({series.get('mode', 'full')}, scenario '{scenario}', {when:%Y-%m-%d %H:%M} UTC): each panel's own PromQL "
        f"with $job, $instance, $model = All (repeated rows: one per value), $__rate_interval = 1m. "
        f"Not a Grafana screenshot."
    )
    second = f"Scenario: {description}. Time axis: minutes:seconds since the load started."
    third = f"Instances: {instances}." if instances else ""
    return "\n".join(line for line in (*textwrap.wrap(first, 190), second, *textwrap.wrap(third, 190)) if line)


def _save(figure: Figure, path: Path, dpi: int) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor=BACKGROUND)
    buffer.seek(0)
    with Image.open(buffer) as image:
        # A 256-colour palette: a third of the bytes, no visible difference on flat dashboard colours.
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def render_all(
    series_path: Path = DEFAULT_SERIES,
    out_dir: Path = DEFAULT_OUT_DIR,
    scenario: str = "faults",
    dpi: int = DPI,
    report_path: Path | None = None,
) -> list[Path]:
    """One PNG per committed dashboard, drawn from ``scenario`` of ``series_path``."""
    series = json.loads(series_path.read_text(encoding="utf-8"))
    if scenario not in series.get("scenarios", {}):
        raise SystemExit(f"{series_path} has no scenario {scenario!r} (has: {sorted(series.get('scenarios', {}))})")
    section: Mapping[str, Any] = {}
    report_path = report_path if report_path is not None else series_path.with_name("report.json")
    if report_path.exists():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        section = report.get("scenarios", {}).get(scenario, {})
    data = Data(series["scenarios"][scenario])
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for dashboard in committed_dashboards():
        path = out_dir / f"{dashboard['uid']}.png"
        _save(render_dashboard(dashboard, data, _caption(series, scenario, section)), path, dpi)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the dashboards from a verification run's series.")
    parser.add_argument("--series", type=Path, default=DEFAULT_SERIES, help="default: %(default)s")
    parser.add_argument("--scenario", default="faults", help="default: %(default)s")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="default: %(default)s")
    parser.add_argument("--dpi", type=int, default=DPI, help="default: %(default)s")
    args = parser.parse_args(argv)
    for path in render_all(args.series, args.out_dir, args.scenario, args.dpi):
        print(f"{path} {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
