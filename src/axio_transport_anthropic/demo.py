"""The demo ``make demo`` runs: an axio agent with two tools, streaming to the terminal.

Against the built-in simulator by default, on the route of the chosen provider (Anthropic's API,
Vertex AI or Bedrock); with ``ANTHROPIC_API_KEY`` set, against ``ANTHROPIC_BASE_URL`` or the real
API (for Vertex AI and Bedrock: their endpoint variable); with ``base_url``, against that. Telemetry comes from
``telemetry.setup()``: ``/metrics`` served (and advertised) while the agent runs, traces exported
when the ``OTEL_*`` variables say so (with the ``[otel]`` extra), and at the end what really
became of them; warnings and errors are logged to stderr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TextIO

from axio import Agent
from axio.context import MemoryContextStore
from axio.events import Error, SessionEndEvent, TextDelta, ToolResult, ToolUseStart
from axio.tool import Tool

from .providers import Endpoint, Provider, environment_endpoint, given_endpoint, simulated_endpoint
from .simulator import Simulator
from .simulator.replies import Reply, TextBlock, ToolUseBlock
from .telemetry import ExportReport, TelemetryConfig
from .telemetry.agent_setup import agents_traced
from .telemetry.setup import DEFAULT_METRICS_PORT, TelemetryHandle, current, setup

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

QUESTION: Final = "What time is it in UTC right now, and what is 17 * 23? Use the tools."
#: What the simulated model does with ``QUESTION``: it cannot read it, so the demo scripts the
#: first turn (both tools, the right arguments); the answer is the simulator's own, from the results.
_SCRIPT: Final = Reply(
    (
        TextBlock("I'll check the clock and multiply."),
        ToolUseBlock("utc_now", {}),
        ToolUseBlock("multiply", {"a": 17, "b": 23}),
    ),
    "tool_use",
)
#: A collector on this machine answers in milliseconds; one that hangs costs at most this at exit.
_SHUTDOWN_TIMEOUT: Final = 2.0
_OTLP_HINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 to send them to Jaeger or any OTLP collector"


async def utc_now() -> str:
    """The current date and time in UTC, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


async def multiply(a: int, b: int) -> str:
    """Multiply two integers."""
    return str(a * b)


@asynccontextmanager
async def _endpoint(question: str, base_url: str | None, provider: Provider) -> AsyncIterator[Endpoint]:
    """Where the demo's requests go, named as it is: ``base_url``, else what the environment
    configures for ``provider``, else the provider's route on a built-in simulator."""
    if base_url is not None:
        yield given_endpoint(provider, base_url)
        return
    if (configured := environment_endpoint(provider)) is not None:
        yield configured
        return
    async with Simulator() as sim:
        if question == QUESTION:
            sim.enqueue(_SCRIPT)
        async with simulated_endpoint(provider, sim, "sk-simulator") as endpoint:
            yield endpoint


def _start_telemetry(out: TextIO) -> tuple[TelemetryHandle | None, bool]:
    """``setup()`` for the run, or the one the host already made (left running): (handle, ours)."""
    if (existing := current()) is not None:
        return existing, False

    def start(port: int) -> TelemetryHandle:
        # WARNING on stderr: retries and failures show, the streamed answer on stdout stays clean.
        return setup(metrics_port=port, log_format="console", log_level=logging.WARNING)

    try:
        try:
            return start(DEFAULT_METRICS_PORT), True
        except OSError:
            return start(0), True
    except ImportError as exc:  # OTLP export asked for without the [otel] extra
        print(f"[telemetry off: {exc}]", file=out)
        return None, False


