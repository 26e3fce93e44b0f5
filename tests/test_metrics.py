"""Prometheus and OpenTelemetry metrics over the simulator: exact values for each way a call can go."""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from axio.blocks import ToolResultBlock, ToolUseBlock
from axio.events import IterationEnd, StreamEvent, TextDelta
from axio.messages import Message
from axio.tool import Tool
from opentelemetry.metrics import _internal as otel_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from axio_transport_anthropic import AnthropicTransport, APIStatusError, InStreamError
from axio_transport_anthropic.errors import APIConnectionError, APITimeoutError, ProtocolError
from axio_transport_anthropic.models import ANTHROPIC_MODELS, cost_usd
from axio_transport_anthropic.simulator import Fault, Reply, Simulator
from axio_transport_anthropic.telemetry import AttemptReport, TelemetryConfig
from axio_transport_anthropic.telemetry.instruments import (
    GENAI_DURATION_BOUNDARIES,
    GENAI_TOKEN_BOUNDARIES,
)
from axio_transport_anthropic.telemetry.labels import Vocabulary, attempt_status, error_type

from .conftest import SECRET
from .support import collect, user

MODEL = "claude-sonnet-4-6"
PROVIDER = "anthropic"
LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"


@pytest.fixture
def reg() -> CollectorRegistry:
    return CollectorRegistry()


def make_transport(
    sim: Simulator, session: aiohttp.ClientSession, reg: CollectorRegistry, **kw: Any
) -> AnthropicTransport:
    options: dict[str, Any] = {
        "max_retries": 3,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "first_byte_timeout": 5.0,
        "idle_timeout": 5.0,
        "telemetry": TelemetryConfig(registry=reg, traces=False, logs=False),
        **kw,
    }
    return AnthropicTransport(api_key=SECRET, base_url=sim.base_url, session=session, **options)


@pytest.fixture
def transport(sim: Simulator, session: aiohttp.ClientSession, reg: CollectorRegistry) -> AnthropicTransport:
    return make_transport(sim, session, reg)


class Samples:
    """Reads one registry's samples for one model; a missing series reads as 0."""

    def __init__(self, reg: CollectorRegistry, model: str = MODEL) -> None:
        self.reg = reg
        self.model = model

    def __call__(self, name: str, **labels: str) -> float:
        value = self.reg.get_sample_value(name, {"model": self.model, "provider": "anthropic", **labels})
        return 0.0 if value is None else value

    def by(self, name: str, label: str) -> dict[str, float]:
        """Non-zero values of one family, keyed by its second label."""
        found: dict[str, float] = {}
        for family in self.reg.collect():
            for sample in family.samples:
                if sample.name == name and sample.labels.get("model") == self.model and sample.value:
                    found[sample.labels[label]] = sample.value
        return found

    def tokens(self) -> dict[str, float]:
        return self.by("axio_anthropic_tokens_total", "type")


def last_end(events: list[StreamEvent]) -> IterationEnd:
    end = events[-1]
    assert isinstance(end, IterationEnd)
    return end


async def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: 21C"


# ── successes ───────────────────────────────────────────────────────────────────────────────


