"""End to end: every dashboard panel and alert rule shows something real on a real Prometheus.

Runs verify/run.py (about two minutes: simulators, three load processes per scenario, Prometheus)
and writes verify/report.json and verify/series.json. Too slow for the default run: collected
only with AXIO_VERIFY=1, which `make verify` sets; AXIO_VERIFY_QUICK=1 shortens the runs (the
`for: 1m` alerts then reach pending, not firing). Under CI=true a missing prometheus binary is a
failure, not a skip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("AXIO_VERIFY", "").lower() not in ("1", "true", "yes"):
    pytest.skip("end-to-end verification: set AXIO_VERIFY=1 (make verify)", allow_module_level=True)

from dashboards.queries import committed_dashboards, evaluable_queries
from verify import run

MAX_PNG_BYTES = 300 * 1024
#: The module's first test also runs the whole verification (~2 min) in its fixture.
pytestmark = pytest.mark.timeout(900)


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if run.find_prometheus() is None:
        reason = "the prometheus binary is not installed (apt-get install prometheus)"
        if _ci():
            pytest.fail(f"{reason}, and CI must run the verification")
        pytest.skip(reason)
    quick = os.environ.get("AXIO_VERIFY_QUICK", "").lower() in ("1", "true", "yes")
    return run.run_verification(run.DEFAULT_REPORT, run.DEFAULT_SERIES, quick=quick)


def test_the_verification_passes(report: dict[str, Any]) -> None:
    assert report["passed"], "\n".join(run.summary_lines(report))
    assert set(report["scenarios"]) == {"faults", "clean"}


def test_under_faults_every_panel_query_has_data(report: dict[str, Any]) -> None:
    section = report["scenarios"]["faults"]
    base = [panel for panel in section["panels"] if not panel["variables"]]
    assert len(base) == len(evaluable_queries())
    empty = [f"{panel['dashboard']} / {panel['title']} [{panel['ref_id']}]" for panel in base if not panel["has_data"]]
    assert not empty, empty
    assert all(panel["valid"] for panel in section["panels"])


def test_every_load_instance_is_a_dashboard_instance(report: dict[str, Any]) -> None:
    for name, section in report["scenarios"].items():
        instances = sorted(load["instance"] for load in section["loads"])
        assert len(instances) >= 3, name
        assert section["variables"]["instance"] == instances, name
        assert {target["health"] for target in section["targets"]} == {"up"}, name


def test_429_and_529_alerts_follow_the_faults(report: dict[str, Any]) -> None:
    faults = {check["status"]: check for check in report["scenarios"]["faults"]["alert_checks"]}
    clean = {check["status"]: check for check in report["scenarios"]["clean"]["alert_checks"]}
    for status in ("429", "529"):
        assert faults[status]["alerts"], f"no alert rule for {status}s"
        assert set(faults[status]["states"].values()) & {"pending", "firing"}, faults[status]
        assert set(clean[status]["states"].values()) == {"inactive"}, clean[status]
        assert clean[status]["ok"], clean[status]


def test_cost_and_tokens_by_call_label_show_the_labels_the_loads_attached(report: dict[str, Any]) -> None:
    for name, section in report["scenarios"].items():
        checks = section["attribution_checks"]
        assert {check["label"] for check in checks} == {"tenant", "agent"}, name
        assert all(check["ok"] and check["seen"] == check["expected"] for check in checks), (name, checks)
        for load in section["loads"]:
            assert load["labels"] == {"tenant": ["acme", "globex", "initech"], "agent": ["support", "billing"]}
        # The scrape's own labels must not displace the metrics' `agent` call label.
        assert all("agent" not in target["labels"] for target in section["targets"]), name


def test_the_agents_row_shows_the_load_processes_agent_runs(report: dict[str, Any]) -> None:
    """Load runs its agents with AxioInstrumentor on: runs, turns, `stock_level` calls (verify/agent_checks.py)."""
    for name, section in report["scenarios"].items():
        checks = section["agent_checks"]
        assert len(checks) == 9 and all(check["ok"] for check in checks), (name, checks)


def test_every_rule_is_healthy(report: dict[str, Any]) -> None:
    for name, section in report["scenarios"].items():
        unhealthy = {rule["name"]: rule["last_error"] or rule["error"] for rule in section["rules"] if not rule["ok"]}
        assert not unhealthy, (name, unhealthy)


def test_the_dashboards_render_from_the_run(report: dict[str, Any], tmp_path: Path) -> None:
    from verify import render

    written = render.render_all(run.DEFAULT_SERIES, tmp_path, "faults")
    assert sorted(path.stem for path in written) == sorted(str(d["uid"]) for d in committed_dashboards())
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size < MAX_PNG_BYTES, (path.name, path.stat().st_size)
