"""``axio-anthropic load``'s summary and progress: quantiles from the measured values, a fixed
order, one number format, the run's own rate, and progress lines when stderr is not a terminal."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter
from rich.console import Console

from axio_transport_anthropic.cli import main
from axio_transport_anthropic.load import LoadConfig, run_load
from axio_transport_anthropic.load.observer import LiveStats, StartInfo
from axio_transport_anthropic.load.progress import LiveProgress
from axio_transport_anthropic.load.summary import LiveTotals, RunContext, RunCounts, read_summary
from axio_transport_anthropic.load.table import summary_table
from axio_transport_anthropic.simulator import Fault, Simulator

pytestmark = pytest.mark.timeout(60)

#: A whole number of four digits or more written without a thousands separator.
BARE_THOUSANDS = re.compile(r"(?<![\d.,$])\d{4,}(?!\d)")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["load", *args], env={"ANTHROPIC_API_KEY": ""})


# ── quantiles ────────────────────────────────────────────────────────────────────────────────


async def test_quantiles_are_the_measured_values_not_bucket_guesses() -> None:
    summary = await run_load(LoadConfig(requests=1, concurrency=1))
    for latency in (summary.duration, summary.ttft):
        # Two requests: their median is their mean. Interpolating in a 0-50 ms bucket says 25 ms.
        assert latency.count == 2
        assert latency.mean is not None and latency.p50 == pytest.approx(latency.mean, rel=1e-9)


async def test_time_to_first_token_never_outruns_the_duration() -> None:
    # Every first token lands in TTFT's (25, 50] ms bucket and every duration in (0, 50] ms: bucket
    # interpolation puts the TTFT p99 (49.75 ms) above the duration p99 (49.5 ms).
    summary = await run_load(LoadConfig(requests=10, concurrency=1, first_byte_delay=0.03))
    duration, ttft = summary.duration, summary.ttft
    assert duration.p99 is not None and ttft.p99 is not None
    assert ttft.p50 <= duration.p50 and ttft.p95 <= duration.p95 and ttft.p99 <= duration.p99  # type: ignore[operator]
    assert ttft.p50 >= 0.03  # type: ignore[operator]


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), min_size=1, max_size=300))
def test_every_ttft_quantile_is_at_most_the_duration_quantile(pairs: list[tuple[float, float]]) -> None:
    from axio_transport_anthropic.load.latency import Latencies

    latencies = Latencies(capacity=50, seed=1)
    for first, rest in pairs:
        latencies.record(first + rest, first)
    duration, ttft = latencies.summaries()
    assert duration.count == ttft.count == len(pairs)
    for q in ("p50", "p95", "p99"):
        assert getattr(ttft, q) <= getattr(duration, q)


def test_a_bounded_sample_keeps_count_and_mean_exact() -> None:
    from axio_transport_anthropic.load.latency import Latencies

    latencies = Latencies(capacity=100, seed=1)
    for index in range(10_000):
        latencies.record(index / 1000, index / 2000)
    duration, _ = latencies.summaries()
    assert duration.count == 10_000 and duration.mean == pytest.approx(4.9995)
    assert latencies.sampled
    assert duration.p50 == pytest.approx(5.0, abs=1.0)  # a uniform sample of 100 lands near the middle


# ── order and format ─────────────────────────────────────────────────────────────────────────


async def test_attempts_are_listed_200_first_then_by_code_then_by_name() -> None:
    async with Simulator() as sim:
        sim.inject(Fault.reset(), Fault.overloaded(), Fault.rate_limited(retry_after=0.01), Fault.server_error(503))
        summary = await run_load(LoadConfig(base_url=sim.base_url, api_key="k", requests=2, concurrency=1))
    assert list(summary.attempts) == ["200", "429", "503", "529", "connection_error"]
    assert list(summary.to_json()["attempts"]["by_status"]) == ["200", "429", "503", "529", "connection_error"]
    text = _render(summary_table(summary))
    positions = [text.index(f"{label} ") for label in ("200", "429", "503", "529", "connection_error")]
    assert positions == sorted(positions)


def _render(table: object) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(table)
    return buffer.getvalue()


def test_every_count_has_thousands_separators() -> None:
    registry = CollectorRegistry()
    requests = Counter("axio_anthropic_requests", "r", ("model", "outcome"), registry=registry)
    requests.labels("m", "ok").inc(3326)
    Counter("axio_anthropic_cache_hits", "h", ("model",), registry=registry).labels("m").inc(3325)
    Counter("axio_anthropic_cache_misses", "m", ("model",), registry=registry).labels("m").inc(1001)
    attempts = Counter("axio_anthropic_attempts", "a", ("model", "status"), registry=registry)
    attempts.labels("m", "200").inc(3326)
    context = RunContext("http://x/v1", True, "m", "none", 2, 12.5, False, RunCounts(1663, 1663, 0, 0))
    text = _render(summary_table(read_summary(registry, context)))
    assert BARE_THOUSANDS.findall(text) == [], text
    assert "3,326" in text and "3,325 hits" in text and "1,001 misses" in text


def _drawn(info: StartInfo, *ticks: LiveStats) -> str:
    """All that a live progress bar on a 200-column terminal draws for a run's start and these ticks."""
    buffer = io.StringIO()
    progress = LiveProgress(Console(file=buffer, force_terminal=True, width=200))
    with progress:
        progress.start(info)
        for stats in ticks:
            progress.update(stats)
    return buffer.getvalue()


