"""Per-minute token buckets and the `anthropic-ratelimit-*` headers that describe them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = ["DEFAULT_RATE_LIMITS", "Denial", "RateLimiter"]

DEFAULT_RATE_LIMITS: Final[Mapping[str, int]] = {
    "requests": 4000,
    "tokens": 2_000_000,
    "input-tokens": 1_600_000,
    "output-tokens": 400_000,
}

_WINDOW_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a request was refused and how long until it would fit."""

    bucket: str
    limit: int
    retry_after: int

    @property
    def message(self) -> str:
        unit = self.bucket.replace("-", " ")
        return f"This request would exceed the rate limit of {self.limit:,} {unit} per minute"


class _Bucket:
    """Refills continuously to `limit` over a minute, the way the API describes its limits."""

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.level = float(limit)
        self._updated = now

    @property
    def rate(self) -> float:
        return self.limit / _WINDOW_SECONDS

    def refill(self, now: float) -> None:
        self.level = min(float(self.limit), self.level + (now - self._updated) * self.rate)
        self._updated = now

    def wait_for(self, amount: int) -> float:
        missing = min(amount, self.limit) - self.level
        return max(0.0, missing / self.rate)


class RateLimiter:
    def __init__(
        self,
        limits: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        merged = dict(DEFAULT_RATE_LIMITS)
        for key, value in (limits or {}).items():
            name = key.replace("_", "-")
            if name not in DEFAULT_RATE_LIMITS:
                raise ValueError(f"unknown rate limit {key!r}; known: {list(DEFAULT_RATE_LIMITS)}")
            if value < 1:
                raise ValueError(f"rate limit {key!r} must be >= 1, not {value}")
            merged[name] = value
        self._clock = clock
        self._wall_clock = wall_clock
        now = clock()
        self._buckets = {name: _Bucket(limit, now) for name, limit in merged.items()}

    def admit(self, input_tokens: int, output_tokens: int) -> Denial | None:
        """Charge one request, or refuse it without charging anything."""
        cost = {
            "requests": 1,
            "tokens": input_tokens + output_tokens,
            "input-tokens": input_tokens,
            "output-tokens": output_tokens,
        }
        now = self._clock()
        for bucket in self._buckets.values():
            bucket.refill(now)
        for name, bucket in self._buckets.items():
            wait = bucket.wait_for(cost[name])
            if wait > 0:
                return Denial(name, bucket.limit, max(1, math.ceil(wait)))
        for name, bucket in self._buckets.items():
            bucket.level -= cost[name]
        return None

    def headers(self) -> dict[str, str]:
        now = self._clock()
        wall = self._wall_clock()
        headers: dict[str, str] = {}
        for name, bucket in self._buckets.items():
            bucket.refill(now)
            full_in = (bucket.limit - bucket.level) / bucket.rate
            reset = (wall + timedelta(seconds=math.ceil(full_in))).strftime("%Y-%m-%dT%H:%M:%SZ")
            prefix = f"anthropic-ratelimit-{name}"
            headers[f"{prefix}-limit"] = str(bucket.limit)
            headers[f"{prefix}-remaining"] = str(max(0, math.floor(bucket.level)))
            headers[f"{prefix}-reset"] = reset
        return headers
