"""The per-test hard limit bites: a test spinning in Python and one holding the GIL in C both
fail within seconds, with a stack naming the spinning line (tests/time_limit.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], float]:
    (tmp_path / "test_spin.py").write_text(f"def test_spins():\n    {body}\n")
    # Its own ini: a 1 s limit and 1 s of grace, none of this project's options.
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ntimeout = 1\ntime_limit_grace = 1\nasyncio_default_fixture_loop_scope = function\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_TIMEOUT", None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.time_limit", "-p", "no:cacheprovider", "-c", "pytest.ini"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    return proc, time.monotonic() - started


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("body", "who"),
    [
        # pytest-timeout's SIGALRM handler runs between bytecodes: it fails the test and goes on.
        ("while True: pass", "Timeout (>1.0s) from pytest-timeout"),
        # No handler runs while sum() holds the GIL: faulthandler's C watchdog dumps and exits.
        ("sum(range(10**15))", "Timeout (0:00:02)!"),
    ],
    ids=["python-loop", "c-loop-holding-the-gil"],
)
def test_a_spinning_test_fails_fast_with_its_stack(tmp_path: Path, body: str, who: str) -> None:
    proc, took = _run(tmp_path, body)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert took < 20, f"took {took:.1f} s:\n{output}"
    assert who in output, output
    assert 'test_spin.py", line 2' in output or "test_spin.py:2" in output, output
