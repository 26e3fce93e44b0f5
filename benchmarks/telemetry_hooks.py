"""CPU per request of the telemetry hooks alone: no network, no decoding.

Drives one request's lifecycle (start, attempt, first token, ten chunks, attempt end,
finish) through ``TelemetryConfig`` with an SDK tracer (batch or simple span processor, to
an exporter that drops), a fresh Prometheus registry and ``telemetry.setup()``'s JSON logs to
``/dev/null``. Prints the median of 7 rounds of 3,000 requests, per sink combination::

    .venv/bin/python benchmarks/telemetry_hooks.py
    .venv/bin/python benchmarks/telemetry_hooks.py --processor simple --sinks traces+logs
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from axio.events import TextDelta
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import telemetry
from axio_transport_anthropic.models import ANTHROPIC_MODELS
from axio_transport_anthropic.telemetry import AttemptReport, RequestInfo, ResponseReport, TelemetryConfig
from axio_transport_anthropic.usage import TokenCounts

COMBINATIONS = ("traces", "metrics", "logs", "traces+logs", "traces+metrics+logs")


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _request(config: TelemetryConfig, info: RequestInfo, headers: dict[str, str], events: list[Any]) -> None:
    observer = config.start(info)
    observer.attempt_started(1, {})
    observer.first_token(events)
    for _ in range(10):
        observer.chunk(events)
    observer.attempt_ended(AttemptReport(1, 200, "req_1", headers))
    counts = TokenCounts(uncached_input=10, output=100)
    observer.finished("ok", ResponseReport("msg_1", info.model.id, "end_turn", counts, 1), None)


def measure(sinks: str, provider: TracerProvider, rounds: int = 7, per_round: int = 3000) -> float:
    """Median µs of CPU per request."""
    config = TelemetryConfig(
        tracer_provider=provider,
        registry=CollectorRegistry(),
        traces="traces" in sinks,
        metrics="metrics" in sinks,
        logs="logs" in sinks,
    )
    model = ANTHROPIC_MODELS["claude-sonnet-4-6"]
    info = RequestInfo(
        model=model, url="http://127.0.0.1:1/v1/messages", server_address="127.0.0.1", server_port=1, max_tokens=1024
    )
    headers = {"request-id": "req_1", "anthropic-ratelimit-requests-limit": "50"}
    events: list[Any] = [TextDelta(0, "hi")]
    for _ in range(per_round):
        _request(config, info, headers, events)
    results = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(per_round):
            _request(config, info, headers, events)
        results.append((time.process_time() - started) / per_round * 1e6)
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    parser.add_argument("--sinks", default=None, help=f"one of {', '.join(COMBINATIONS)} (default: each in turn)")
    parser.add_argument("--row", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sinks is None:
        # Each combination in a fresh process: in one process, later ones run warmer than earlier.
        print(f"| sinks ({args.processor} span processor) | µs per request |\n|---|---:|", flush=True)
        for sinks in COMBINATIONS:
            argv = [sys.executable, __file__, "--processor", args.processor, "--sinks", sinks, "--row"]
            subprocess.run(argv, check=True)
        return
    provider = TracerProvider()
    processor = BatchSpanProcessor(_Drop()) if args.processor == "batch" else SimpleSpanProcessor(_Drop())
    provider.add_span_processor(processor)
    with open(os.devnull, "w") as devnull:
        handle = telemetry.setup(
            metrics_port=None,
            registry=CollectorRegistry(),
            log_format="json",
            log_level=logging.INFO,
            log_stream=devnull,
        )
        try:
            if not args.row:
                print(f"| sinks ({args.processor} span processor) | µs per request |\n|---|---:|")
            print(f"| {args.sinks} | {measure(args.sinks, provider):.1f} |", flush=True)
        finally:
            handle.shutdown()
            provider.shutdown()


if __name__ == "__main__":
    main()
