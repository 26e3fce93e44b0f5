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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboards.queries import committed_dashboards  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from verify.draw import BACKGROUND, DIM, Canvas, Line, draw_gauge, draw_row, draw_stat, draw_timeseries  # noqa: E402
from verify.panels import Box, PlacedPanel, layout, legend, title_for  # noqa: E402
from verify.units import format_value  # noqa: E402

__all__ = ["DEFAULT_OUT_DIR", "format_value", "main", "render_all", "render_dashboard"]

DEFAULT_SERIES: Final = ROOT / "verify" / "series.json"
DEFAULT_OUT_DIR: Final = ROOT / "docs" / "img"
DPI: Final = 80


# --------------------------------------------------------------------------------------------
# Data


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


def render_dashboard(dashboard: Mapping[str, Any], data: Data, caption: str) -> Figure:
    laid = boxes(dashboard, data.variables)
    canvas = Canvas(max((box.y + box.h for box in laid), default=1))
    canvas.text(0.12, 0.1, str(dashboard.get("title", "")), fontsize=15, fontweight="bold")
    canvas.text(0.12, 0.43, caption, fontsize=7.5, color=DIM, linespacing=1.4)
    for box in laid:
        if box.placed is None:
            draw_row(canvas, box)
            continue
        lines = data.lines(box.placed, box.variables)
        if box.placed.kind == "stat":
            draw_stat(canvas, box, lines, data)
        elif box.placed.kind == "gauge":
            draw_gauge(canvas, box, lines)
        else:
            draw_timeseries(canvas, box, lines, data)
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
        f"with $job, $instance, $provider, $model = All (repeated rows: one per value), $__rate_interval = 1m. "
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
