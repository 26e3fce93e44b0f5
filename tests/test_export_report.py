"""What happened to the exports is what the demo and ``load`` say, and flushing at exit is bounded:
a collector that refuses connections costs well under a second, one that hangs the time bound."""

from __future__ import annotations

import io
import re
import time

import pytest
from opentelemetry import trace
from prometheus_client import CollectorRegistry

from axio_transport_anthropic.demo import run_demo
from axio_transport_anthropic.telemetry.setup import setup

from .otel_globals import clean_globals, dead_endpoint  # noqa: F401
from .otlp_receiver import OtlpReceiver

pytestmark = [pytest.mark.usefixtures("clean_globals"), pytest.mark.timeout(60)]


def _spans(count: int) -> None:
    for index in range(count):
        with trace.get_tracer("test").start_as_current_span(f"span {index}"):
            pass


async def test_the_demo_with_the_collector_down_is_quick_and_says_the_export_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = dead_endpoint()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    out = io.StringIO()
    started = time.perf_counter()
    assert await run_demo(out=out) == 0, out.getvalue()
    took = time.perf_counter() - started
    text = out.getvalue()
    assert took < 2.5, f"the demo took {took:.1f} s with the collector down"
    assert re.search(
        rf"\[traces: export to {re.escape(endpoint)} failed: [1-9]\d* spans dropped \(connection refused\)\]", text
    ), text
    assert "exported" not in text.replace("not exported", ""), text


async def test_the_demo_counts_the_spans_the_collector_received(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        out = io.StringIO()
        assert await run_demo(out=out) == 0, out.getvalue()
        received, url = len(receiver.spans()), receiver.url
    text = out.getvalue()
    assert received > 0
    assert f"[traces: {received} spans exported to {url}]" in text, text
    assert re.search(rf"\[OTLP metrics: [1-9][\d,]* data points exported to {re.escape(url)}\]", text), text


async def test_shutdown_reports_what_the_collector_accepted() -> None:
    async with OtlpReceiver() as receiver:
        handle = setup(
            otlp_endpoint=receiver.url, metrics_port=None, registry=CollectorRegistry(), log_stream=io.StringIO()
        )
        _spans(3)
        reports = await handle.ashutdown()
        assert len(receiver.spans()) == 3
        url = receiver.url
    traces = next(report for report in reports if report.signal == "traces")
    assert (traces.exported, traces.dropped, traces.reason) == (3, 0, None)
    assert traces.ok and traces.describe() == f"3 spans exported to {url}"


def test_a_refused_export_ends_the_flush_at_once_and_is_reported() -> None:
    endpoint = dead_endpoint()
    handle = setup(otlp_endpoint=endpoint, metrics_port=None, registry=CollectorRegistry(), log_stream=io.StringIO())
    _spans(2)
    started = time.perf_counter()
    reports = handle.shutdown(timeout=5.0)
    took = time.perf_counter() - started
    assert took < 1.0, f"shutdown waited {took:.2f} s on a collector that refuses connections"
    traces = next(report for report in reports if report.signal == "traces")
    assert (traces.exported, traces.dropped, traces.reason) == (0, 2, "connection refused")
    assert not traces.ok
    assert traces.describe() == f"export to {endpoint} failed: 2 spans dropped (connection refused)"


def test_a_hung_collector_is_bounded_and_reported(hung_endpoint: str) -> None:
    handle = setup(
        otlp_endpoint=hung_endpoint, metrics_port=None, registry=CollectorRegistry(), log_stream=io.StringIO()
    )
    _spans(1)
    started = time.perf_counter()
    reports = handle.shutdown(timeout=1.0)
    took = time.perf_counter() - started
    assert took < 2.0, f"shutdown took {took:.2f} s"
    traces = next(report for report in reports if report.signal == "traces")
    assert traces.exported == 0 and traces.dropped == 1
    assert traces.reason == "no answer within 1.0 s"
