"""The committed baseline (``benchmarks/perf/baseline.json``) and the comparison of a run with it.

The file holds the fingerprint the counts were made under (``environment.py``), the tolerance, and
per workload its unit, its instructions per unit and the raw counts of each repeat. A run compares
per unit; a count more than ``tolerance`` above its baseline fails, one as far below passes with a
note (the gain is kept only once it is rebaselined, else later changes may spend it unseen).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .count import BENCHMARKS, Count
from .workloads import TARGETS, Workload

__all__ = ["DEFAULT", "TOLERANCE", "Row", "compare", "load", "measurement", "save", "target_rows"]

DEFAULT: Final = BENCHMARKS / "perf" / "baseline.json"
TOLERANCE: Final = 0.03
_ABOUT: Final = (
    "Instructions per unit counted by `make perf-check` (callgrind). Rewritten by `make perf-baseline`, "
    "only for a deliberate trade explained in its commit message (README: The performance gate)."
)


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    unit: str
    baseline: float | None
    now: float
    limit: float
    """The largest allowed change, as a fraction (0.03: +3 %)."""

    @property
    def change(self) -> float | None:
        return None if self.baseline is None else self.now / self.baseline - 1

    @property
    def failed(self) -> bool:
        """More than ``limit`` above the baseline (exactly +3 % passes), or no baseline at all."""
        return self.baseline is None or self.now > self.baseline * (1 + self.limit)


def measurement(workload: Workload, counts: Sequence[Count]) -> dict[str, Any]:
    """A workload's entry in the baseline file, from one or more repeats: the mean per unit, the
    repeats' spread (max - min over min) and each repeat's two counts, ``run(0)`` and ``run(size)``."""
    per_unit = [c.per_unit for c in counts]
    return {
        "unit": workload.unit,
        "what": workload.what,
        "per_unit": round(sum(per_unit) / len(per_unit), 1),
        "spread": round((max(per_unit) - min(per_unit)) / min(per_unit), 7),
        "size": workload.size,
        "runs": [[c.empty, c.full] for c in counts],
    }


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def save(path: Path, environment: dict[str, Any], measurements: dict[str, dict[str, Any]]) -> None:
    data = {"about": _ABOUT, "tolerance": TOLERANCE, "environment": environment, "measurements": measurements}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def compare(baseline: dict[str, Any], workloads: Iterable[Workload], per_unit: dict[str, float]) -> list[Row]:
    """One row per workload counted now; a workload the baseline lacks fails (it must be rebaselined)."""
    tolerance = float(baseline.get("tolerance", TOLERANCE))
    known = baseline.get("measurements", {})
    rows = []
    for workload in workloads:
        entry = known.get(workload.name)
        was = float(entry["per_unit"]) if entry is not None else None
        rows.append(Row(workload.name, workload.unit, was, per_unit[workload.name], tolerance))
    return rows


def target_rows(per_unit: dict[str, float]) -> list[Row]:
    """The settled cost targets counted in this run, each as a row: ``baseline`` is the workload it
    is measured over, ``now`` the target's workload less any ``less`` workload's extra."""
    rows = []
    for target in TARGETS:
        needed = [target.now, target.over] + ([target.less] if target.less else [])
        if not all(name in per_unit for name in needed):
            continue
        over = per_unit[target.over]
        spared = per_unit[target.less] - over if target.less else 0.0
        rows.append(Row(target.what, target.unit, over, per_unit[target.now] - spared, target.limit))
    return rows
