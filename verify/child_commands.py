"""The command lines and environment of the verification's child processes.

`axio-anthropic simulate` (paced so that a clean run meets no real 429), `axio-anthropic load`
(retries, a short per-attempt timeout, /metrics kept up after the run) and Prometheus.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Final

from verify import attribution
from verify.scenarios import LoadSpec, SimulatorSpec

__all__ = [
    "API_KEY",
    "LINGER",
    "LOAD_DRAIN",
    "child_env",
    "find_cli",
    "load_argv",
    "prometheus_argv",
    "simulator_argv",
]

#: Simulator pacing: about 0.4 s per call, so three load processes of 4 agents stay far below the
#: simulator's own 4000 requests/minute limit (a clean run must not meet real 429s).
FIRST_BYTE_DELAY: Final = 0.1
TOKEN_DELAY: Final = 0.02
MAX_RETRIES: Final = 3
#: Per-attempt timeout: the chaos profile's stalls must fail fast.
ATTEMPT_TIMEOUT: Final = 4.0
#: `axio-anthropic load` lets runs under way finish for up to 10 s after --duration.
LOAD_DRAIN: Final = 10.0
#: Load processes keep serving /metrics this long after their run; stopped as soon as the checks
#: have read Prometheus.
LINGER: Final = 90.0
API_KEY: Final = "sk-verify-simulator"


def find_cli() -> str | None:
    beside = Path(sys.executable).parent / "axio-anthropic"
    if beside.exists():
        return str(beside)
    return shutil.which("axio-anthropic")


def child_env() -> dict[str, str]:
    """The environment minus anything that would send data elsewhere than 127.0.0.1."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "ANTHROPIC_", "PROMETHEUS_MULTIPROC"))
    }
    env["ANTHROPIC_API_KEY"] = API_KEY
    return env


def simulator_argv(cli: str, sim: SimulatorSpec, port: int) -> list[str]:
    argv = [cli, "simulate", "--host", "127.0.0.1", "--port", str(port), "--profile", sim.profile]
    argv += ["--seed", str(sim.seed), "--first-byte-delay", f"{FIRST_BYTE_DELAY:g}"]
    argv += ["--token-delay", f"{TOKEN_DELAY:g}", "--quiet"]
    for name, limit in sim.rate_limits:
        argv += ["--rate-limit", f"{name}={limit}"]
    return argv


def prometheus_argv(prometheus: str, config: Path, tsdb: Path, port: int) -> list[str]:
    return [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tsdb}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--enable-feature=exemplar-storage",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]


def load_argv(cli: str, spec: LoadSpec, base_url: str, duration: float, json_path: Path) -> list[str]:
    return [
        cli,
        "load",
        "--base-url",
        base_url,
        "--model",
        spec.model,
        "--concurrency",
        str(spec.concurrency),
        "--duration",
        f"{duration:g}",
        "--max-retries",
        str(MAX_RETRIES),
        "--timeout",
        f"{ATTEMPT_TIMEOUT:g}",
        "--metrics-port",
        "0",
        "--linger",
        f"{LINGER:g}",
        "--json",
        str(json_path),
        "--quiet",
        *attribution.label_argv(spec.labels),
    ]
