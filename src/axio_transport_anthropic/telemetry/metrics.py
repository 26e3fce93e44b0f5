"""Metrics: Prometheus ``axio_anthropic_*`` series and the OpenTelemetry GenAI client histograms.

One ``Metrics`` per ``TelemetryConfig``; one ``_Observer`` per ``stream()`` call. Everything is
measured from the lifecycle callbacks alone, so the numbers do not depend on tracing or sampling.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from axio.events import StreamEvent
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanContext
from opentelemetry.util.types import AttributeValue
from prometheus_client import REGISTRY, CollectorRegistry, values

from ..decoder import STOP_REASONS, TokenCounts
from ..models import cost_usd
from ..retry import header_number
from .call_labels import SPAN_PREFIX, Attribution
from .instruments import OtelInstruments, otel_instruments, prom_instruments
from .labels import OTHER, RETRY_REASONS, Vocabulary, attempt_status, error_type, provider_label
from .lifecycle import AttemptReport, CredentialRefresh, Outcome, RequestInfo, ResponseReport
from .scope import PerProvider, global_meter_provider
from .series import ModelSeries, UsageSeries
from .setup import current

if TYPE_CHECKING:
    from . import TelemetryConfig

__all__ = ["Metrics", "attempt_status", "error_type", "registry_of"]

_NO_USAGE: Final = TokenCounts()
#: ``error``: a retried failure the retry rules gave no reason; not pre-created, it should never be seen.
_RETRY_REASONS: Final = Vocabulary((*RETRY_REASONS, "error"), extra=0)
_STOP_REASONS: Final = Vocabulary(STOP_REASONS)
#: ``anthropic-ratelimit-{name}-{limit,remaining}`` headers and the resource label each one feeds.
_RATELIMIT_HEADERS: Final = tuple(
    (f"anthropic-ratelimit-{name}-limit", f"anthropic-ratelimit-{name}-remaining", name.replace("-", "_"))
    for name in ("requests", "tokens", "input-tokens", "output-tokens")
)


def registry_of(config: TelemetryConfig) -> CollectorRegistry:
    return config.registry if config.registry is not None else REGISTRY


def _multiprocess() -> bool:
    # prometheus-client picks its value class once, at import, from PROMETHEUS_MULTIPROC_DIR.
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def _exemplar(context: SpanContext) -> dict[str, str] | None:
    """Trace and span id of the request's span, when it is sampled: an unsampled trace is never
    stored, so an exemplar pointing at it would lead nowhere."""
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def _spans_unexported() -> bool:
    """Whether the ``setup()`` in effect records spans that go nowhere (checked per request: it can
    change)."""
    handle = current()
    return handle is not None and handle.traces == "recorded"


class Metrics:
    """The metrics sink of one ``TelemetryConfig``: makes one observer per ``stream()`` call."""

    __slots__ = ("_exemplars", "_follow_setup", "_meter_provider", "_otel", "_prom")

    def __init__(self, config: TelemetryConfig) -> None:
        self._prom = prom_instruments(registry_of(config), config.labels, config.label_values)
        self._meter_provider = config.meter_provider
        self._otel: PerProvider[MeterProvider, OtelInstruments] = PerProvider(otel_instruments)
        # prometheus-client cannot store exemplars across processes; skip building them there.
        self._exemplars = not _multiprocess() and config.exemplars is not False
        # With a provider of its own, where spans go is the host's business.
        self._follow_setup = config.exemplars is None and config.tracer_provider is None

    @property
    def attribution(self) -> Attribution | None:
        """The call labels of this config's registry, shared by every config on it."""
        return self._prom.attribution

    def start(self, info: RequestInfo, span: SpanContext) -> _Observer:
        # The provider in effect now, so that a host setting one up later (again) is followed.
        otel = self._otel(self._meter_provider or global_meter_provider())
        exemplar = _exemplar(span) if self._exemplars and not (self._follow_setup and _spans_unexported()) else None
        series = self._prom.series(info.model.id, provider_label(info.provider))
        return _Observer(info, series, otel, exemplar)


