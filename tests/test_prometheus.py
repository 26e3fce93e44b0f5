"""End to end with a real Prometheus: it scrapes a process that ran calls against a faulty simulator,
and PromQL must count exactly what the simulator served."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from verify.promapi import free_port

WORKER = Path(__file__).parent / "scripts" / "prometheus_worker.py"
CALLS = 30
SEED = 7
#: How each kind the simulator served shows up: the attempt's status label and the retry reason.
STATUS = {
    "none": "200",
    "rate_limited": "429",
    "overloaded": "529",
    "stream_error": "529",  # an in-stream overloaded_error counts as the 529 it stands for
    "server_error_plain": "503",
    "reset_before": "connection_error",
    "reset_after": "connection_error",
}
REASON = {
    "rate_limited": "rate_limited",
    "overloaded": "overloaded",
    "stream_error": "overloaded",
    "server_error_plain": "server_error",
    "reset_before": "connection_error",
    "reset_after": "connection_error",
}


def find_prometheus() -> str:
    found = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)
    if found is None:
        reason = "the prometheus binary is not installed (apt-get install prometheus)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason}, and CI must run this test")
        pytest.skip(reason)
    return found


def wait_for(what: str, check: Callable[[], Any], timeout: float, proc: subprocess.Popen[bytes] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Everything started here is stopped, whatever the test did."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            stop(proc)


class PromAPI:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}" if params else f"{self.base}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.base}/-/ready", timeout=2) as response:
            return bool(response.status == 200)

    def scalar(self, query: str) -> float:
        """An instant query's single value; an empty result (no series) is 0."""
        result = self.get("/api/v1/query", query=query)["result"]
        assert len(result) <= 1, (query, result)
        return float(result[0]["value"][1]) if result else 0.0


def test_promql_counts_what_the_simulator_served(tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    binary = find_prometheus()
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), str(tmp_path), str(CALLS), str(SEED)], stdout=log, stderr=subprocess.STDOUT
        )
    processes.append(worker)
    ready = wait_for("the worker's metrics port", lambda: _read(tmp_path / "ready.json"), 20, worker)

    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: axio\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{ready['metrics_port']}']\n"
    )
    with (tmp_path / "prometheus.log").open("wb") as prom_log:
        prometheus = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=prom_log,
            stderr=subprocess.STDOUT,
        )
    processes.append(prometheus)
    api = PromAPI(port)
    try:
        wait_for("prometheus to be ready", api.ready, 20, prometheus)
        counts = wait_for("the worker's calls", lambda: _read(tmp_path / "counts.json"), 30, worker)
        # A scrape that began after the last call ended sees the final values.
        wait_for(
            "a scrape after the work finished",
            lambda: api.scalar('timestamp(up{job="axio"} == 1)') > counts["finished_at"],
            15,
            prometheus,
        )
        check(api, counts)
    except BaseException:
        for name in ("worker.log", "prometheus.log"):
            sys.stderr.write(f"--- {name}\n{(tmp_path / name).read_text(errors='replace')[-4000:]}\n")
        raise


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def check(api: PromAPI, counts: dict[str, Any]) -> None:
    by_fault: dict[str, int] = counts["by_fault"]
    retried: dict[str, int] = counts["retried"]
    # The seed gives a run that exercises retries, terminal failures and several fault kinds.
    assert counts["error"] > 0 and sum(retried.values()) > 0 and len(by_fault) >= 4, counts
    assert counts["raised"] == counts["error"] and counts["ok"] + counts["error"] == CALLS

    assert api.scalar("sum(axio_anthropic_attempts_total)") == counts["served"]
    expected_status: dict[str, int] = {}
    for kind, n in by_fault.items():
        expected_status[STATUS[kind]] = expected_status.get(STATUS[kind], 0) + n
    for status, n in expected_status.items():
        assert api.scalar(f'sum(axio_anthropic_attempts_total{{status="{status}"}})') == n, status
    expected_reason: dict[str, int] = {}
    for kind, n in retried.items():
        expected_reason[REASON[kind]] = expected_reason.get(REASON[kind], 0) + n
    for reason in set(REASON.values()):
        query = f'sum(axio_anthropic_retries_total{{reason="{reason}"}})'
        assert api.scalar(query) == expected_reason.get(reason, 0), reason
    assert api.scalar('sum(axio_anthropic_retries_total{reason="rate_limited"})') == by_fault["rate_limited"]
    assert api.scalar('sum(axio_anthropic_requests_total{outcome="ok"})') == counts["ok"]
    assert api.scalar('sum(axio_anthropic_requests_total{outcome="error"})') == counts["error"]
    assert api.scalar("sum(axio_anthropic_errors_total)") == counts["error"]
    assert api.scalar("sum(axio_anthropic_request_duration_seconds_count)") == CALLS
    assert api.scalar('sum(axio_anthropic_tokens_total{type="output"})') == counts["output_tokens"]
    assert api.scalar("sum(axio_anthropic_in_flight_requests)") == 0
    assert api.scalar('axio_anthropic_ratelimit_limit{resource="requests"}') == 4000
    assert api.scalar("sum(axio_anthropic_backoff_seconds_total)") > 0
    p50 = api.scalar("histogram_quantile(0.5, sum by (le) (axio_anthropic_request_duration_seconds_bucket))")
    assert 0 < p50 < 60

    # Exemplars came through the OpenMetrics scrape and point at the worker's traces.
    now = time.time()
    exemplars = api.get(
        "/api/v1/query_exemplars",
        query="axio_anthropic_request_duration_seconds_bucket",
        start=str(now - 600),
        end=str(now + 60),
    )
    seen = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
    assert seen and seen <= set(counts["trace_ids"]), (seen, exemplars)
