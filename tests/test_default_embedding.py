"""The transport embedded as hosts do, with the default telemetry, in three telemetry
environments: each a fresh process (OpenTelemetry's globals can be set once) running the matrix
in ``tests/embedding`` (``make embed-core`` runs the fourth, a core install)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The matrix takes ~10 s; a hung scenario exits by itself within 30 s, with every thread's stack.
LIMIT = 150.0


def _env() -> dict[str, str]:
    # The host configures nothing: no OTel variables, no multiprocess Prometheus.
    drop = ("OTEL_", "ANTHROPIC_", "PROMETHEUS_MULTIPROC_DIR", "PYTHONWARNINGS")
    return {key: value for key, value in os.environ.items() if not key.startswith(drop)}


@pytest.mark.timeout(LIMIT + 30)
@pytest.mark.parametrize("environment", ["sdk-no-provider", "sdk-disabled", "recording"])
def test_default_embedding(environment: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.embedding", "--env", environment],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LIMIT,
        env=_env(),
    )
    print(proc.stdout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-6000:]}"
    assert f"[{environment}] ok:" in proc.stdout, proc.stdout
