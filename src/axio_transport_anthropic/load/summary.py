"""A run's numbers, read back from the transport's Prometheus registry, and their JSON form.

Reading the registry rather than counting on the side means the counts are exactly what
``/metrics`` served: a scrape after the run and this summary cannot disagree. Latency quantiles
are the exception: buckets cannot give them, so they come from each request's measured values
(``latency.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..telemetry.exports import ExportReport
from .latency import NO_DATA, Latencies, Latency

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["Latency", "LiveTotals", "RunContext", "RunCounts", "Summary", "read_summary", "read_totals"]

_PREFIX: Final = "axio_anthropic_"
_OUTCOMES: Final = ("ok", "error", "cancelled")
_TOKEN_TYPES: Final = ("input", "output", "cache_read", "cache_creation")


@dataclass(frozen=True, slots=True)
class RunCounts:
    """Agent runs (tool loops): ``failed`` ended on an error, ``cancelled`` were cut off by a stop."""

    started: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(frozen=True, slots=True)
class RunContext:
    """What the runner knows that the registry does not."""

    target: str
    simulator: bool
    model: str
    profile: str | None
    concurrency: int
    wall_seconds: float
    interrupted: bool
    runs: RunCounts
    metrics_url: str | None = None
    provider: str = "anthropic"


@dataclass(frozen=True, slots=True)
class LiveTotals:
    """The running totals the progress bar shows."""

    requests: int = 0
    tokens: int = 0
    retries: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class Summary:
    context: RunContext
    requests: Mapping[str, int]
    attempts: Mapping[str, int]
    retries: Mapping[str, int]
    backoff_seconds: float
    errors: Mapping[str, int]
    tokens: Mapping[str, int]
    stop_reasons: Mapping[str, int]
    cache_hits: int
    cache_misses: int
    cost_usd: float
    duration: Latency
    """Over the requests that succeeded (as is ``ttft``, so no TTFT quantile exceeds its duration's)."""
    ttft: Latency
    latency_sample: int | None = None
    """How many requests the quantiles were taken from, when that is a sample of ``duration.count``."""
    exports: tuple[ExportReport, ...] = ()
    """What the OTLP exporters delivered, known once telemetry has shut down."""

    @property
    def requests_total(self) -> int:
        return sum(self.requests.values())

    @property
    def attempts_total(self) -> int:
        """HTTP requests sent: one per ``stream()`` call plus one per retry."""
        return sum(self.attempts.values())

    @property
    def tokens_total(self) -> int:
        return sum(self.tokens.values())

    @property
    def cache_hit_ratio(self) -> float | None:
        answered = self.cache_hits + self.cache_misses
        return self.cache_hits / answered if answered else None

    def per_second(self, amount: float) -> float:
        wall = self.context.wall_seconds
        return amount / wall if wall > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document; its keys are documented in the README and stable."""
        ctx = self.context
        return {
            "provider": ctx.provider,
            "target": ctx.target,
            "simulator": ctx.simulator,
            "model": ctx.model,
            "profile": ctx.profile,
            "concurrency": ctx.concurrency,
            "interrupted": ctx.interrupted,
            "wall_seconds": round(ctx.wall_seconds, 6),
            "metrics_url": ctx.metrics_url,
            "runs": {
                "started": ctx.runs.started,
                "completed": ctx.runs.completed,
                "failed": ctx.runs.failed,
                "cancelled": ctx.runs.cancelled,
            },
            "requests": {
                "total": self.requests_total,
                **self.requests,
                "per_second": self.per_second(self.requests_total),
            },
            "attempts": {"total": self.attempts_total, "by_status": dict(self.attempts)},
            "retries": {
                "total": sum(self.retries.values()),
                "by_reason": dict(self.retries),
                "backoff_seconds": self.backoff_seconds,
            },
            "errors": {"total": sum(self.errors.values()), "by_type": dict(self.errors)},
            "tokens": {
                "total": self.tokens_total,
                "by_type": dict(self.tokens),
                "per_second": self.per_second(self.tokens_total),
            },
            "cache": {"hits": self.cache_hits, "misses": self.cache_misses, "hit_ratio": self.cache_hit_ratio},
            "cost_usd": self.cost_usd,
            "stop_reasons": dict(self.stop_reasons),
            "request_duration_seconds": self.duration.to_json(),
            "time_to_first_token_seconds": self.ttft.to_json(),
            "exports": [report.to_json() for report in self.exports],
        }


def read_summary(registry: CollectorRegistry, context: RunContext, latencies: Latencies | None = None) -> Summary:
    """The counts from ``registry``, the latency quantiles from ``latencies`` (none without)."""
    counters = _read(registry)

    def counts(name: str, keys: tuple[str, ...] = ()) -> dict[str, int]:
        found = {key: round(value) for key, value in counters.get(name, {}).items() if value > 0}
        # Fixed keys first, in their order; the rest in one order, whichever was seen first.
        rest = sorted((key for key in found if key not in keys), key=_order)
        return {**{key: found.get(key, 0) for key in keys}, **{key: found[key] for key in rest}}

    def total(name: str) -> float:
        return sum(counters.get(name, {}).values())

    duration, ttft = latencies.summaries() if latencies is not None else (NO_DATA, NO_DATA)
    sample = latencies.capacity if latencies is not None and latencies.sampled else None

    return Summary(
        context=context,
        requests=counts("requests", _OUTCOMES),
        attempts=counts("attempts"),
        retries=counts("retries"),
        backoff_seconds=float(total("backoff_seconds")),
        errors=counts("errors"),
        tokens=counts("tokens", _TOKEN_TYPES),
        stop_reasons=counts("stop_reasons"),
        cache_hits=round(total("cache_hits")),
        cache_misses=round(total("cache_misses")),
        cost_usd=float(total("cost_usd")),
        duration=duration,
        ttft=ttft,
        latency_sample=sample,
    )


def _order(key: str) -> tuple[int, int, str]:
    """``200`` first, then other status codes by number, then names alphabetically."""
    if key == "200":
        return (0, 0, key)
    if key.isdigit():
        return (1, int(key), key)
    return (2, 0, key)


def read_totals(registry: CollectorRegistry) -> LiveTotals:
    counters = _read(registry)

    def total(name: str) -> int:
        return round(sum(counters.get(name, {}).values()))

    return LiveTotals(total("requests"), total("tokens"), total("retries"), total("errors"))


#: The labels every request family has, that name the series rather than what was counted.
_SERIES_KEY: Final = ("model", "provider")


def _read(registry: CollectorRegistry) -> dict[str, dict[str, float]]:
    """Counters as ``{family: {label value: total}}``, summed over models and providers."""
    counters: dict[str, dict[str, float]] = {}
    for family in registry.collect():
        if not family.name.startswith(_PREFIX):
            continue
        name = family.name.removeprefix(_PREFIX)
        if family.type == "counter":
            by_label = counters.setdefault(name, {})
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    # The one label besides model and provider (outcome, reason, type...), or "".
                    key = next((v for k, v in sample.labels.items() if k not in _SERIES_KEY), "")
                    by_label[key] = by_label.get(key, 0.0) + sample.value
    return counters
