"""``run_load()``: telemetry, a target, a shared transport and the workers, then the summary.

The transport gets a fresh ``CollectorRegistry`` (also the one ``/metrics`` serves), so the
summary holds this run's numbers only and agrees with any scrape of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Final, Literal, TextIO, cast

import aiohttp
from prometheus_client import CollectorRegistry

from ..providers import Endpoint, Provider, given_endpoint, simulated_endpoint
from ..simulator import FaultProfile, Simulator
from ..telemetry import TelemetryConfig, call_labels
from ..telemetry.agent_setup import agents_traced
from ..telemetry.exports import ExportReport
from ..telemetry.setup import TelemetryHandle, current, setup
from .agents import make_agent, run_agent
from .config import LoadConfig, LoadError
from .latency import Latencies
from .observer import LiveStats, LoadObserver, StartInfo
from .runner import Tally, drive
from .summary import RunContext, Summary, read_summary, read_totals

__all__ = ["SIMULATOR_KEY", "run_load"]

SIMULATOR_KEY: Final = "sk-load-simulator"
#: service.name when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES gives one.
SERVICE_NAME: Final = "axio-anthropic-load"
_TICK_SECONDS: Final = 0.2
#: The in-process simulator keeps only recent requests, so memory stays flat on long runs.
_KEEP_REQUESTS: Final = 1000


async def run_load(
    config: LoadConfig,
    *,
    observer: LoadObserver | None = None,
    stop: asyncio.Event | None = None,
    registry: CollectorRegistry | None = None,
) -> Summary:
    """Run the load ``config`` describes and return its summary.

    Raises ``LoadError`` when the run cannot start. Setting ``stop`` cancels the runs under way
    and returns a partial summary (``interrupted``), or ends the linger early.
    """
    try:
        config.validate()
    except ValueError as exc:
        raise LoadError(str(exc)) from None
    api_key = _api_key(config)
    registry = registry if registry is not None else CollectorRegistry()
    stop = stop if stop is not None else asyncio.Event()
    telemetry = _Telemetry()
    async with _telemetry(config, registry, telemetry) as handle:
        metrics_url = handle.metrics_url if handle is not None else None
        async with _target(config, api_key) as endpoint:
            info = StartInfo(
                target=endpoint.url or "",
                simulator=config.base_url is None,
                model=config.model,
                profile=config.profile if config.base_url is None else None,
                concurrency=config.concurrency,
                runs=config.runs,
                duration=config.duration,
                metrics_url=metrics_url,
                otlp_endpoint=handle.otlp_endpoint if handle is not None and handle.traces == "exported" else None,
                provider=config.provider,
            )
            if observer is not None:
                observer.started(info)
            # One trace per agent run, its series on the run's registry (served on /metrics).
            with agents_traced(handle or current(), registry):
                summary = await _run(config, info, endpoint, registry, stop, observer)
        if observer is not None:
            observer.finished(summary)
        if metrics_url is not None and config.linger > 0 and not stop.is_set():
            if observer is not None:
                observer.lingering(config.linger, metrics_url)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), config.linger)
    if telemetry.exports:
        summary = dataclasses.replace(summary, exports=telemetry.exports)
        if observer is not None:
            observer.exported(telemetry.exports)
    return summary


def _api_key(config: LoadConfig) -> str:
    if config.base_url is None:
        return SIMULATOR_KEY
    if config.provider != "anthropic":
        return ""  # Vertex AI and Bedrock: the credentials their transports find
    key = config.api_key if config.api_key is not None else os.environ.get("ANTHROPIC_API_KEY", "")
    if not key.strip():
        raise LoadError(
            f"no API key for {config.base_url}: set ANTHROPIC_API_KEY (a simulator accepts any non-empty value)"
        )
    return key


class _Stderr:
    """Log output to whatever ``sys.stderr`` is at the time, so rich's live display can route it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


@dataclasses.dataclass(slots=True)
class _Telemetry:
    exports: tuple[ExportReport, ...] = ()


