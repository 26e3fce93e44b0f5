"""What telemetry costs: one 1,000-delta answer streamed from the in-process simulator, off vs on.

Run: .venv/bin/python benchmarks/telemetry.py  (CPU time, best of several rounds, same process)

"off" is ``telemetry=None``; "on" is an SDK tracer provider (in-memory exporter), an SDK meter
provider (in-memory reader), a fresh Prometheus registry and logs at INFO into a null handler.
The simulator serves from the same event loop, so its CPU is in both columns: the percentages
understate the overhead relative to the client alone.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Final

import aiohttp
from axio.blocks import TextBlock
from axio.events import TextDelta
from axio.messages import Message
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import Reply, Simulator
from axio_transport_anthropic.telemetry import TelemetryConfig
from axio_transport_anthropic.telemetry.logs import LOGGER_NAME

DELTAS: Final = 1000
#: The simulator sends two words per text delta.
WORDS: Final = 2 * DELTAS
STREAMS_PER_ROUND: Final = 5
ROUNDS: Final = 20
KEY: Final = "sk-ant-bench"
MESSAGES: Final = [Message(role="user", content=[TextBlock(text="Tell me a long story.")])]
VARIANTS: Final = ("off", "traces", "metrics", "logs", "all")


def _config(name: str, spans: InMemorySpanExporter) -> TelemetryConfig | None:
    if name == "off":
        return None
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    return TelemetryConfig(
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
        registry=CollectorRegistry(),
        traces=name in ("traces", "all"),
        metrics=name in ("metrics", "all"),
        logs=name in ("logs", "all"),
    )


async def _stream(transport: AnthropicTransport) -> int:
    deltas = 0
    async for event in transport.stream(MESSAGES, [], ""):
        if type(event) is TextDelta:
            deltas += 1
    return deltas


async def _best(transports: dict[str, AnthropicTransport]) -> dict[str, float]:
    best = dict.fromkeys(transports, float("inf"))
    for _ in range(ROUNDS):
        # Interleaved, so drift (thermal, other load) hits every variant alike.
        for name, transport in transports.items():
            gc.collect()
            start = time.process_time()
            for _ in range(STREAMS_PER_ROUND):
                await _stream(transport)
            best[name] = min(best[name], (time.process_time() - start) / STREAMS_PER_ROUND)
    return best


async def _run() -> dict[str, float]:
    spans = InMemorySpanExporter()
    answers = len(VARIANTS) * (1 + ROUNDS * STREAMS_PER_ROUND)
    # Limits out of reach: a 429 and its retry would land in some rounds and not others.
    unlimited = dict.fromkeys(("requests", "tokens", "input_tokens", "output_tokens"), 10**12)
    # A token delay, however small, makes each delta its own network read, as on the real API:
    # without it the whole answer arrives in one read and per-chunk telemetry is never exercised.
    simulator = Simulator(api_key=KEY, rate_limits=unlimited, token_delay=1e-6)
    simulator.enqueue(*[Reply.text(" ".join(f"word{i}" for i in range(WORDS)))] * answers)
    async with simulator as sim, aiohttp.ClientSession() as session:
        url = sim.base_url
        transports = {
            name: AnthropicTransport(api_key=KEY, base_url=url, session=session, telemetry=_config(name, spans))
            for name in VARIANTS
        }
        for transport in transports.values():
            deltas = await _stream(transport)  # warm-up, and the check
            assert deltas == DELTAS, f"expected {DELTAS} text deltas, got {deltas}"
        best = await _best(transports)
        assert len(sim.requests) == answers and all(r.fault is None for r in sim.requests), "one attempt each"
    assert spans.get_finished_spans(), "the tracer recorded nothing"
    return best


def main() -> None:
    stdlib = logging.getLogger(LOGGER_NAME)
    stdlib.addHandler(logging.NullHandler())
    stdlib.setLevel(logging.INFO)
    stdlib.propagate = False
    best = asyncio.run(_run())
    off = best["off"]
    print(f"{DELTAS:,} text deltas per answer; CPU ms per answer, best of {ROUNDS} rounds of {STREAMS_PER_ROUND}\n")
    print("| telemetry | off ms | on ms | overhead % |")
    print("|---|---:|---:|---:|")
    for name in VARIANTS[1:]:
        print(f"| {name} | {off * 1000:.2f} | {best[name] * 1000:.2f} | {(best[name] / off - 1) * 100:+.1f} |")


if __name__ == "__main__":
    main()
