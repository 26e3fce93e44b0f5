"""The performance gate bites: a decoder made slower by one extra ``json.loads`` per event fails it.

The gate (``make perf-check``, ``benchmarks/perf``) is run here as CI runs it, on one small
workload (the decoder on 1,000 text deltas, counted once) and against a baseline made in this test
with this interpreter, so the test needs neither ``.venv-perf`` nor a baseline that matches the
code of the moment: it shows the mechanism, not today's figures. The slowed decoder is a copy of
the package with one line added, put first on the counted process's path (``--pythonpath``); the
unchanged code, counted again, passes. Needs valgrind (``apt-get install valgrind``; CI installs it).
Also: where the line is drawn (exactly +3 % passes), and a baseline from another environment refused.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "axio_transport_anthropic"
WORKLOAD = "decoder/text"
#: The decoder's parse of each event's data, and the slowed copy's: the same, then a second parse.
PARSE = "                payload = _parse(data)\n"
SLOWED = PARSE + "                json.loads(data)  # the perf gate test's deliberate slowdown\n"

needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("vgdb") is None, reason="the gate counts with valgrind: apt-get it"
)


@pytest.fixture
def perf_baseline(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``perf.baseline``, imported as the gate imports it (``benchmarks`` on the path)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return importlib.import_module("perf.baseline")


def _gate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "benchmarks")}
    argv = [sys.executable, "-m", "perf", *map(str, args), "--only", WORKLOAD, "--repeat", "1"]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=200, check=False)


def _slowed_copy(into: Path) -> Path:
    copy = into / "axio_transport_anthropic"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    decoder = copy / "decoder.py"
    source = decoder.read_text()
    assert source.count(PARSE) == 1, "the decoder no longer parses each event where this test slows it down"
    assert "\nimport json\n" in source
    decoder.write_text(source.replace(PARSE, SLOWED))
    return into


def test_a_count_fails_only_above_the_tolerance(perf_baseline: Any) -> None:
    row = perf_baseline.Row
    assert not row("w", "request", 1_000_000.0, 1_030_000.0, 0.03).failed  # exactly +3 %
    assert row("w", "request", 1_000_000.0, 1_030_001.0, 0.03).failed
    assert not row("w", "request", 1_000_000.0, 500_000.0, 0.03).failed  # a gain passes
    assert row("w", "request", None, 1.0, 0.03).failed  # a workload the baseline lacks


def test_the_cost_targets_are_checked_and_the_sdks_own_span_cost_is_set_aside(perf_baseline: Any) -> None:
    counts = {
        "request/off": 100.0,
        "request/full": 104.0,
        "agent/default-off": 100.0,
        "agent/default-on": 105.0,  # exactly +5 %: passes
        "agent/sdk-off": 100.0,
        "agent/sdk-floor": 106.0,  # the spans alone: +6 %, no instrumentor's fault
        "agent/sdk-on": 110.0,  # +10 % all told, +4 % its own
    }
    rows = {row.name: row for row in perf_baseline.target_rows(counts)}
    assert len(rows) == 3 and not any(row.failed for row in rows.values())
    own = rows["AxioInstrumentor's own work, with an SDK"]
    assert (own.baseline, own.now, own.unit) == (100.0, 104.0, "agent run")
    slower = perf_baseline.target_rows({**counts, "agent/default-on": 105.01, "agent/sdk-on": 111.01})
    assert [row.name for row in slower if row.failed] == [
        "AxioInstrumentor, nothing configured",
        "AxioInstrumentor's own work, with an SDK",
    ]
    # A run that counts only some workloads checks only the targets it has all of.
    partial = perf_baseline.target_rows({"agent/sdk-on": 1.0, "agent/sdk-off": 1.0})
    assert partial == []


@needs_valgrind
def test_a_baseline_from_another_environment_is_refused(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    environment = {"python": "CPython 3.0.0", "platform": "-", "valgrind": "-", "constraints_sha256": "-"}
    baseline.write_text(json.dumps({"tolerance": 0.03, "environment": environment, "measurements": {}}))
    refused = _gate("check", "--baseline", baseline)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "perf-check: REFUSED" in refused.stderr
    assert "python: 'CPython 3.0.0' in the baseline" in refused.stderr
    assert "make perf-baseline" in refused.stderr


@needs_valgrind
# Three gate runs of one workload under callgrind: ~10 s each, several times that on a busy machine.
@pytest.mark.timeout(240)
def test_a_slowed_decoder_fails_the_gate_and_the_unchanged_one_passes(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    made = _gate("baseline", "--baseline", baseline)
    assert made.returncode == 0, made.stdout + made.stderr
    assert baseline.exists()

    unchanged = _gate("check", "--baseline", baseline)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "perf-check: passed: 1 counts within +3 % of the baseline" in unchanged.stdout

    slowed = _gate("check", "--baseline", baseline, "--pythonpath", _slowed_copy(tmp_path / "slow"))
    assert slowed.returncode == 1, slowed.stdout + slowed.stderr
    assert "perf-check: FAILED" in slowed.stdout
    # The failure gives each figure: the baseline, now and the change.
    line = re.search(
        rf"{re.escape(WORKLOAD)}: baseline ([\d,]+), now ([\d,]+) instructions per text delta, "
        r"change \+([\d.]+) % \(at most \+3 %\)",
        slowed.stdout,
    )
    assert line is not None, slowed.stdout
    was, now, change = (float(group.replace(",", "")) for group in line.groups())
    assert now > was * 1.03
    assert change == pytest.approx((now / was - 1) * 100, abs=0.02)
    assert "make perf-baseline" in slowed.stdout
