"""What the gate prints: the table of counts against the baseline, and why it failed or refused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .baseline import Row
from .workloads import TARGETS

__all__ = ["REBASELINE", "failure_lines", "figure", "refusal", "table", "target_lines"]

REBASELINE = (
    "If the extra cost is a deliberate trade, run `make perf-baseline` and commit benchmarks/perf/baseline.json\n"
    "with the reason in the commit message (README: The performance gate). Otherwise, find what made it slower:\n"
    "`PYTHONPATH=benchmarks valgrind --tool=callgrind .venv-perf/bin/python -m perf.child WORKLOAD`, then\n"
    "callgrind_annotate."
)


def figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _change(row: Row) -> str:
    change = row.change
    return "new" if change is None else f"{change * 100:+.2f} %"


def _verdict(row: Row) -> str:
    if row.change is None:
        return "FAIL (not in the baseline)"
    if row.failed:
        return f"FAIL (over +{row.limit * 100:g} %)"
    if row.change < -row.limit:
        return f"ok (over {row.limit * 100:g} % below: rebaseline to keep the gain)"
    return "ok"


def table(rows: Sequence[Row], spreads: dict[str, float] | None = None) -> str:
    """Aligned rows: workload, unit, baseline, now, change, verdict (and the repeats' spread)."""
    head = ["workload", "instructions per", "baseline", "now", "change", ""]
    if spreads is not None:
        head.insert(5, "spread")
    lines = [head]
    for row in rows:
        cells = [row.name, row.unit, figure(row.baseline), figure(row.now), _change(row), _verdict(row)]
        if spreads is not None:
            cells.insert(5, f"{spreads.get(row.name, 0.0) * 100:.4f} %")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    right = {2, 3, 4, 5} if spreads is not None else {2, 3, 4}
    out = []
    for line in lines:
        pairs = enumerate(zip(line, widths, strict=True))
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in pairs]
        out.append("  " + "  ".join(cells).rstrip())
    return "\n".join(out)


def failure_lines(rows: Sequence[Row]) -> list[str]:
    """Each failed row as one sentence with its three figures."""
    lines = []
    for row in rows:
        if not row.failed:
            continue
        if row.baseline is None:
            lines.append(f"{row.name}: not in the baseline; now {figure(row.now)} instructions per {row.unit}")
            continue
        lines.append(
            f"{row.name}: baseline {figure(row.baseline)}, now {figure(row.now)} instructions per {row.unit}, "
            f"change {_change(row)} (at most +{row.limit * 100:g} %)"
        )
    return lines


def target_lines(rows: Sequence[Row], per_unit: dict[str, float]) -> list[str]:
    """Each cost target's change and verdict; one measured less the SDK's own span cost also says
    what that cost was, and the change all told."""
    by_what = {target.what: target for target in TARGETS}
    lines = []
    for row in rows:
        target = by_what[row.name]
        verdict = "FAIL" if row.failed else "ok"
        lines.append(f"target: {row.name} {(row.change or 0) * 100:+.2f} % (at most +{row.limit * 100:g} %)  {verdict}")
        if target.less is not None:
            over = per_unit[target.over]
            spans, whole = per_unit[target.less] / over - 1, per_unit[target.now] / over - 1
            cost = f"the spans' own cost in the SDK ({target.less}) {spans * 100:+.2f} %"
            lines.append(f"  {cost}; all told {whole * 100:+.2f} %")
    return lines


def refusal(path: Path, reasons: Sequence[str]) -> str:
    listed = "\n".join(f"  {reason}" for reason in reasons)
    return (
        f"perf-check: REFUSED: {path} was counted in another environment, and instruction counts differ between\n"
        f"environments for reasons that are not this code's, so comparing them would pass or fail for nothing:\n"
        f"{listed}\n"
        "If this environment is now the one to keep (a Python, valgrind or dependency upgrade, or a change to\n"
        "benchmarks/perf/constraints.txt), run `make perf-baseline` and commit benchmarks/perf/baseline.json, naming\n"
        "the upgrade in the commit message. Otherwise count with what the baseline names: another Python is\n"
        "`make perf-check PYTHON=...` (after `rm -rf .venv-perf`), another valgrind a matter of the machine."
    )
