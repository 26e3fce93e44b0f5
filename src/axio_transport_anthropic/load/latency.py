"""Each request's duration and time to first token, as measured, for the summary's quantiles.

Prometheus histograms answer "how many under 50 ms", not "what is the median": interpolating
within a 0-50 ms bucket says 25 ms whatever the values were. The summary's quantiles come from
the values themselves instead, kept per successful request as a (duration, TTFT) pair: both
quantiles over the same requests, and each TTFT at most its request's duration, so every TTFT
quantile is at most the duration quantile by construction.

Memory stays bounded on day-long runs: up to ``capacity`` pairs are kept exactly (16 bytes each,
3.2 MB at the default); beyond that a uniform sample of that many (reservoir sampling), which puts
a p99 within about 0.05 percentile points. Count and mean are always exact.
"""

from __future__ import annotations

import math
import random
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from axio.events import StreamEvent
from opentelemetry.trace import SpanContext

from ..telemetry.lifecycle import AttemptReport, CredentialRefresh, Outcome, RequestInfo, ResponseReport

__all__ = ["DEFAULT_CAPACITY", "Latencies", "Latency", "quantile"]

#: Requests kept exactly before sampling starts.
DEFAULT_CAPACITY: Final = 200_000


@dataclass(frozen=True, slots=True)
class Latency:
    """Quantiles and mean of one latency (``None`` with no observation)."""

    count: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "p50": self.p50, "p95": self.p95, "p99": self.p99}


NO_DATA: Final = Latency(0, None, None, None, None)


def quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolating between the two nearest ranks (numpy's
    default): monotone in the values, so a pairwise smaller sample has smaller quantiles."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Latencies:
    """A telemetry sink (``TelemetryConfig(sinks=...)``) keeping successful requests' latencies."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._capacity = capacity
        self._random = random.Random(seed)
        self._durations = array("d")
        self._ttfts = array("d")
        self._count = 0
        self._duration_sum = 0.0
        self._ttft_sum = 0.0

    @property
    def sampled(self) -> bool:
        """Whether the quantiles come from a sample (more requests than ``capacity``)."""
        return self._count > self._capacity

    @property
    def count(self) -> int:
        return self._count

    @property
    def capacity(self) -> int:
        return self._capacity

    def start(self, info: RequestInfo, span: SpanContext) -> _Request:
        return _Request(self)

    def record(self, duration: float, ttft: float) -> None:
        """One successful request; ``ttft`` is clamped to ``duration``."""
        ttft = min(ttft, duration)
        self._count += 1
        self._duration_sum += duration
        self._ttft_sum += ttft
        if len(self._durations) < self._capacity:
            self._durations.append(duration)
            self._ttfts.append(ttft)
            return
        # Reservoir sampling: the n-th request replaces a kept one with probability capacity / n,
        # the pair together, so that both quantiles stay over the same requests.
        slot = self._random.randrange(self._count)
        if slot < self._capacity:
            self._durations[slot] = duration
            self._ttfts[slot] = ttft

    def summaries(self) -> tuple[Latency, Latency]:
        """(request duration, time to first token)."""
        if not self._count:
            return NO_DATA, NO_DATA
        return (
            self._latency(self._durations, self._duration_sum),
            self._latency(self._ttfts, self._ttft_sum),
        )

    def _latency(self, values: array[float], total: float) -> Latency:
        ordered = sorted(values)
        p50, p95, p99 = (quantile(ordered, q) for q in (0.5, 0.95, 0.99))
        return Latency(self._count, total / self._count, p50, p95, p99)


class _Request:
    """One ``stream()`` call: only a success with a first token is kept (a failure's latency
    says how it failed, and is in the Prometheus histograms)."""

    __slots__ = ("_first", "_sink", "_started")

    def __init__(self, sink: Latencies) -> None:
        self._sink = sink
        self._started = time.perf_counter()
        self._first: float | None = None

    def attempt_started(self, attempt: int, headers: dict[str, str]) -> None:
        pass

    def attempt_ended(self, report: AttemptReport) -> None:
        pass

    def credential_refresh(self, attempt: int, refresh: CredentialRefresh) -> None:
        pass

    def backoff(self, attempt: int, reason: str, delay: float, server_requested: bool) -> None:
        pass

    def first_token(self, events: Sequence[StreamEvent] = ()) -> None:
        self._first = time.perf_counter()

    def chunk(self, events: Sequence[StreamEvent]) -> None:
        pass

    def finished(self, outcome: Outcome, response: ResponseReport, error: BaseException | None) -> None:
        if outcome == "ok" and self._first is not None:
            self._sink.record(time.perf_counter() - self._started, self._first - self._started)
