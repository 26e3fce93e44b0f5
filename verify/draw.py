"""Grafana's panels drawn with matplotlib, for verify/render.py: the frame and title, time series
with their legend table and threshold lines, stats and gauges, row headers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle, Wedge
from matplotlib.ticker import FuncFormatter, MaxNLocator

from verify.panels import Box
from verify.units import TEXT, decimals, format_value, threshold_color, threshold_steps, unit_label

WIDTH_IN: Final = 16.0
UNIT_W: Final = WIDTH_IN / 24
UNIT_H: Final = 0.34
HEADER_IN: Final = 1.25
GAP: Final = 0.04
LEGEND_ROW: Final = 0.125

BACKGROUND: Final = "#111217"
PANEL: Final = "#181b1f"
BORDER: Final = "#2c3235"
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


class Window(Protocol):
    """The run's time range: ``start`` and ``end`` of the plot, ``origin`` its zero (load start)."""

    start: float
    end: float
    origin: float


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


def draw_timeseries(canvas: Canvas, box: Box, lines: Sequence[Line], data: Window) -> None:
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
    if label := unit_label(unit):
        ax.set_ylabel(label, fontsize=6, color=DIM, labelpad=1)
    _threshold_lines(ax, box.placed.panel, custom)
    _legend_table(canvas, shown, rows, unit, left, top + height - legend_h, width)


def _threshold_lines(ax: Axes, panel: Mapping[str, Any], custom: Mapping[str, Any]) -> None:
    """The thresholds as horizontal lines, when the panel shows them (an alert's threshold)."""
    mode = str((custom.get("thresholdsStyle") or {}).get("mode", "off"))
    if not mode.startswith(("line", "dashed")):
        return
    for bound, color in threshold_steps(panel):
        if bound is not None:
            ax.axhline(bound, color=color, linewidth=1, linestyle="--" if mode.startswith("dashed") else "-")


def _legend_table(
    canvas: Canvas, lines: Sequence[Line], rows: int, unit: str, left: float, top: float, width: float
) -> None:
    # Too many series for the space: the largest (by last value) are listed, the rest counted.
    ranked = sorted(range(len(lines)), key=lambda index: -(lines[index].last() or 0.0))
    keep = set(ranked[:rows])
    cells: dict[int, list[str]] = {}
    for index in keep:
        finite = lines[index].finite()
        numbers = (sum(finite) / len(finite), max(finite), lines[index].last()) if finite else (None, None, None)
        cells[index] = [format_value(unit, value) for value in numbers]
    # A column as wide as its longest number (about 0.05 in a character at 6.5 pt), 0.55 in at least.
    step = max([0.55] + [0.05 * len(text) + 0.1 for texts in cells.values() for text in texts])
    columns = (("Mean", width - 0.15 - 2 * step), ("Max", width - 0.15 - step), ("Last", width - 0.15))
    for name, right in columns:
        canvas.text(left + right, top, name, fontsize=6, color=DIM, ha="right")
    if len(lines) > rows:
        canvas.text(left + 0.1, top, f"{len(lines) - rows} more series not listed", fontsize=6, color=DIM)
    row = 1
    for index, line in enumerate(lines):
        if index not in keep:
            continue
        y = top + row * LEGEND_ROW
        canvas.text(left + 0.1, y - 0.01, "■", fontsize=6.5, color=PALETTE[index % len(PALETTE)])
        canvas.text(left + 0.24, y, _clip(line.name, width - 0.1 - 3 * step, 6.5), fontsize=6.5)
        for (_, right), text in zip(columns, cells[index], strict=True):
            canvas.text(left + right, y, text, fontsize=6.5, ha="right")
        row += 1


def draw_stat(canvas: Canvas, box: Box, lines: Sequence[Line], data: Window) -> None:
    assert box.placed is not None
    panel, unit = box.placed.panel, box.placed.unit
    framed = _framed(canvas, box, lines)
    if framed is None:
        return
    left, top, width, height, shown = framed
    cell = width / len(shown)
    for index, line in enumerate(shown):
        value = line.last()
        color = threshold_color(panel, value)
        cell_left = left + index * cell
        if (panel.get("options") or {}).get("graphMode", "area") == "area":
            spark = canvas.axes(cell_left + 0.05, top + height * 0.55, cell - 0.1, height * 0.43)
            spark.set_axis_off()
            spark.plot(line.times, line.values, color=color, linewidth=1)
            spark.fill_between(line.times, 0, [0 if math.isnan(v) else v for v in line.values], color=color, alpha=0.2)
            spark.set_xlim(data.start - data.origin, data.end - data.origin)
            spark.set_ylim(bottom=min(0.0, *line.finite()))
        text = format_value(unit, value, decimals(panel))
        canvas.text(cell_left + cell / 2, top + height * 0.5, text, fontsize=18, color=color, ha="center", va="center")
        if len(shown) > 1:
            canvas.text(cell_left + cell / 2, top + height * 0.78, line.name, fontsize=6.5, color=DIM, ha="center")


def draw_gauge(canvas: Canvas, box: Box, lines: Sequence[Line]) -> None:
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
        color = threshold_color(panel, value)
        ax = canvas.axes(left + index * cell + 0.04, top + 0.3, cell - 0.08, height - 0.45)
        ax.set_axis_off()
        ax.set_aspect("equal")
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-0.45, 1.1)
        ax.add_patch(Wedge((0, 0), 1, 0, 180, width=0.25, color=BORDER))
        ax.add_patch(Wedge((0, 0), 1, 180 - 180 * fraction, 180, width=0.25, color=color))
        ax.text(0, 0.12, format_value(unit, value, decimals(panel)), color=color, ha="center", fontsize=10)
        ax.text(0, -0.35, line.name, color=DIM, ha="center", fontsize=6.5)


def draw_row(canvas: Canvas, box: Box) -> None:
    left, top = box.x * UNIT_W + GAP, HEADER_IN + box.y * UNIT_H
    canvas.text(left + 0.04, top + 0.08, box.title, fontsize=10, fontweight="bold")
    ax = canvas.axes(left, top + UNIT_H - 0.03, box.w * UNIT_W - 2 * GAP, 0.01)
    ax.set_axis_off()
    ax.add_patch(Rectangle((0, 0), 1, 1, color=BORDER, transform=ax.transAxes))