def test_the_progress_bar_separates_thousands_too() -> None:
    text = _drawn(
        StartInfo("http://x/v1", True, "m", "none", 2, 10_000, None, None, None),
        LiveStats(5.0, RunCounts(1300, 1234, 0, 0), LiveTotals(2468, 123_456, 1200, 1100)),
    )
    assert "1,234/10,000 runs" in text and "retries 1,200" in text and "errors 1,100" in text


# ── the rate at the end ──────────────────────────────────────────────────────────────────────


def test_the_last_frame_shows_the_rate_of_the_whole_run() -> None:
    drawn = _drawn(
        StartInfo("http://x/v1", True, "m", "none", 2, 100, None, None, None),
        LiveStats(9.0, RunCounts(50, 50, 0, 0), LiveTotals(100, 10_000, 0, 0)),
        # The last requests trickle in: over the last second, 1 request/s; over the run, 10.1.
        LiveStats(10.0, RunCounts(51, 51, 0, 0), LiveTotals(101, 10_100, 0, 0), final=True),
    )
    last = drawn.rsplit("\r", 1)[-1]
    assert "10.1 req/s" in last and "1,010.0 tok/s" in last, last


async def test_the_runs_last_tick_is_marked_final() -> None:
    ticks: list[LiveStats] = []

    class Ticks:
        def started(self, info: StartInfo) -> None: ...

        def tick(self, stats: LiveStats) -> None:
            ticks.append(stats)

        def finished(self, summary: object) -> None: ...

        def lingering(self, seconds: float, metrics_url: str) -> None: ...

        def exported(self, reports: object) -> None: ...

    await run_load(LoadConfig(requests=2, concurrency=1), observer=Ticks())
    assert ticks[-1].final and not any(tick.final for tick in ticks[:-1])


# ── progress off a terminal ──────────────────────────────────────────────────────────────────


@pytest.mark.skipif(sys.platform == "win32", reason="pipes and signals")
def test_progress_lines_while_the_run_goes_when_stderr_is_not_a_terminal() -> None:
    code = "from axio_transport_anthropic.cli import main; main()"
    args = ["load", "-d", "4", "-c", "2", "--token-delay", "0.002", "--progress-interval", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ANTHROPIC_API_KEY": ""},
    )
    watchdog = threading.Timer(50, proc.kill)
    watchdog.start()
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        running = proc.poll() is None
        rest = proc.stderr.read()
        proc.wait(timeout=30)
    finally:
        watchdog.cancel()
        proc.kill()
    assert first.startswith("progress: "), first + rest
    assert running, "the first progress line came while the run was under way"
    lines = [first, *[line for line in rest.splitlines() if line.startswith("progress: ")]]
    assert len(lines) >= 3, rest
    assert re.search(r"progress: \d+ s, [\d,]+ runs, [\d,.]+ req/s", first), first
    assert "\x1b[" not in first + rest  # no terminal control codes


def test_no_progress_lines_when_quiet() -> None:
    result = invoke("-n", "2", "-q", "--progress-interval", "0.05")
    assert result.exit_code == 0, result.output
    assert "progress:" not in result.stderr


# ── options checked before the run ───────────────────────────────────────────────────────────


def test_metrics_addr_alone_serves_on_the_default_port() -> None:
    result = invoke("-n", "1", "-q", "--metrics-addr", "127.0.0.1")
    # 9464 may be taken by another program here: then the error names it. Either way, not silence.
    served = "metrics: http://127.0.0.1:9464/metrics" in result.stdout
    assert served or "cannot serve /metrics on port 9464" in result.output, result.output


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc refuses new files")
@pytest.mark.parametrize("path", ["/proc/summary.json", "/tmp"])
def test_json_path_that_cannot_be_written_is_refused_before_the_run(path: str) -> None:
    started = time.perf_counter()
    result = invoke("-n", "50", "--json", path, "-q")
    assert result.exit_code == 2, result.output
    assert "--json" in result.output and "target:" not in result.output
    assert time.perf_counter() - started < 5


def test_load_logs_json_lines() -> None:
    import json

    result = invoke("-n", "1", "-q", "--log-format", "json", "--log-level", "info")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(event.get("event") == "anthropic.request.end" for event in events), result.stderr
