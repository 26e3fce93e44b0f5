"""Values as Grafana's unit formats print them, and threshold colours, for verify/render.py."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["NAMED_COLORS", "TEXT", "decimals", "format_value", "threshold_color", "unit_label"]

TEXT: Final = "#ccccdc"
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
#: Grafana's custom count unit `count:<unit>` (simpleCountUnit): 1000-steps K, M, B, T, then the unit.
COUNT_PREFIX: Final = "count:"
_COUNT_SCALE: Final = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def _si(value: float) -> str:
    magnitude = abs(value)
    for factor, suffix in ((1e9, " B"), (1e6, " M"), (1e3, " k")):
        if magnitude >= factor:
            return f"{value / factor:.3g}{suffix}"
    if magnitude == 0 or magnitude >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2g}"


def _count(value: float, unit: str) -> str:
    for factor, suffix in _COUNT_SCALE:
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix} {unit}"
    return f"{_si(value)} {unit}"


def format_value(unit: str, value: float | None, decimals: int | None = None) -> str:
    """A value as Grafana's unit formats show it: ``12.5 req/s``, ``340 ms``, ``4.2%``, ``$1.20``,
    ``12.3K tokens/s``."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if unit.startswith(COUNT_PREFIX):
        return _count(value, unit.removeprefix(COUNT_PREFIX))
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


def unit_label(unit: str) -> str:
    """The y axis label of a unit."""
    if unit.startswith(COUNT_PREFIX):
        return unit.removeprefix(COUNT_PREFIX)
    return {"reqps": "req/s", "s": "time", "percentunit": "percent", "currencyUSD": "USD"}.get(unit, "")


def threshold_steps(panel: Mapping[str, Any]) -> list[tuple[float | None, str]]:
    """The panel's threshold steps as (value, colour); the first value is None (from -inf)."""
    steps = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("thresholds", {}).get("steps") or []
    found: list[tuple[float | None, str]] = []
    for step in steps:
        bound = step.get("value")
        name = str(step.get("color", "green"))
        found.append((None if bound is None else float(bound), NAMED_COLORS.get(name, name)))
    return found


def threshold_color(panel: Mapping[str, Any], value: float | None) -> str:
    color = NAMED_COLORS["green"]
    for bound, step_color in threshold_steps(panel):
        if bound is None or (value is not None and not math.isnan(value) and value >= bound):
            color = step_color
    return color


def decimals(panel: Mapping[str, Any]) -> int | None:
    value = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("decimals")
    return int(value) if value is not None else None
