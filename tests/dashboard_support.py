"""Helpers shared by the tests of the dashboards an on-call engineer uses: the committed dashboards
by uid, their panels, queries and links, and the alert rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]
from dashboards.queries import committed_dashboards, iter_panels

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules" / "axio-anthropic.rules.yml"
OVERVIEW, RETRIES, DRILLDOWN = "axio-anthropic-overview", "axio-anthropic-retries", "axio-anthropic-drilldown"


def by_uid() -> dict[str, dict[str, Any]]:
    return {str(d["uid"]): d for d in committed_dashboards()}


def rules_by_name() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return {str(r.get("alert") or r.get("record")): r for group in data["groups"] for r in group["rules"]}


def panel(dashboards: dict[str, dict[str, Any]], uid: str, title: str) -> dict[str, Any]:
    (found,) = [p for p in iter_panels(dashboards[uid]) if p["title"] == title]
    return found


def exprs(found: dict[str, Any]) -> list[str]:
    return [str(t["expr"]) for t in found.get("targets") or [] if str(t.get("expr", "")).strip()]


def links(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Panel links and the data links of its fields."""
    return list(found.get("links") or []) + list(found["fieldConfig"]["defaults"].get("links") or [])
