"""Call labels in the verification: what the load processes attach, and what the panels must show.

Every `axio-anthropic load` process runs its agents under `call_labels()` (`--label`), cycling
through ``LABELS``. A panel that breaks cost or tokens down by one of them (``label_replace(sum by
(<label>) ...)``, dashboards/attribution.py) must then show exactly the values the load processes
attached: each of them (the labels reached Prometheus), and nothing else (no `(unset)` series:
every request carried its run's labels; no `_OTHER`: the values stayed under the cap).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from verify.panels import Evaluation
from verify.promapi import QueryResult

__all__ = ["LABELS", "Labels", "checks", "label_argv"]

Labels = tuple[tuple[str, tuple[str, ...]], ...]
#: Three tenants and two agents: run n gets tenant n % 3 and agent n % 2, so all six pairs occur.
LABELS: Final[Labels] = (("tenant", ("acme", "globex", "initech")), ("agent", ("support", "billing")))
_BROKEN_DOWN: Final = re.compile(r"^\s*label_replace\(\s*sum by \((\w+)\)")


def label_argv(labels: Labels) -> list[str]:
    """The `axio-anthropic load` options that attach ``labels``."""
    argv: list[str] = []
    for name, values in labels:
        argv += ["--label", f"{name}={','.join(values)}"]
    return argv


def _attached(loads: Iterable[Labels]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for labels in loads:
        for name, values in labels:
            found.setdefault(name, set()).update(values)
    return found


def checks(instant: Sequence[tuple[Evaluation, QueryResult]], loads: Sequence[Labels]) -> list[dict[str, Any]]:
    """One check per base query of a by-label panel: the label values it shows against those attached."""
    attached = _attached(loads)
    found: list[dict[str, Any]] = []
    for evaluation, result in instant:
        match = _BROKEN_DOWN.match(evaluation.expr)
        if match is None or not evaluation.base:
            continue
        label = match.group(1)
        rows: list[Mapping[str, Any]] = result.data["result"] if result.ok else []
        seen = sorted({str(row["metric"].get(label, "")) for row in rows})
        expected = sorted(attached.get(label, set()))
        found.append(
            {
                "dashboard": evaluation.dashboard,
                "title": evaluation.panel_title,
                "label": label,
                "expected": expected,
                "seen": seen,
                "ok": bool(expected) and seen == expected,
            }
        )
    return found