async def test_two_turns_count_tokens_cache_cost_and_stop_reasons(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    m = Samples(reg)
    system = "You are a helpful assistant. " * 40
    tools: list[Tool[Any]] = [Tool(name="lookup", handler=lookup)]
    history = user("What is the weather in Paris? " * 20)
    sim.enqueue(Reply.tool_use("lookup", {"city": "Paris"}), Reply.text(LONG))
    end1 = last_end(await collect(transport, history, tools=tools, system=system))
    assert m("axio_anthropic_cache_misses_total") == 1 and m("axio_anthropic_cache_hits_total") == 0
    history = [
        *history,
        Message(role="assistant", content=[ToolUseBlock(id="toolu_1", name="lookup", input={"city": "Paris"})]),
        Message(role="user", content=[ToolResultBlock(tool_use_id="toolu_1", content="Paris: 21C")]),
    ]
    end2 = last_end(await collect(transport, history, tools=tools, system=system))
    assert m("axio_anthropic_cache_misses_total") == 1 and m("axio_anthropic_cache_hits_total") == 1

    usages = [end1.usage, end2.usage]
    assert end1.usage.cache_write_tokens > 0 and end2.usage.cache_read_tokens > 0
    read = sum(u.cache_read_tokens for u in usages)
    written = sum(u.cache_write_tokens for u in usages)
    total_in = sum(u.input_tokens for u in usages)
    output = sum(u.output_tokens for u in usages)
    # input excludes the cache slices, so the four types add up to what was billed.
    expected = {"input": total_in - read - written, "output": output, "cache_read": read, "cache_creation": written}
    assert m.tokens() == {kind: amount for kind, amount in expected.items() if amount}
    expected_cost = sum(
        cost_usd(
            ANTHROPIC_MODELS[MODEL],
            uncached_input=u.input_tokens - u.cache_read_tokens - u.cache_write_tokens,
            output=u.output_tokens,
            cache_read=u.cache_read_tokens,
            cache_write_5m=u.cache_write_tokens,  # the transport's default cache_ttl is 5m
        )
        for u in usages
    )
    assert m("axio_anthropic_cost_usd_total") == pytest.approx(expected_cost, rel=1e-12)
    assert m.by("axio_anthropic_stop_reasons_total", "reason") == {"tool_use": 1, "end_turn": 1}
    assert m.by("axio_anthropic_requests_total", "outcome") == {"ok": 2}
    assert m.by("axio_anthropic_attempts_total", "status") == {"200": 2}
    assert m.by("axio_anthropic_errors_total", "type") == {}
    assert m("axio_anthropic_in_flight_requests") == 0
    for histogram in ("request_duration_seconds", "time_to_first_token_seconds", "output_tokens"):
        assert m(f"axio_anthropic_{histogram}_count") == 2, histogram
    assert m("axio_anthropic_output_tokens_sum") == output
    # Only answers of two or more tokens have a time per token after the first.
    assert m("axio_anthropic_time_per_output_token_seconds_count") == sum(u.output_tokens > 1 for u in usages)


async def test_series_exist_at_zero_before_anything_happens(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    await collect(transport)
    for outcome in ("error", "cancelled"):
        labels = {"model": MODEL, "provider": PROVIDER, "outcome": outcome}
        assert reg.get_sample_value("axio_anthropic_requests_total", labels) == 0
    labels = {"model": MODEL, "provider": PROVIDER, "type": "cache_creation"}
    assert reg.get_sample_value("axio_anthropic_tokens_total", labels) is not None


#: The fixed label values pre-created at 0, spelled out: a new retry reason or error type must be a
#: deliberate change here too.
ZERO_RETRY_REASONS = ("rate_limited", "overloaded", "server_error", "timeout", "connection_error", "conflict")
ZERO_ERROR_TYPES = (
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
    "conflict_error",
    "timeout",
    "connection_error",
    "protocol_error",
)
#: Bedrock's in-stream exceptions (retry.py maps them to the statuses they stand for) and its
#: missing credentials: pre-created for Bedrock's series only, never on Anthropic's.
BEDROCK_ERROR_TYPES = (
    "throttlingException",
    "serviceUnavailableException",
    "internalServerException",
    "modelStreamErrorException",
    "modelTimeoutException",
    "validationException",
    "credentials_error",
)


def exposed(reg: CollectorRegistry, name: str, label: str, model: str = MODEL) -> dict[str, float]:
    """Every sample of ``name`` for ``model`` in the text a /metrics scrape gets, zeros included."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(generate_text(reg).decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("model") == model:
                found[sample.labels[label]] = sample.value
    return found


async def test_first_success_exposes_retries_and_errors_at_zero(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    """A clean run's retry and error panels show 0, not "No data", and a series exists before its
    first increment, so rate() over a window that starts before the first failure counts it."""
    await collect(transport)
    assert exposed(reg, "axio_anthropic_requests_total", "outcome")["ok"] == 1
    zero_reasons = dict.fromkeys(ZERO_RETRY_REASONS, 0.0)
    assert exposed(reg, "axio_anthropic_retries_total", "reason") == zero_reasons
    assert exposed(reg, "axio_anthropic_backoff_seconds_total", "reason") == zero_reasons
    assert exposed(reg, "axio_anthropic_errors_total", "type") == dict.fromkeys(ZERO_ERROR_TYPES, 0.0)
    # Open-ended labels stay as they were: only what happened.
    assert exposed(reg, "axio_anthropic_attempts_total", "status") == {"200": 1}
    assert exposed(reg, "axio_anthropic_stop_reasons_total", "reason") == {"end_turn": 1}


async def test_zero_series_stay_bounded_when_failures_come(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    """The first failures add to the pre-created series; a type outside the fixed vocabulary still
    gets its own series, but nothing else appears at 0."""
    sim.inject(Fault.overloaded(), Fault.server_error(503, plain_text=True))
    transport.max_retries = 1
    with pytest.raises(APIStatusError):
        await collect(transport)
    retries = exposed(reg, "axio_anthropic_retries_total", "reason")
    assert retries == {**dict.fromkeys(ZERO_RETRY_REASONS, 0.0), "overloaded": 1.0}
    errors = exposed(reg, "axio_anthropic_errors_total", "type")
    # A plain-text 503 has no Anthropic type: its status names it, beside the fixed types at 0.
    assert errors == {**dict.fromkeys(ZERO_ERROR_TYPES, 0.0), "503": 1.0}


# ── retries and failures ────────────────────────────────────────────────────────────────────


async def test_two_429s_then_success(sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry) -> None:
    m = Samples(reg)
    sim.inject(Fault.rate_limited(retry_after=0.01), Fault.rate_limited(retry_after=0.02))
    end = last_end(await collect(transport))
    assert m.by("axio_anthropic_attempts_total", "status") == {"429": 2, "200": 1}
    assert m.by("axio_anthropic_retries_total", "reason") == {"rate_limited": 2}
    # The server asked for the waits, so they are exact.
    assert m("axio_anthropic_backoff_seconds_total", reason="rate_limited") == pytest.approx(0.03)
    assert m.by("axio_anthropic_requests_total", "outcome") == {"ok": 1}
    assert sum(m.tokens().values()) == end.usage.input_tokens + end.usage.output_tokens
    assert m("axio_anthropic_request_duration_seconds_count") == 1


async def test_529_until_retries_run_out(sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry) -> None:
    m = Samples(reg)
    sim.inject(*[Fault.overloaded()] * 4)
    with pytest.raises(APIStatusError):
        await collect(transport)
    assert m.by("axio_anthropic_attempts_total", "status") == {"529": 4}
    assert m.by("axio_anthropic_retries_total", "reason") == {"overloaded": 3}
    assert m("axio_anthropic_backoff_seconds_total", reason="overloaded") > 0
    assert m.by("axio_anthropic_requests_total", "outcome") == {"error": 1}
    assert m.by("axio_anthropic_errors_total", "type") == {"overloaded_error": 1}
    # No response, no usage: nothing billed, no cache verdict, no stop reason.
    assert m.tokens() == {} and m("axio_anthropic_cost_usd_total") == 0
    assert m("axio_anthropic_cache_hits_total") + m("axio_anthropic_cache_misses_total") == 0
    assert m.by("axio_anthropic_stop_reasons_total", "reason") == {}
    assert m("axio_anthropic_request_duration_seconds_count") == 1
    assert m("axio_anthropic_time_to_first_token_seconds_count") == 0
    assert m("axio_anthropic_output_tokens_count") == 0
    assert m("axio_anthropic_in_flight_requests") == 0


async def test_in_stream_overloaded_before_output_is_retried_as_overloaded(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    m = Samples(reg)
    # After message_start only: the caller has seen nothing, so the attempt is retried.
    sim.inject(Fault.stream_error("overloaded_error", "Overloaded", after_events=1))
    end = last_end(await collect(transport))
    assert m.by("axio_anthropic_attempts_total", "status") == {"529": 1, "200": 1}
    assert m.by("axio_anthropic_retries_total", "reason") == {"overloaded": 1}
    assert m.by("axio_anthropic_requests_total", "outcome") == {"ok": 1}
    assert m.by("axio_anthropic_errors_total", "type") == {}
    # The failed attempt's message_start usage is not added to the answer's.
    assert sum(m.tokens().values()) == end.usage.input_tokens + end.usage.output_tokens
    assert m("axio_anthropic_cache_hits_total") + m("axio_anthropic_cache_misses_total") == 1


async def _consume(transport: AnthropicTransport, seen: list[StreamEvent]) -> None:
    async for event in transport.stream(user("hi"), [], ""):
        seen.append(event)


async def test_in_stream_overloaded_after_output_is_an_overloaded_error_with_partial_usage(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    m = Samples(reg)
    sim.inject(Fault.stream_error("overloaded_error", "Overloaded", after_events=4))
    sim.enqueue(Reply.text(LONG * 3))
    seen: list[StreamEvent] = []
    with pytest.raises(InStreamError):
        await _consume(transport, seen)
    assert any(isinstance(e, TextDelta) for e in seen) and len(sim.requests) == 1
    assert m.by("axio_anthropic_errors_total", "type") == {"overloaded_error": 1}
    assert m.by("axio_anthropic_requests_total", "outcome") == {"error": 1}
    assert m.by("axio_anthropic_attempts_total", "status") == {"529": 1}
    assert m.by("axio_anthropic_retries_total", "reason") == {}
    partial = transport.last_usage
    assert partial is not None and partial.output_tokens == 1  # message_start's count
    tokens = m.tokens()
    assert tokens["output"] == 1
    assert tokens.get("input", 0) + tokens.get("cache_read", 0) + tokens.get("cache_creation", 0) == (
        partial.input_tokens
    )
    assert m("axio_anthropic_cache_hits_total") + m("axio_anthropic_cache_misses_total") == 1
    assert m("axio_anthropic_cost_usd_total") > 0
    assert m("axio_anthropic_time_to_first_token_seconds_count") == 1
    assert m("axio_anthropic_output_tokens_count") == 0  # only completed answers
    assert m("axio_anthropic_in_flight_requests") == 0


async def test_cancellation_counts_cancelled_and_releases_in_flight(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    m = Samples(reg)
    sim.inject(Fault.stall(after_events=3, duration=30))
    sim.enqueue(Reply.text(LONG))
    seen: list[StreamEvent] = []
    task = asyncio.create_task(_consume(transport, seen))
    for _ in range(200):
        if any(isinstance(e, TextDelta) for e in seen) or task.done():
            break
        await asyncio.sleep(0.01)
    assert m("axio_anthropic_in_flight_requests") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert m.by("axio_anthropic_requests_total", "outcome") == {"cancelled": 1}
    assert m("axio_anthropic_in_flight_requests") == 0
    # attempt_ended never came for the attempt under way; it still counts, as cancelled.
    assert m.by("axio_anthropic_attempts_total", "status") == {"cancelled": 1}
    assert m.by("axio_anthropic_errors_total", "type") == {}
    assert m("axio_anthropic_request_duration_seconds_count") == 0
    assert m("axio_anthropic_time_to_first_token_seconds_count") == 1


async def test_cancellation_while_stalled_before_any_output(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    m = Samples(reg)
    sim.inject(Fault.stall(after_events=1, duration=30))
    task = asyncio.create_task(collect(transport))
    for _ in range(200):
        if sim.open_streams:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert m.by("axio_anthropic_requests_total", "outcome") == {"cancelled": 1}
    assert m("axio_anthropic_in_flight_requests") == 0
    assert m("axio_anthropic_time_to_first_token_seconds_count") == 0


async def test_abandoning_the_iterator_counts_as_cancelled(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    m = Samples(reg)
    sim.enqueue(Reply.text(LONG))
    stream = transport.stream(user("hi"), [], "")
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert m.by("axio_anthropic_requests_total", "outcome") == {"cancelled": 1}
    assert m("axio_anthropic_in_flight_requests") == 0


async def test_an_iterator_dropped_without_closing_is_counted_once_collected(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    m = Samples(reg)
    sim.enqueue(Reply.text(LONG))
    stream = transport.stream(user("hi"), [], "")
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    assert m("axio_anthropic_in_flight_requests") == 1
    del stream
    gc.collect()  # the loop's async-generator hook then closes it on a later turn
    for _ in range(100):
        if not m("axio_anthropic_in_flight_requests"):
            break
        await asyncio.sleep(0.01)
    assert m.by("axio_anthropic_requests_total", "outcome") == {"cancelled": 1}
    assert m("axio_anthropic_in_flight_requests") == 0


# ── rate-limit gauges ───────────────────────────────────────────────────────────────────────


@pytest.fixture
async def limited() -> AsyncIterator[Simulator]:
    limits = {"requests": 5, "tokens": 900_000, "input_tokens": 700_000, "output_tokens": 200_000}
    async with Simulator(api_key=SECRET, rate_limits=limits) as server:
        yield server


async def test_ratelimit_gauges_follow_the_latest_headers(
    limited: Simulator, session: aiohttp.ClientSession, reg: CollectorRegistry
) -> None:
    m = Samples(reg)
    transport = make_transport(limited, session, reg)
    # A 429 carries the headers too; x-should-retry=false makes it the only response.
    limited.inject(Fault.rate_limited(retry_after=0.01, should_retry=False))
    with pytest.raises(APIStatusError):
        await collect(transport)
    limits = {"requests": 5, "tokens": 900_000, "input_tokens": 700_000, "output_tokens": 200_000}
    assert m.by("axio_anthropic_ratelimit_limit", "resource") == limits
    assert m.by("axio_anthropic_ratelimit_remaining", "resource") == limits  # nothing was admitted
    end = last_end(await collect(transport))
    assert m.by("axio_anthropic_ratelimit_limit", "resource") == limits
    remaining = m.by("axio_anthropic_ratelimit_remaining", "resource")
    assert remaining["requests"] == 4
    assert remaining["output_tokens"] == 200_000 - end.usage.output_tokens
    assert remaining["tokens"] < 900_000 and remaining["input_tokens"] < 700_000


# ── sharing a registry ──────────────────────────────────────────────────────────────────────


async def test_many_transports_and_configs_share_one_registry(
    sim: Simulator, session: aiohttp.ClientSession, reg: CollectorRegistry
) -> None:
    transports = [make_transport(sim, session, reg) for _ in range(4)]
    transports.append(make_transport(sim, session, reg, model=ANTHROPIC_MODELS["claude-haiku-4-5"]))
    for transport in transports:
        await collect(transport)
    assert Samples(reg)("axio_anthropic_requests_total", outcome="ok") == 4
    assert Samples(reg, "claude-haiku-4-5")("axio_anthropic_requests_total", outcome="ok") == 1
    names = {family.name for family in reg.collect()}
    # 17 request families and the credential refreshes (registered once, empty on Anthropic's API).
    assert "axio_anthropic_requests" in names and len(names) == 18


async def test_transports_without_a_meter_provider_share_one_meter_and_read_the_version_once(
    sim: Simulator, session: aiohttp.ClientSession, reg: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No MeterProvider set: the API keeps every proxy meter it hands out, for good."""
    assert otel_internal._METER_PROVIDER is None, "a test left a global MeterProvider set"
    meters = otel_internal._PROXY_METER_PROVIDER._meters
    before = len(meters)
    versions = 0
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        nonlocal versions
        versions += 1
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    for _ in range(50):
        await collect(make_transport(sim, session, reg, telemetry=TelemetryConfig(registry=reg, logs=False)))
    assert Samples(reg)("axio_anthropic_requests_total", outcome="ok") == 50
    assert len(meters) - before <= 1, f"{len(meters) - before} proxy meters kept for 50 transports"
    assert versions <= 1, f"the package version was looked up {versions} times"


# ── exemplars ───────────────────────────────────────────────────────────────────────────────


def openmetrics(reg: CollectorRegistry) -> str:
    raw: bytes = generate_latest(reg)  # type: ignore[no-untyped-call]
    return raw.decode()


async def test_openmetrics_exposition_carries_the_trace_id_as_exemplar(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    await collect(transport)
    assert "trace_id" not in openmetrics(reg)  # no span, no exemplar
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("agent turn") as span:
        await collect(transport)
        context = span.get_span_context()
    text = openmetrics(reg)
    exemplar = f'# {{span_id="{context.span_id:016x}",trace_id="{context.trace_id:032x}"}}'
    lines = [line for line in text.splitlines() if exemplar in line]
    assert any(line.startswith("axio_anthropic_request_duration_seconds_bucket") for line in lines), text
    assert any(line.startswith("axio_anthropic_time_to_first_token_seconds_bucket") for line in lines)


async def test_an_unsampled_trace_gives_no_exemplar_but_the_same_counts(
    sim: Simulator, transport: AnthropicTransport, reg: CollectorRegistry
) -> None:
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("test")
    with tracer.start_as_current_span("not sampled") as span:
        assert span.get_span_context().is_valid
        await collect(transport)
    # Such a trace is never stored: an exemplar would point at nothing.
    assert "trace_id" not in openmetrics(reg)
    assert Samples(reg)("axio_anthropic_requests_total", outcome="ok") == 1


async def test_with_tracing_on_the_exemplar_is_the_request_span(
    sim: Simulator, session: aiohttp.ClientSession, reg: CollectorRegistry
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = TelemetryConfig(tracer_provider=provider, registry=reg, logs=False)
    await collect(make_transport(sim, session, reg, telemetry=telemetry))
    (request_span,) = [span for span in exporter.get_finished_spans() if span.parent is None]
    context = request_span.get_span_context()
    assert context is not None
    exemplar = f'# {{span_id="{context.span_id:016x}",trace_id="{context.trace_id:032x}"}}'
    lines = [line for line in openmetrics(reg).splitlines() if exemplar in line]
    assert any(line.startswith("axio_anthropic_request_duration_seconds_bucket") for line in lines)


# ── OpenTelemetry ───────────────────────────────────────────────────────────────────────────


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    reader.provider = provider  # type: ignore[attr-defined]
    yield reader
    provider.shutdown()


def otel_metrics(reader: InMemoryMetricReader) -> dict[str, Metric]:
    data = reader.get_metrics_data()
    assert data is not None
    return {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def points(metric: Metric) -> list[HistogramDataPoint]:
    found = [p for p in metric.data.data_points if isinstance(p, HistogramDataPoint)]
    assert len(found) == len(metric.data.data_points)
    return found


async def test_otel_genai_histograms(
    session: aiohttp.ClientSession, reg: CollectorRegistry, reader: InMemoryMetricReader
) -> None:
    provider: MeterProvider = reader.provider  # type: ignore[attr-defined]
    telemetry = TelemetryConfig(registry=reg, meter_provider=provider, traces=False, logs=False)
    async with Simulator(api_key=SECRET, token_delay=0.002) as sim:
        transport = make_transport(sim, session, reg, telemetry=telemetry)
        sim.enqueue(Reply.text(LONG * 2))
        end = last_end(await collect(transport))
        sim.inject(Fault.http_error(400, "invalid_request_error", "bad"))
        with pytest.raises(APIStatusError):
            await collect(transport)
        port = sim.port
    found = otel_metrics(reader)
    assert set(found) == {
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
    }
    assert found["gen_ai.client.token.usage"].unit == "{token}"
    assert found["gen_ai.client.operation.duration"].unit == "s"
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": port,
    }
    ok = {**base, "gen_ai.response.model": MODEL}

    tokens = {p.attributes["gen_ai.token.type"]: p for p in points(found["gen_ai.client.token.usage"])}  # type: ignore[index]
    assert set(tokens) == {"input", "output"}  # the 400 had no usage to report
    assert tokens["input"].sum == end.usage.input_tokens  # the total, cache slices included
    assert tokens["output"].sum == end.usage.output_tokens
    assert dict(tokens["input"].attributes or {}) == {**ok, "gen_ai.token.type": "input"}
    assert tuple(tokens["input"].explicit_bounds) == GENAI_TOKEN_BOUNDARIES

    durations = {p.attributes.get("error.type"): p for p in points(found["gen_ai.client.operation.duration"])}  # type: ignore[union-attr]
    assert set(durations) == {None, "invalid_request_error"}
    assert dict(durations[None].attributes or {}) == ok
    assert dict(durations["invalid_request_error"].attributes or {}) == {**base, "error.type": "invalid_request_error"}
    assert tuple(durations[None].explicit_bounds) == GENAI_DURATION_BOUNDARIES

    (first,) = points(found["gen_ai.client.operation.time_to_first_chunk"])
    assert first.count == 1 and dict(first.attributes or {}) == ok
    (per_chunk,) = points(found["gen_ai.client.operation.time_per_output_chunk"])
    # One record per request: the mean gap between the chunks after the first.
    assert per_chunk.count == 1 and dict(per_chunk.attributes or {}) == ok
    assert tuple(per_chunk.explicit_bounds) == GENAI_DURATION_BOUNDARIES
    assert per_chunk.sum <= durations[None].sum


# ── the label rules ─────────────────────────────────────────────────────────────────────────


def test_attempt_status_labels() -> None:
    def status(code: int | None, error: Any = None, reason: str | None = None) -> str:
        return attempt_status(AttemptReport(1, code, None, None, error, reason))

    assert status(200) == "200" and status(429, APIStatusError("x", status=429)) == "429"
    assert status(200, InStreamError("x", status=200, error_type="overloaded_error")) == "529"
    assert status(200, InStreamError("x", status=200, error_type="api_error")) == "500"
    assert status(200, APIConnectionError("cut")) == "connection_error"
    assert status(None, APITimeoutError("slow", phase="first_byte"), "timeout") == "timeout"
    assert status(None, None, "timeout") == "timeout" and status(None) == "connection_error"
    assert status(200, ProtocolError("bad")) == "protocol_error"
    assert status(999) == "_OTHER"


def test_error_type_labels() -> None:
    assert error_type(APIStatusError("x", status=529, error_type="overloaded_error")) == "overloaded_error"
    assert error_type(APIStatusError("proxy", status=503)) == "503"
    assert error_type(APITimeoutError("slow", phase="idle")) == "timeout"
    assert error_type(APIConnectionError("reset")) == "connection_error"
    assert error_type(ProtocolError("bad json")) == "protocol_error"
    assert error_type(asyncio.CancelledError()) == "cancelled"
    assert error_type(KeyError("x")) == "KeyError"
    assert error_type(APIStatusError("x", status=400, error_type="{weird type}")) == "_OTHER"


def test_vocabulary_lets_a_few_new_values_through_then_folds_them() -> None:
    words = Vocabulary(("end_turn",), extra=2)
    assert [words(w) for w in ("end_turn", "new_one", "new_two", "new_three", "new_one")] == [
        "end_turn",
        "new_one",
        "new_two",
        "_OTHER",
        "new_one",
    ]
    assert words("has space") == "_OTHER"
