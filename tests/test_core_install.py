"""``axio-anthropic load`` and ``demo`` in a core install (no ``[otel]`` extra): ``/metrics`` and logs
still work, and only asking for OTLP export needs the extra.

Each test runs the CLI in a subprocess of the dev venv's Python in which importing the
OpenTelemetry SDK and exporters fails (``tests/scripts/without_otel_sdk.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from .support import wait_for_line

SCRIPT = Path(__file__).parent / "scripts" / "without_otel_sdk.py"
#: Generous: each run takes about a second; the limit only stops a hung one.
LIMIT = 60.0


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "ANTHROPIC_"))}
    return {**env, "ANTHROPIC_API_KEY": "", **extra}


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=LIMIT, env=_env(**env)
    )


@pytest.mark.timeout(LIMIT + 10)
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_load_runs_and_serves_metrics_without_the_otel_extra() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "load", "-d", "1.5", "-c", "2", "-q", "--metrics-port", "0", "--linger", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    watchdog = threading.Timer(LIMIT, proc.kill)  # a hung run ends the reads below with EOF
    watchdog.start()
    try:
        url = wait_for_line(proc.stdout, "metrics: ").split()[1]
        wait_for_line(proc.stdout, "lingering ")
        with urllib.request.urlopen(url, timeout=5) as response:
            scrape = response.read().decode()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=LIMIT)
    finally:
        watchdog.cancel()
        proc.kill()
    assert proc.returncode == 0, err
    assert 'axio_anthropic_requests_total{model="claude-sonnet-4-6",outcome="ok",provider="anthropic"}' in scrape
    assert "Traceback" not in err and "[otel]" not in err


@pytest.mark.timeout(LIMIT + 10)
def test_the_demo_runs_with_metrics_without_the_otel_extra() -> None:
    done = _run("demo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "telemetry off" not in done.stdout
    assert "/metrics while the agent runs]" in done.stdout and "[metrics: 2 requests," in done.stdout
    assert "[traces: off, the OpenTelemetry SDK is not installed" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(LIMIT + 10)
def test_asking_for_otlp_export_without_the_extra_names_it() -> None:
    done = _run("load", "-n", "1", "-q", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert done.returncode == 1
    assert "needs the [otel] extra" in done.stderr and "OTEL_EXPORTER_OTLP_ENDPOINT" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(LIMIT + 10)
def test_without_the_cloud_extras_anthropic_works_and_vertex_and_bedrock_name_their_extra() -> None:
    """``tests/core_install_check.py`` with google-auth, botocore and cryptography made unimportable
    (``make embed-core`` runs it in a real core install)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "tests.core_install_check", "--simulate-core"],
        capture_output=True,
        text=True,
        timeout=LIMIT,
        env=_env(),
        cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for needle in (
        "ok: Anthropic's API streams",
        "an ImportError and a ConfigurationError naming [vertex]",
        "pip install 'axio-transport-anthropic[bedrock]'",
        "ok: Bedrock with an API key streams without botocore",
        "usage errors naming [vertex]",
        "usage errors naming [bedrock]",
    ):
        assert needle in done.stdout, done.stdout