async def run_demo(
    question: str = QUESTION,
    *,
    out: TextIO | None = None,
    model: str | None = None,
    base_url: str | None = None,
    provider: Provider = "anthropic",
) -> int:
    """Run one agent session, printing to ``out`` (stdout); returns a process exit code. ``model``
    is a key of ``ANTHROPIC_MODELS``; ``provider`` the cloud whose wire and credentials are used."""
    out = out if out is not None else sys.stdout
    handle, ours = _start_telemetry(out)
    reports: tuple[ExportReport, ...] = ()
    try:
        telemetry = handle.telemetry_config() if handle is not None else TelemetryConfig()
        with agents_traced(handle):  # one trace per agent run: invoke_agent over its chat and tool spans
            code = await _run(question, out, telemetry, handle, model, base_url, provider)
    finally:
        if handle is not None and ours:
            # In a thread: a collector that is down must not stall the loop.
            reports = await handle.ashutdown(_SHUTDOWN_TIMEOUT)
    if handle is not None:
        for line in _trace_lines(handle, reports, ours):
            print(line, file=out)
    return code


async def _run(
    question: str,
    out: TextIO,
    telemetry: TelemetryConfig,
    handle: TelemetryHandle | None,
    model: str | None,
    base_url: str | None,
    provider: Provider,
) -> int:
    async with _endpoint(question, base_url, provider) as endpoint:
        # By its id: each provider's transport finds the model under its own name for it.
        chosen: dict[str, Any] = {"model": model} if model is not None else {}
        async with endpoint.transport(
            max_retries=3,
            retry_base_delay=0.5,
            telemetry=telemetry,
            **chosen,
        ) as transport:
            agent = Agent(
                system="You are a concise assistant. Use the tools when they help.",
                transport=transport,
                tools=[Tool(name="utc_now", handler=utc_now), Tool(name="multiply", handler=multiply)],
                max_iterations=6,
            )
            print(f"axio agent on {transport.model.id} via {endpoint.where}", file=out)
            if handle is not None and handle.metrics_url:
                print(f"[metrics: Prometheus can scrape {handle.metrics_url} while the agent runs]", file=out)
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
                            f"\n\n[done: {reason}; {usage.input_tokens:,} input tokens "
                            f"({usage.cache_read_tokens:,} cached), {usage.output_tokens:,} output]",
                            file=out,
                        )
            if handle is not None and handle.metrics_url:
                print(_totals_line(handle.registry), file=out)
            return code


def _totals_line(registry: CollectorRegistry) -> str:
    """Counter totals by family (``axio_anthropic_requests`` -> all its ``_total`` samples)."""
    totals: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                totals[family.name] = totals.get(family.name, 0.0) + sample.value
    return (
        f"[metrics: {totals.get('axio_anthropic_requests', 0):,.0f} requests, "
        f"{totals.get('axio_anthropic_tokens', 0):,.0f} tokens, ${totals.get('axio_anthropic_cost_usd', 0):.4f}]"
    )


def _trace_lines(handle: TelemetryHandle, reports: tuple[ExportReport, ...], ours: bool) -> list[str]:
    """What became of the spans (and OTLP metrics): what the exporters reported, never assumed."""
    lines = [f"[{'traces' if r.signal == 'traces' else 'OTLP metrics'}: {r.describe()}]" for r in reports]
    match handle.traces:
        case "exported" if not ours:
            lines.append(f"[traces: exported over OTLP to {handle.otlp_endpoint} by the setup() already in effect]")
        case "recorded" if handle.traces_off == "no OTLP endpoint is set":
            lines.append(f"[traces: recorded for the log lines' trace ids, not exported: set {_OTLP_HINT}]")
        case "recorded":
            lines.append(f"[traces: not exported ({handle.traces_off})]")
        case "host":
            lines.append("[traces: to the tracer provider this process had already set]")
        case "off" if not handle.sdk_installed and handle.traces_off == "the OpenTelemetry SDK is not installed":
            lines.append(
                "[traces: off, the OpenTelemetry SDK is not installed: pip install 'axio-transport-anthropic[otel]' "
                f"and set {_OTLP_HINT}]"
            )
        case "off":
            lines.append(f"[traces: off ({handle.traces_off})]")
    return lines
