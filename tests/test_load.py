"""`axio-anthropic load`: bounded runs, the summary against the registry and the simulator, the CLI."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from prometheus_client import CollectorRegistry, Histogram
from rich.console import Console

from axio_transport_anthropic.cli import main
from axio_transport_anthropic.load import LoadConfig, LoadError, Summary, histogram_quantile, run_load
from axio_transport_anthropic.load.latency import Latencies
from axio_transport_anthropic.load.observer import LiveStats, StartInfo
from axio_transport_anthropic.load.progress import LiveProgress
from axio_transport_anthropic.load.quantile import merge_buckets
from axio_transport_anthropic.load.runner import Budget, Tally, drive
from axio_transport_anthropic.load.summary import LiveTotals, RunContext, RunCounts, read_summary
from axio_transport_anthropic.load.table import summary_table
from axio_transport_anthropic.simulator import Fault, Simulator
from axio_transport_anthropic.telemetry.setup import ExportReport

from .otel_globals import shutdown_threads
from .support import wait_for_line

INF = float("inf")

#: The top-level keys of the ``--json`` document (documented in the README).
JSON_KEYS = {
    "provider",
    "target",
    "simulator",
    "model",
    "profile",
    "concurrency",
    "interrupted",
    "wall_seconds",
    "metrics_url",
    "runs",
    "requests",
    "attempts",
    "retries",
    "errors",
    "tokens",
    "cache",
    "cost_usd",
    "stop_reasons",
    "request_duration_seconds",
    "time_to_first_token_seconds",
    "exports",
}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["load", *args], env=env)


def messages_served(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.path == "/v1/messages")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# ── percentiles ──────────────────────────────────────────────────────────────────────────────


def test_quantile_interpolates_within_the_bucket_like_prometheus() -> None:
    buckets = {0.1: 10.0, 0.5: 30.0, 1.0: 40.0, INF: 40.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.3)  # rank 20: halfway through (0.1, 0.5]
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.9)  # rank 38: 8 of 10 into (0.5, 1]
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.1)  # rank 10: the top of the first bucket
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.04)  # the first bucket starts at 0


def test_quantile_edge_cases() -> None:
    # A rank in +Inf gives the highest finite bound, as Prometheus does.
    assert histogram_quantile(0.99, {0.1: 1.0, 1.0: 1.0, INF: 2.0}) == 1.0
    assert histogram_quantile(0.5, {0.1: 0.0, INF: 0.0}) is None
    # Empty buckets are skipped, q=0 is the lower edge of the first one holding anything.
    assert histogram_quantile(0.0, {0.1: 0.0, 0.2: 4.0, INF: 4.0}) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        histogram_quantile(1.5, {INF: 1.0})
    with pytest.raises(ValueError, match=r"\+Inf"):
        histogram_quantile(0.5, {1.0: 1.0})


def test_merge_buckets_adds_label_sets_by_bound() -> None:
    assert merge_buckets([{0.1: 1.0, INF: 2.0}, {0.1: 3.0, INF: 3.0}]) == {0.1: 4.0, INF: 5.0}


def test_summary_counts_from_the_registry_and_latencies_as_measured() -> None:
    registry = CollectorRegistry()
    # Histograms are not where the quantiles come from: their buckets cannot say.
    hist = Histogram(
        "axio_anthropic_request_duration_seconds", "d", ("model",), buckets=(0.1, 0.5, 1.0), registry=registry
    )
    hist.labels("a").observe(0.3)
    latencies = Latencies()
    for duration in (0.01, 0.02, 0.03, 0.04):
        latencies.record(duration, duration / 2)
    context = RunContext("http://x/v1", True, "a", "none", 1, 2.0, False, RunCounts())
    summary = read_summary(registry, context, latencies)
    assert summary.duration.count == 4
    assert summary.duration.p50 == pytest.approx(0.025)
    assert summary.duration.mean == pytest.approx(0.025)
    assert summary.ttft.p99 == pytest.approx(0.01985)  # 97 % of the way from the third value to the fourth
    assert summary.latency_sample is None
    assert summary.requests == {"ok": 0, "error": 0, "cancelled": 0}
    empty = read_summary(registry, context)
    assert empty.duration.count == 0 and empty.duration.p50 is None


# ── run_load against a simulator of the test's own ───────────────────────────────────────────


async def test_summary_equals_what_the_simulator_served() -> None:
    async with Simulator() as sim:
        summary = await run_load(LoadConfig(base_url=sim.base_url, api_key="sk-any", requests=6, concurrency=3))
        served = messages_served(sim)
    runs = summary.context.runs
    assert (runs.started, runs.completed, runs.failed, runs.cancelled) == (6, 6, 0, 0)
    # Each run is one tool loop: the tool call, then the answer.
    assert summary.requests == {"ok": 12, "error": 0, "cancelled": 0}
    assert summary.attempts_total == served == 12
    assert summary.stop_reasons == {"tool_use": 6, "end_turn": 6}
    assert summary.duration.count == summary.ttft.count == 12  # every request succeeded
    assert summary.tokens["output"] > 0
    assert summary.cost_usd > 0
    assert summary.cache_hits + summary.cache_misses == 12
    assert not summary.context.interrupted
    assert summary.context.simulator is False


async def test_retries_by_reason() -> None:
    async with Simulator() as sim:
        sim.inject(Fault.rate_limited(retry_after=0.01), Fault.overloaded(), Fault.server_error(503))
        summary = await run_load(LoadConfig(base_url=sim.base_url, api_key="sk-any", requests=4, concurrency=1))
        served = messages_served(sim)
    assert summary.retries == {"rate_limited": 1, "overloaded": 1, "server_error": 1}
    assert summary.attempts == {"200": 8, "429": 1, "529": 1, "503": 1}
    assert summary.attempts_total == served == 11
    assert summary.requests["ok"] == 8
    assert summary.errors == {}


async def test_failed_requests_are_counted_and_the_run_still_completes() -> None:
    async with Simulator() as sim:
        sim.inject(*[Fault.overloaded()] * 2)
        config = LoadConfig(base_url=sim.base_url, api_key="sk-any", requests=2, concurrency=1, max_retries=1)
        summary = await run_load(config)
    assert summary.requests == {"ok": 2, "error": 1, "cancelled": 0}
    assert summary.errors == {"overloaded_error": 1}
    assert summary.context.runs == RunCounts(started=2, completed=1, failed=1, cancelled=0)


class Recorder:
    """A ``LoadObserver`` that keeps everything and scrapes ``/metrics`` when the run ends."""

    def __init__(self) -> None:
        self.info: StartInfo | None = None
        self.ticks: list[LiveStats] = []
        self.scrape = ""
        self.lingered: tuple[float, str] | None = None

    def started(self, info: StartInfo) -> None:
        self.info = info

    def tick(self, stats: LiveStats) -> None:
        self.ticks.append(stats)

    def finished(self, summary: Summary) -> None:
        assert summary.context.metrics_url is not None
        with urllib.request.urlopen(summary.context.metrics_url, timeout=5) as response:
            self.scrape = response.read().decode()

    def lingering(self, seconds: float, metrics_url: str) -> None:
        self.lingered = (seconds, metrics_url)

    def exported(self, reports: tuple[ExportReport, ...]) -> None:
        pass


def scraped(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + "{"))


async def test_scraped_metrics_agree_with_the_summary() -> None:
    recorder = Recorder()
    config = LoadConfig(requests=5, concurrency=2, metrics_port=0, linger=0.05, token_delay=0.001)
    summary = await run_load(config, observer=recorder)
    assert recorder.info is not None and recorder.info.metrics_url == summary.context.metrics_url
    assert recorder.info.simulator
    assert scraped(recorder.scrape, "axio_anthropic_requests_total") == summary.requests_total == 10
    assert scraped(recorder.scrape, "axio_anthropic_attempts_total") == summary.attempts_total
    assert scraped(recorder.scrape, "axio_anthropic_tokens_total") == summary.tokens_total
    assert recorder.ticks, "the last tick comes even for a short run"
    assert recorder.ticks[-1].runs.completed == 5
    assert recorder.ticks[-1].totals.requests == 10
    assert recorder.lingered == (0.05, summary.context.metrics_url)


async def test_stop_cancels_runs_under_way_and_returns_a_partial_summary() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    started = time.monotonic()
    summary = await run_load(LoadConfig(duration=30, concurrency=4, token_delay=0.05), stop=stop)
    assert time.monotonic() - started < 10
    assert summary.context.interrupted
    assert summary.context.runs.cancelled == 4
    assert summary.requests["cancelled"] == 4


async def test_duration_bounds_the_run() -> None:
    started = time.monotonic()
    summary = await run_load(LoadConfig(duration=0.4, concurrency=3, token_delay=0.005))
    elapsed = time.monotonic() - started
    assert 0.4 <= summary.context.wall_seconds < 5
    assert elapsed < 8
    assert not summary.context.interrupted
    assert summary.context.runs.completed > 0
    assert summary.context.runs.cancelled == 0  # drained, not cut


@pytest.mark.timeout(30)
async def test_telemetry_is_shut_down_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = shutdown_threads(monkeypatch)
    await run_load(LoadConfig(requests=1, concurrency=1))
    assert threads and threading.get_ident() not in threads, "a dead collector would stall the loop"


async def test_run_load_refuses_bad_settings() -> None:
    with pytest.raises(LoadError, match="concurrency"):
        await run_load(LoadConfig(concurrency=0))
    with pytest.raises(LoadError, match="ANTHROPIC_API_KEY"):
        await run_load(LoadConfig(base_url="http://127.0.0.1:9/v1", api_key=""))


# ── the runner on its own ────────────────────────────────────────────────────────────────────


def test_budget_hands_out_exactly_the_runs() -> None:
    budget = Budget(3, None, time.monotonic)
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]
    now = [0.0]
    timed = Budget(None, 1.0, lambda: now[0])
    assert timed.take()
    now[0] = 1.0
    assert not timed.take()


async def test_drive_counts_exceptions_as_failed_runs() -> None:
    calls = 0

    async def run_once(worker: int) -> bool:
        nonlocal calls
        calls += 1
        mine = calls
        await asyncio.sleep(0)
        if mine % 3 == 0:
            raise RuntimeError("boom")
        return mine % 3 == 1

    tally = Tally()
    stopped = await drive(run_once, concurrency=2, runs=9, duration=None, drain=1, stop=asyncio.Event(), tally=tally)
    assert not stopped
    assert (tally.started, tally.completed, tally.failed) == (9, 3, 6)


# ── the command ──────────────────────────────────────────────────────────────────────────────


def test_cli_run_prints_target_metrics_line_and_table() -> None:
    result = invoke("-n", "3", "-c", "2", "--metrics-port", "0", "-q")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    metrics = [i for i, line in enumerate(lines) if re.fullmatch(r"metrics: http://127\.0\.0\.1:\d+/metrics", line)]
    table = next(i for i, line in enumerate(lines) if "│ agent runs" in line)
    assert metrics and metrics[0] < table
    assert lines[0].startswith("target: built-in simulator at http://127.0.0.1:")
    assert "completed 3" in result.stdout
    assert "p50" in result.stdout


def test_cli_json_to_stdout_has_the_documented_keys() -> None:
    result = invoke("-n", "2", "--json", "-", "-q")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)  # stdout is the JSON alone
    assert set(data) == JSON_KEYS
    assert data["runs"] == {"started": 2, "completed": 2, "failed": 0, "cancelled": 0}
    assert data["requests"]["total"] == data["requests"]["ok"] == 4
    assert data["attempts"] == {"total": 4, "by_status": {"200": 4}}
    assert set(data["tokens"]["by_type"]) == {"input", "output", "cache_read", "cache_creation"}
    assert set(data["request_duration_seconds"]) == {"count", "mean", "p50", "p95", "p99"}
    assert data["exports"] == []  # nothing exported over OTLP
    assert data["profile"] == "none" and data["simulator"] is True
    assert "agent runs" in result.stderr  # the table moved to stderr


def test_cli_json_to_a_file(tmp_path: Any) -> None:
    path = tmp_path / "summary.json"
    result = invoke("-n", "1", "--json", str(path), "-q")
    assert result.exit_code == 0, result.output
    assert set(json.loads(path.read_text())) == JSON_KEYS


def test_cli_fault_profile_shows_retries_by_reason() -> None:
    result = invoke("--profile", "overloaded", "--seed", "1", "-n", "20", "-c", "4", "--json", "-", "-q")
    assert result.exit_code == 0, result.output  # failed requests do not fail the run
    data = json.loads(result.stdout)
    assert data["retries"]["by_reason"].get("overloaded", 0) > 0
    assert data["retries"]["total"] == sum(data["retries"]["by_reason"].values())
    assert data["attempts"]["total"] == data["requests"]["total"] + data["retries"]["total"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--requests", "-1"], "--requests"),
        (["--duration", "0"], "--duration"),
        (["--profile", "nope"], "--profile"),
        (["--model", "gpt-4o"], "--model"),
        (["--base-url", "ftp://x"], "http://"),
        (["--base-url", "http://127.0.0.1:9/v1", "--profile", "flaky"], "--profile"),
        (["--json", "/no/such/dir/x.json"], "does not exist"),
    ],
)
def test_cli_bad_arguments_are_usage_errors(args: list[str], needle: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_cli_real_url_without_a_key_is_refused() -> None:
    result = invoke("--base-url", "https://api.example.com/v1", env={"ANTHROPIC_API_KEY": ""})
    assert result.exit_code == 1
    assert "ANTHROPIC_API_KEY" in result.output
    assert "Traceback" not in result.output


def test_cli_metrics_port_in_use_is_a_setup_error(busy_port: int) -> None:
    result = invoke("-n", "1", "--metrics-port", str(busy_port))
    assert result.exit_code == 1
    assert f"cannot serve /metrics on port {busy_port}" in result.output
    assert "Traceback" not in result.output


def spawn_load(*args: str) -> subprocess.Popen[str]:
    code = "from axio_transport_anthropic.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "load", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ANTHROPIC_API_KEY": ""},
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_with_a_partial_summary() -> None:
    proc = spawn_load("-d", "60", "-c", "4", "--token-delay", "0.05", "--json", "-")
    try:
        wait_for_line(proc.stderr, "load: ")  # with --json - the header lines are on stderr
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    data = json.loads(out)
    assert data["interrupted"] is True
    assert data["runs"]["started"] >= 4
    assert "interrupted" in err  # the table, on stderr with --json -


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_while_lingering_ends_a_completed_run_with_0() -> None:
    proc = spawn_load("-n", "2", "-q", "--metrics-port", "0", "--linger", "60")
    try:
        url = wait_for_line(proc.stdout, "metrics: ").split()[1]
        wait_for_line(proc.stdout, "lingering ")
        with urllib.request.urlopen(url, timeout=5) as response:
            scrape = response.read().decode()
        assert (
            'axio_anthropic_requests_total{model="claude-sonnet-4-6",outcome="ok",provider="anthropic"} 4.0'
        ) in scrape
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err


# ── rendering ────────────────────────────────────────────────────────────────────────────────


def test_progress_bar_shows_rates_retries_and_errors() -> None:
    buffer = io.StringIO()
    progress = LiveProgress(Console(file=buffer, force_terminal=True, width=150))
    info = StartInfo("http://x/v1", True, "m", "none", 2, 10, None, None, None)
    with progress:
        progress.start(info)
        progress.update(LiveStats(0.5, RunCounts(3, 2, 0, 0), LiveTotals(4, 400, 0, 0)))
        progress.update(LiveStats(1.5, RunCounts(6, 4, 1, 0), LiveTotals(10, 1000, 2, 1)))
    text = buffer.getvalue()
    assert "5/10 runs" in text
    assert "(1 failed)" in text
    assert "6.0 req/s" in text  # (10 - 4) requests over one second
    assert "600.0 tok/s" in text
    assert "retries 2" in text
    assert "errors 1" in text


def test_summary_table_renders_every_section() -> None:
    registry = CollectorRegistry()
    context = RunContext("http://x/v1", True, "m", "flaky", 2, 1.5, True, RunCounts(4, 2, 1, 1))
    buffer = io.StringIO()
    Console(file=buffer, width=160).print(summary_table(read_summary(registry, context)))
    text = buffer.getvalue()
    for label in ("wall time", "interrupted", "agent runs", "requests", "request duration", "time to first token"):
        assert label in text
    for label in ("retries", "errors", "tokens", "cache hit ratio", "cost"):
        assert label in text


def test_the_command_keeps_start_up_objects_out_of_full_gc_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(len(gc.get_objects())))
    monkeypatch.setattr(gc, "unfreeze", lambda: frozen.append(-1))
    result = invoke("-n", "1", "-q")
    assert result.exit_code == 0, result.output
    assert len(frozen) == 2 and frozen[0] > 0 and frozen[1] == -1, "freeze once before the run, undo after"