@asynccontextmanager
async def _telemetry(
    config: LoadConfig, registry: CollectorRegistry, outcome: _Telemetry
) -> AsyncIterator[TelemetryHandle | None]:
    if current() is not None:
        # The host's setup() stays in charge (its tracer is used); it serves its own registry.
        if config.metrics_port is not None:
            raise LoadError("telemetry.setup() is already in effect in this process: cannot serve this run's /metrics")
        yield None
        return
    try:
        handle = setup(
            default_service_name=SERVICE_NAME,
            metrics_port=config.metrics_port,
            metrics_addr=config.metrics_addr,
            registry=registry,
            log_format=cast(Literal["json", "console"], config.log_format),
            log_level=config.log_level.upper(),
            log_stream=cast(TextIO, _Stderr()),
        )
    except OSError as exc:
        raise LoadError(f"cannot serve /metrics on port {config.metrics_port}: {exc.strerror or exc}") from None
    except ImportError as exc:  # OTLP export asked for without the [otel] extra
        raise LoadError(str(exc)) from None
    # The agent logs each transport failure again, with a traceback; the transport's own
    # anthropic.request.error event already tells it once.
    agent_logger = logging.getLogger("axio")
    previous = agent_logger.level
    agent_logger.setLevel(logging.CRITICAL)
    try:
        yield handle
    finally:
        agent_logger.setLevel(previous)
        # In a thread: a collector that is down must not stall the loop (Ctrl-C stays handled).
        outcome.exports = await handle.ashutdown()


@asynccontextmanager
async def _target(config: LoadConfig, api_key: str) -> AsyncIterator[Endpoint]:
    provider = cast(Provider, config.provider)
    if config.base_url is not None:
        endpoint = given_endpoint(provider, config.base_url)
        yield dataclasses.replace(endpoint, settings={**endpoint.settings, "api_key": api_key}) if api_key else endpoint
        return
    simulator = Simulator(
        profile=FaultProfile.named(config.profile, config.seed),
        seed=config.seed,
        first_byte_delay=config.first_byte_delay,
        token_delay=config.token_delay,
        keep_requests=_KEEP_REQUESTS,
    )
    try:
        await simulator.start()
    except OSError as exc:
        raise LoadError(f"cannot start the simulator: {exc.strerror or exc}") from None
    try:
        async with simulated_endpoint(provider, simulator, api_key) as endpoint:
            yield endpoint
    finally:
        await simulator.stop()


async def _run(
    config: LoadConfig,
    info: StartInfo,
    endpoint: Endpoint,
    registry: CollectorRegistry,
    stop: asyncio.Event,
    observer: LoadObserver | None,
) -> Summary:
    latencies = Latencies(seed=config.seed)
    # The default pool of 100 connections would queue workers beyond it and skew the timings.
    connector = aiohttp.TCPConnector(limit=max(100, config.concurrency))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        endpoint.transport(
            # By its id: each provider's transport finds the model under its own name for it.
            model=config.model,
            session=session,
            max_retries=config.max_retries,
            retry_base_delay=config.retry_base_delay,
            first_byte_timeout=_timeout(config),
            idle_timeout=_timeout(config),
            telemetry=TelemetryConfig(
                registry=registry, sinks=(latencies,), labels=tuple(name for name, _ in config.labels)
            ),
        ) as transport,
    ):
        agents = [make_agent(transport) for _ in range(config.concurrency)]
        tally = Tally()
        runs = itertools.count()

        async def run_once(worker: int) -> bool:
            # Around the whole agent run: every request it makes carries the run's labels.
            with call_labels(**config.labels_of(next(runs))):
                return await run_agent(agents[worker])

        started = time.perf_counter()

        def tick(final: bool = False) -> None:
            if observer is not None:
                stats = LiveStats(time.perf_counter() - started, tally.snapshot(), read_totals(registry), final)
                observer.tick(stats)

        ticker = asyncio.create_task(_every(_TICK_SECONDS, tick)) if observer is not None else None
        try:
            interrupted = await drive(
                run_once,
                concurrency=config.concurrency,
                runs=config.runs,
                duration=config.duration,
                drain=config.drain,
                stop=stop,
                tally=tally,
            )
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
        wall = time.perf_counter() - started
        tick(final=True)
    context = RunContext(
        target=info.target,
        simulator=info.simulator,
        model=info.model,
        profile=info.profile,
        concurrency=info.concurrency,
        wall_seconds=wall,
        interrupted=interrupted,
        runs=tally.snapshot(),
        metrics_url=info.metrics_url,
        provider=info.provider,
    )
    return read_summary(registry, context, latencies)


async def _every(seconds: float, action: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(seconds)
        action()


def _timeout(config: LoadConfig) -> float | None:
    """The simulator's stall faults must fail fast under load; a real API keeps its defaults."""
    if config.timeout is not None:
        return config.timeout
    return 5.0 if config.base_url is None else 120.0
