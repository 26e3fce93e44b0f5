"""Whole requests through ``AnthropicTransport.stream()`` against the in-process replay.

Variants:

* ``off``: ``telemetry=None``;
* ``defaults``: the default ``TelemetryConfig()`` with nothing configured (no SDK provider set, the
  global Prometheus registry, logging untouched): what most hosts run;
* ``full``: an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` into an exporter that drops,
  Prometheus on a fresh registry, ``telemetry.setup()``'s JSON logs at INFO into ``/dev/null``
  (``benchmarks/telemetry.py``'s "all");
* ``retry``: a 429, then a 200 of 10 text deltas, with the defaults and ``retry_base_delay=0``, so
  the backoff is a zero-second sleep: the retry's own work is counted, not a wait.

Nothing here may run by the wall clock, since under valgrind the clock runs ~50 times slower than
the code: the span processor's export interval is an hour (it exports at exit, after counting), and
the session keeps idle connections for an hour, so aiohttp's cleanup timer never fires mid-count.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

from .replay import Replay
from .streams import http_200, http_429

if TYPE_CHECKING:
    from .workloads import Run, Variant

__all__ = ["ANSWER_DELTAS", "HOUR_MS", "KEY", "RETRY_DELTAS", "full_telemetry", "requesting"]

ANSWER_DELTAS: Final = 1000
RETRY_DELTAS: Final = 10
KEY: Final = "sk-ant-perf-0000"
HOUR_MS: Final = 3_600_000


def full_telemetry(stack: AsyncExitStack) -> Any:
    """The full-telemetry config; what it set up is undone when ``stack`` closes."""
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from prometheus_client import CollectorRegistry

    from axio_transport_anthropic import telemetry

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop(), schedule_delay_millis=HOUR_MS))
    stack.callback(provider.shutdown)
    devnull = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115 - closed by the stack
    handle = telemetry.setup(
        metrics_port=None, registry=CollectorRegistry(), log_format="json", log_level=logging.INFO, log_stream=devnull
    )
    stack.callback(handle.shutdown)
    return telemetry.TelemetryConfig(tracer_provider=provider, registry=CollectorRegistry())


@asynccontextmanager
async def requesting(variant: Variant, size: int) -> AsyncIterator[Run]:
    """The opener of one transport workload (see ``workloads.Workload.open``); ``size`` is unused."""
    import aiohttp
    from axio.blocks import TextBlock
    from axio.events import TextDelta
    from axio.messages import Message

    from axio_transport_anthropic import AnthropicTransport

    deltas = RETRY_DELTAS if variant == "retry" else ANSWER_DELTAS
    answer = http_200("text", deltas)
    responses = [http_429(), answer] if variant == "retry" else [answer]
    async with AsyncExitStack() as stack:
        replay = await stack.enter_async_context(Replay(responses))
        connector = aiohttp.TCPConnector(keepalive_timeout=HOUR_MS / 1000)
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
        settings: dict[str, Any] = {"api_key": KEY, "base_url": replay.base_url, "session": session}
        if variant == "off":
            settings["telemetry"] = None
        elif variant == "full":
            settings["telemetry"] = full_telemetry(stack)
        elif variant == "retry":
            settings["retry_base_delay"] = 0.0
        transport = AnthropicTransport(**settings)
        messages = [Message(role="user", content=[TextBlock(text="Tell me about streaming parsers.")])]
        per_request = len(responses)

        async def run(k: int) -> None:
            for _ in range(k):
                served, seen = replay.served, 0
                async for event in transport.stream(messages, [], ""):
                    if type(event) is TextDelta:
                        seen += 1
                if seen != deltas or replay.served - served != per_request:
                    got = f"{seen} text deltas in {replay.served - served} responses"
                    raise AssertionError(f"{variant}: {got}, expected {deltas} in {per_request}")

        yield run
