"""The demo ``make demo`` runs: an axio agent with a tool, streaming to the terminal.

Against the built-in simulator by default; against the real API when ``ANTHROPIC_API_KEY`` is set.
Telemetry comes from ``telemetry.setup()``: ``/metrics`` served while it runs, traces exported when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (with the ``[otel]`` extra), warnings and errors logged to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from axio import Agent
from axio.context import MemoryContextStore
from axio.events import Error, SessionEndEvent, TextDelta, ToolResult, ToolUseStart
from axio.tool import Tool

from .simulator import Simulator
from .telemetry import TelemetryConfig
from .telemetry.setup import DEFAULT_METRICS_PORT, TelemetryHandle, current, setup
from .transport import AnthropicTransport

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

QUESTION = "What time is it in UTC right now, and what is 17 * 23? Use the tools."


async def utc_now() -> str:
    """The current date and time in UTC, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


async def multiply(a: int, b: int) -> str:
    """Multiply two integers."""
    return str(a * b)


@asynccontextmanager
async def _endpoint(real: bool) -> AsyncIterator[tuple[str | None, str]]:
    if real:
        yield None, "the Anthropic API"
        return
    async with Simulator() as sim:
        yield sim.base_url, f"the built-in simulator at {sim.base_url}"


@asynccontextmanager
async def _telemetry(out: TextIO) -> AsyncIterator[TelemetryHandle | None]:
    """``setup()`` for the run, or the one the host already made (left running)."""
    if (existing := current()) is not None:
        yield existing
        return

    def start(port: int) -> TelemetryHandle:
        # WARNING on stderr: retries and failures show, the streamed answer on stdout stays clean.
        return setup(metrics_port=port, log_format="console", log_level=logging.WARNING)

    try:
        try:
            handle = start(DEFAULT_METRICS_PORT)
        except OSError:
            handle = start(0)
    except ImportError as exc:  # OTLP export asked for without the [otel] extra
        print(f"[telemetry off: {exc}]", file=out)
        yield None
        return
    try:
        yield handle
    finally:
        # In a thread: a collector that is down must not stall the loop.
        await handle.ashutdown()


def _totals(registry: CollectorRegistry) -> dict[str, float]:
    """Counter totals by family (``axio_anthropic_requests`` -> all its ``_total`` samples)."""
    totals: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                totals[family.name] = totals.get(family.name, 0.0) + sample.value
    return totals


def _report(handle: TelemetryHandle | None, out: TextIO) -> None:
    if handle is None:
        return
    if handle.metrics_url:
        totals = _totals(handle.registry)
        print(
            f"[metrics: {totals.get('axio_anthropic_requests', 0):.0f} requests, "
            f"{totals.get('axio_anthropic_tokens', 0):.0f} tokens, ${totals.get('axio_anthropic_cost_usd', 0):.4f}; "
            f"Prometheus scrapes them at {handle.metrics_url} while the program runs]",
            file=out,
        )
    if handle.otlp_endpoint:
        print(f"[traces: exported over OTLP to {handle.otlp_endpoint}]", file=out)
    elif not handle.sdk_installed:
        print(
            "[traces: off, the OpenTelemetry SDK is not installed: pip install 'axio-transport-anthropic[otel]' "
            "and set OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 to send them to Jaeger or any OTLP collector]",
            file=out,
        )
    else:
        print(
            "[traces: set OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 to send them to Jaeger or any "
            "OTLP collector]",
            file=out,
        )


async def run_demo(question: str = QUESTION, *, out: TextIO = sys.stdout) -> int:
    """Run one agent session; returns a process exit code."""
    async with _telemetry(out) as handle:
        telemetry = handle.telemetry_config() if handle is not None else TelemetryConfig()
        code = await _run(question, out, telemetry)
        _report(handle, out)
        return code


async def _run(question: str, out: TextIO, telemetry: TelemetryConfig) -> int:
    real = bool(os.environ.get("ANTHROPIC_API_KEY"))
    async with _endpoint(real) as (base_url, where):
        overrides = {"base_url": base_url, "api_key": "sk-simulator"} if base_url else {}
        async with AnthropicTransport(
            max_retries=3,
            retry_base_delay=0.5,
            telemetry=telemetry,
            **overrides,  # type: ignore[arg-type]
        ) as transport:
            agent = Agent(
                system="You are a concise assistant. Use the tools when they help.",
                transport=transport,
                tools=[Tool(name="utc_now", handler=utc_now), Tool(name="multiply", handler=multiply)],
                max_iterations=6,
            )
            print(f"axio agent on {transport.model.id} via {where}", file=out)
            print(f"> {question}\n", file=out)
            code = 0
            async for event in agent.run_stream(question, MemoryContextStore()):
                match event:
                    case TextDelta(delta=delta):
                        out.write(delta)
                        out.flush()
                    case ToolUseStart(name=name):
                        print(f"\n[calling {name}]", file=out)
                    case ToolResult(name=name, content=content, is_error=is_error):
                        print(f"[{name} -> {'error: ' if is_error else ''}{content}]", file=out)
                    case Error(exception=exc):
                        print(f"\nerror: {exc}", file=out)
                        code = 1
                    case SessionEndEvent(stop_reason=reason, total_usage=usage):
                        print(
                            f"\n\n[done: {reason}; {usage.input_tokens} input tokens "
                            f"({usage.cache_read_tokens} cached), {usage.output_tokens} output]",
                            file=out,
                        )
            return code
