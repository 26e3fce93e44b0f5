"""The metric instruments: Prometheus families (once per registry) and the OpenTelemetry GenAI histograms.

Only construction lives here; each model's labelled children are in ``series.py``, and what gets
measured when is in ``metrics.py``.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterable
from typing import Final

from opentelemetry.metrics import Histogram as OtelHistogram
from opentelemetry.metrics import Meter, MeterProvider
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .call_labels import Attribution, check_schema
from .labels import OTHER, Vocabulary
from .scope import SCOPE, scope_version
from .series import ModelSeries, UsageSeries

__all__ = [
    "DURATION_BUCKETS",
    "GENAI_DURATION_BOUNDARIES",
    "GENAI_TOKEN_BOUNDARIES",
    "OTHER",
    "OUTPUT_TOKEN_BUCKETS",
    "TIME_PER_TOKEN_BUCKETS",
    "TTFT_BUCKETS",
    "ModelSeries",
    "OtelInstruments",
    "PromInstruments",
    "UsageSeries",
    "Vocabulary",
    "check_registered",
    "otel_instruments",
    "prom_instruments",
]

#: Whole calls: a short answer in well under a second, a long Opus answer with retries in minutes.
DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: Time to first token: tens of ms on a warm cache, seconds with long prompts or thinking.
TTFT_BUCKETS: Final = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0)
#: Per output token after the first: a few ms on fast models, tens of ms on large ones.
TIME_PER_TOKEN_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0)
#: Output tokens per answer, up to the largest max_tokens (128k).
OUTPUT_TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)

#: The boundaries the GenAI semantic conventions advise, verbatim.
GENAI_TOKEN_BOUNDARIES: Final = tuple(4**i for i in range(14))  # 1, 4, 16, ..., 67108864
GENAI_DURATION_BOUNDARIES: Final = tuple(round(0.01 * 2**i, 2) for i in range(14))  # 0.01, 0.02, ..., 81.92


#: The labels every family but the refreshes starts with.
_KEY: Final = ("model", "provider")


class PromInstruments:
    """The ``axio_anthropic_*`` families on one registry. Get them with ``prom_instruments()``."""

    def __init__(self, registry: CollectorRegistry, attribution: Attribution | None = None) -> None:
        #: The call labels the requests, tokens and cost families carry after their own.
        self.attribution = attribution
        extra = attribution.names if attribution is not None else ()

        # Every family but the refreshes is by model and provider (the same model id is sold by
        # all three clouds); the provider is one of labels.PROVIDERS, or _OTHER.
        def counter(name: str, doc: str, label: str | None = None, unit: str = "", attributed: bool = False) -> Counter:
            labels: tuple[str, ...] = (*_KEY, label) if label else _KEY
            labels += extra if attributed else ()
            return Counter(name, doc, labels, unit=unit, registry=registry)

        def histogram(name: str, doc: str, buckets: Iterable[float], unit: str = "") -> Histogram:
            return Histogram(name, doc, _KEY, unit=unit, registry=registry, buckets=tuple(buckets))

        self.requests = counter(
            "axio_anthropic_requests",
            "stream() calls by how they ended (ok, error, cancelled).",
            "outcome",
            attributed=True,
        )
        self.attempts = counter(
            "axio_anthropic_attempts",
            "HTTP attempts by result: the HTTP status, or timeout, connection_error, protocol_error, cancelled.",
            "status",
        )
        self.retries = counter("axio_anthropic_retries", "Retries by the reason the attempt before failed.", "reason")
        self.backoff_seconds = counter(
            "axio_anthropic_backoff_seconds", "Seconds waited before retries, by reason.", "reason", unit="seconds"
        )
        self.tokens = counter(
            "axio_anthropic_tokens",
            "Billed tokens by type; input excludes the cache slices, so the types add up.",
            "type",
            attributed=True,
        )
        self.cache_hits = counter("axio_anthropic_cache_hits", "Responses that read from the prompt cache.")
        self.cache_misses = counter("axio_anthropic_cache_misses", "Responses that read nothing from the prompt cache.")
        self.cost = counter(
            "axio_anthropic_cost_usd", "Estimated cost in USD from the model's list prices.", attributed=True
        )
        self.stop_reasons = counter(
            "axio_anthropic_stop_reasons", "Responses by Anthropic's raw stop reason.", "reason"
        )
        self.errors = counter(
            "axio_anthropic_errors", "Failed requests by final error type (Anthropic's or the transport's)", "type"
        )
        self.duration = histogram(
            "axio_anthropic_request_duration_seconds",
            "stream() call duration, start to end, retries included (cancelled calls excluded).",
            DURATION_BUCKETS,
            "seconds",
        )
        self.ttft = histogram(
            "axio_anthropic_time_to_first_token_seconds",
            "From the call to the first content reaching the caller.",
            TTFT_BUCKETS,
            "seconds",
        )
        self.time_per_token = histogram(
            "axio_anthropic_time_per_output_token_seconds",
            "(duration - time to first token) / (output tokens - 1), for answers of 2+ tokens.",
            TIME_PER_TOKEN_BUCKETS,
            "seconds",
        )
        self.output_tokens = histogram(
            "axio_anthropic_output_tokens", "Output tokens per completed answer.", OUTPUT_TOKEN_BUCKETS
        )
        # livesum: the requests in flight now are those of the processes alive now.
        self.in_flight = Gauge(
            "axio_anthropic_in_flight_requests",
            "stream() calls under way.",
            _KEY,
            registry=registry,
            multiprocess_mode="livesum",
        )
        # mostrecent: the limits belong to the organisation, shared by every process, so the
        # latest reading from any process is the best estimate.
        self.ratelimit_remaining = Gauge(
            "axio_anthropic_ratelimit_remaining",
            "anthropic-ratelimit-*-remaining from the latest response that carried it.",
            (*_KEY, "resource"),
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.ratelimit_limit = Gauge(
            "axio_anthropic_ratelimit_limit",
            "anthropic-ratelimit-*-limit from the latest response that carried it.",
            (*_KEY, "resource"),
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.credential_refreshes = Counter(
            "axio_anthropic_credential_refreshes",
            "Cloud credential refreshes (a Google token, an AWS credential set) by outcome (ok, error).",
            ("provider", "outcome"),
            registry=registry,
        )
        self._models: dict[tuple[str, str], ModelSeries] = {}
        self._lock = threading.Lock()

    def series(self, model: str, provider: str = "anthropic") -> ModelSeries:
        """The children of ``model`` on ``provider``, a bounded label value (``provider_label``)."""
        key = (provider, model)
        found = self._models.get(key)
        if found is None:
            with self._lock:
                found = self._models.get(key)
                if found is None:
                    found = self._models[key] = ModelSeries(self, model, provider)
        return found


_BY_REGISTRY: Final[weakref.WeakKeyDictionary[CollectorRegistry, PromInstruments]] = weakref.WeakKeyDictionary()
_BY_REGISTRY_LOCK: Final = threading.Lock()


def prom_instruments(registry: CollectorRegistry, labels: tuple[str, ...] = (), cap: int = 0) -> PromInstruments:
    """The families on ``registry``, registered on first use: any number of transports may share
    one, if they agree on the call labels (a family's label names are fixed once registered)."""
    with _BY_REGISTRY_LOCK:
        found = _BY_REGISTRY.get(registry)
        if found is None:
            attribution = Attribution(labels, cap) if labels else None
            found = _BY_REGISTRY[registry] = PromInstruments(registry, attribution)
        else:
            check_schema(found.attribution, labels, cap)
        return found


def check_registered(registry: CollectorRegistry, labels: tuple[str, ...], cap: int) -> None:
    """``ConfigurationError`` now if ``registry`` already has families for other call labels."""
    with _BY_REGISTRY_LOCK:
        found = _BY_REGISTRY.get(registry)
    if found is not None:
        check_schema(found.attribution, labels, cap)


class OtelInstruments:
    """The GenAI client histograms, with the boundaries the semantic conventions advise."""

    __slots__ = ("credential_refresh", "duration", "time_per_chunk", "time_to_first_chunk", "token_usage")

    def __init__(self, meter: Meter) -> None:
        self.token_usage: OtelHistogram = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=GENAI_TOKEN_BOUNDARIES,
        )
        self.duration: OtelHistogram = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=GENAI_DURATION_BOUNDARIES,
        )
        self.time_to_first_chunk: OtelHistogram = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk in a streaming operation.",
            explicit_bucket_boundaries_advisory=GENAI_DURATION_BOUNDARIES,
        )
        self.time_per_chunk: OtelHistogram = meter.create_histogram(
            "gen_ai.client.operation.time_per_output_chunk",
            unit="s",
            description="Time between consecutive chunks after the first in a streaming operation.",
            explicit_bucket_boundaries_advisory=GENAI_DURATION_BOUNDARIES,
        )
        # Not a GenAI convention (it has none): the count is the refreshes, error.type the failed ones.
        self.credential_refresh: OtelHistogram = meter.create_histogram(
            "axio.anthropic.credential.refresh.duration",
            unit="s",
            description="Cloud credential refreshes (a Google token, an AWS credential set) and how long each took.",
            explicit_bucket_boundaries_advisory=GENAI_DURATION_BOUNDARIES,
        )


_BY_PROVIDER: Final[weakref.WeakKeyDictionary[MeterProvider, OtelInstruments]] = weakref.WeakKeyDictionary()
_BY_PROVIDER_LOCK: Final = threading.Lock()


def otel_instruments(provider: MeterProvider) -> OtelInstruments:
    """The histograms on ``provider``, made once per provider: each ``get_meter()`` on the API's
    proxy provider (no SDK set yet) is kept in its list for good, and the SDK warns of duplicates."""
    found = _BY_PROVIDER.get(provider)
    if found is None:
        with _BY_PROVIDER_LOCK:
            found = _BY_PROVIDER.get(provider)
            if found is None:
                found = OtelInstruments(provider.get_meter(SCOPE, scope_version()))
                with contextlib.suppress(TypeError):  # a provider that cannot be weakly referenced: not kept
                    _BY_PROVIDER[provider] = found
    return found
