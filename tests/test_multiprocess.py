"""Prometheus multiprocess mode: worker processes write their metrics to files, one collector adds them up."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from axio_transport_anthropic.simulator import Fault, Simulator

WORKER = Path(__file__).parent / "scripts" / "multiprocess_worker.py"
WORKERS = 3
REQUESTS = 4
MODEL = "claude-sonnet-4-6"


async def run_workers(base_url: str, metrics_dir: Path, out_dir: Path) -> list[dict[str, int]]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    outs = [out_dir / f"worker{i}.json" for i in range(WORKERS)]
    procs = [
        # Asynchronous, so this event loop keeps serving the simulator while the workers run.
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            base_url,
            str(REQUESTS),
            str(out),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for out in outs
    ]
    try:
        results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 60)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    for proc, (output, _) in zip(procs, results, strict=True):
        assert proc.returncode == 0, output.decode()
    return [json.loads(out.read_text()) for out in outs]


async def test_workers_add_up_in_the_multiprocess_collector(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    async with Simulator() as sim:
        # Whichever workers draw them, each fault is one more attempt and one retry.
        sim.inject(Fault.rate_limited(retry_after=0.01), Fault.overloaded(), Fault.rate_limited(retry_after=0.01))
        workers = await run_workers(sim.base_url, metrics_dir, tmp_path)
        served = len(sim.requests)

    # One file per process: the totals below are sums across them.
    assert len(list(metrics_dir.glob("counter_*.db"))) == WORKERS
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"model": MODEL, "provider": "anthropic", **labels})

    calls = WORKERS * REQUESTS
    assert len({w["pid"] for w in workers}) == WORKERS
    assert value("axio_anthropic_requests_total", outcome="ok") == sum(w["ok"] for w in workers) == calls
    assert value("axio_anthropic_attempts_total", status="200") == calls
    assert value("axio_anthropic_attempts_total", status="429") == 2
    assert value("axio_anthropic_attempts_total", status="529") == 1
    assert served == calls + 3
    assert value("axio_anthropic_retries_total", reason="rate_limited") == 2
    assert value("axio_anthropic_retries_total", reason="overloaded") == 1
    # Pre-created at 0 in each worker's file: a reason or type nothing hit reads 0, not absent.
    assert value("axio_anthropic_retries_total", reason="timeout") == 0
    assert value("axio_anthropic_backoff_seconds_total", reason="conflict") == 0
    assert value("axio_anthropic_errors_total", type="overloaded_error") == 0
    assert value("axio_anthropic_tokens_total", type="output") == sum(w["output_tokens"] for w in workers)
    assert value("axio_anthropic_request_duration_seconds_count") == calls
    assert value("axio_anthropic_cache_hits_total") == 0  # prompts too short to be cached
    assert value("axio_anthropic_cache_misses_total") == calls
    # mostrecent: one series for the organisation's limit, not one per process.
    limits = [
        s
        for family in registry.collect()
        if family.name == "axio_anthropic_ratelimit_limit"
        for s in family.samples
        if s.labels.get("resource") == "requests"
    ]
    assert len(limits) == 1 and limits[0].value == 4000 and "pid" not in limits[0].labels
    # livesum: every worker decremented what it incremented; once marked dead, its files go.
    assert value("axio_anthropic_in_flight_requests") == 0
    for worker in workers:
        mark_process_dead(worker["pid"], str(metrics_dir))  # type: ignore[no-untyped-call]
    assert not list(metrics_dir.glob("gauge_livesum_*.db"))
    assert list(metrics_dir.glob("gauge_mostrecent_*.db"))