class _Observer:
    """Measurements for one ``stream()`` call; everything but the in-flight gauge is recorded at the end."""

    __slots__ = (
        "_attempt_open",
        "_chunks",
        "_exemplar",
        "_first_token",
        "_info",
        "_last_chunk",
        "_open",
        "_otel",
        "_series",
        "_started",
        "_usage",
    )

    def __init__(
        self, info: RequestInfo, series: ModelSeries, otel: OtelInstruments, exemplar: dict[str, str] | None
    ) -> None:
        self._info = info
        self._series = series
        self._usage: UsageSeries = series.usage(info.labels)
        self._otel = otel
        self._exemplar = exemplar
        self._started = time.perf_counter()
        self._first_token: float | None = None
        self._last_chunk = 0.0
        self._chunks = 0
        self._attempt_open = False
        self._open = True
        series.in_flight.inc()

    def attempt_started(self, attempt: int, headers: dict[str, str]) -> None:
        self._attempt_open = True

    def attempt_ended(self, report: AttemptReport) -> None:
        self._attempt_open = False
        series = self._series
        series.attempts(attempt_status(report)).inc()
        headers = report.headers
        if headers:
            for limit_name, remaining_name, resource in _RATELIMIT_HEADERS:
                if (limit := header_number(headers, limit_name)) is not None:
                    series.ratelimit_limit(resource).set(limit)
                if (remaining := header_number(headers, remaining_name)) is not None:
                    series.ratelimit_remaining(resource).set(remaining)

    def credential_refresh(self, attempt: int, refresh: CredentialRefresh) -> None:
        failed = refresh.error is not None
        self._series.credential_refreshes("error" if failed else "ok").inc()
        info = self._info
        attributes: dict[str, AttributeValue] = {
            "gen_ai.provider.name": info.provider,
            "server.address": info.server_address,
        }
        if failed:
            attributes["error.type"] = error_type(refresh.error)
        self._otel.credential_refresh.record(max(0.0, refresh.seconds), attributes)

    def backoff(self, attempt: int, reason: str, delay: float, server_requested: bool) -> None:
        label = _RETRY_REASONS(reason)
        self._series.retries(label).inc()
        self._series.backoff_seconds(label).inc(max(0.0, delay))

    def first_token(self, events: Sequence[StreamEvent] = ()) -> None:
        self._first_token = self._last_chunk = time.perf_counter()

    def chunk(self, events: Sequence[StreamEvent]) -> None:
        # The hot path: a clock read and a count. An SDK histogram record costs ~10 us, so the
        # chunks are recorded once per request, as their mean gap (keeps telemetry under 10%).
        self._last_chunk = time.perf_counter()
        self._chunks += 1

    def finished(self, outcome: Outcome, response: ResponseReport, error: BaseException | None) -> None:
        if not self._open:
            return
        self._open = False
        series = self._series
        series.in_flight.dec()
        duration = time.perf_counter() - self._started
        ttft = self._first_token - self._started if self._first_token is not None else None
        failure = None if outcome == "ok" else ("cancelled" if outcome == "cancelled" else error_type(error))
        if self._attempt_open:
            # Cancelled mid-attempt, or failed in a way attempt_ended never heard of: still an attempt sent.
            series.attempts(failure or OTHER).inc()
        self._usage.requests[outcome].inc()
        if outcome == "error":
            series.errors(failure or OTHER).inc()
        counts = response.counts
        has_usage = response.response_id is not None or response.response_model is not None or counts != _NO_USAGE
        if has_usage:
            self._count_usage(counts)
        if response.stop_reason:
            series.stop_reasons(_STOP_REASONS(response.stop_reason)).inc()
        exemplar = self._exemplar
        if outcome != "cancelled":
            series.duration.observe(duration, exemplar)
        if ttft is not None:
            series.ttft.observe(ttft, exemplar)
        if outcome == "ok":
            series.output_tokens.observe(counts.output, exemplar)
            if ttft is not None and counts.output > 1:
                series.time_per_token.observe((duration - ttft) / (counts.output - 1), exemplar)
        self._record_otel(duration, ttft, failure, response, has_usage)

    def _count_usage(self, counts: TokenCounts) -> None:
        series = self._series
        tokens = self._usage.tokens
        for kind, amount in (
            ("input", counts.uncached_input),
            ("output", counts.output),
            ("cache_read", counts.cache_read),
            ("cache_creation", counts.cache_write),
        ):
            if amount > 0:
                tokens[kind].inc(amount)
        (series.cache_hits if counts.cache_read > 0 else series.cache_misses).inc()
        cost = cost_usd(
            self._info.model,
            uncached_input=counts.uncached_input,
            output=counts.output,
            cache_read=counts.cache_read,
            cache_write_5m=counts.cache_write_5m,
            cache_write_1h=counts.cache_write_1h,
        )
        if cost > 0:
            self._usage.cost.inc(cost)

    def _record_otel(
        self, duration: float, ttft: float | None, failure: str | None, response: ResponseReport, has_usage: bool
    ) -> None:
        info = self._info
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": info.operation,
            "gen_ai.provider.name": info.provider,
            "gen_ai.request.model": info.model.id,
            "server.address": info.server_address,
            "server.port": info.server_port,
        }
        if response.response_model:
            attributes["gen_ai.response.model"] = response.response_model
        if failure is not None:
            attributes["error.type"] = failure
        otel = self._otel
        if ttft is not None:
            otel.time_to_first_chunk.record(ttft, attributes)
        if self._chunks and self._first_token is not None:
            otel.time_per_chunk.record((self._last_chunk - self._first_token) / self._chunks, attributes)
        # Usage (tokens, and calls: the duration's count) by call label; latency by model only.
        for name, value in info.labels:
            if value:
                attributes[SPAN_PREFIX + name] = value
        otel.duration.record(duration, attributes)
        if has_usage:
            counts = response.counts
            # GenAI input is the grand total, the cache slices included.
            total_input = counts.uncached_input + counts.cache_read + counts.cache_write
            otel.token_usage.record(total_input, {**attributes, "gen_ai.token.type": "input"})
            otel.token_usage.record(counts.output, {**attributes, "gen_ai.token.type": "output"})
