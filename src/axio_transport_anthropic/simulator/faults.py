"""Faults the simulator can inject, one at a time or at configured rates."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .wire import ERROR_TYPE_BY_STATUS

__all__ = ["FAULT_KINDS", "PLAIN_TEXT_PROXY_ERROR", "Fault", "FaultProfile"]

PLAIN_TEXT_PROXY_ERROR: Final = (
    "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
)

_SERVER_ERROR_MESSAGES: Final = {
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Request timed out",
}

#: Kinds answered with an HTTP status before any body is produced.
_HTTP_KINDS: Final = frozenset(
    {
        "rate_limited",
        "overloaded",
        "server_error",
        "server_error_plain",
        "http_error",
        "reset_before",
        "resource_exhausted",
    }
)
#: Vertex AI's quota error, as Google words it.
_QUOTA_MESSAGE: Final = (
    "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: "
    "anthropic-claude. Please submit a quota increase request."
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour for one request; build it with the class-method constructors."""

    kind: str
    status: int = 200
    error_type: str = ""
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    after_events: int = 0
    delay: float = 0.0
    wrapped: bool = False
    """``resource_exhausted``: Google's envelope inside a one-element array, as Vertex sometimes sends it."""

    @property
    def before_body(self) -> bool:
        """True when the fault replaces the whole response, so no reply is generated."""
        return self.kind in _HTTP_KINDS

    @classmethod
    def rate_limited(
        cls,
        retry_after: float | None = 1.0,
        retry_after_ms: int | None = None,
        should_retry: bool | None = None,
    ) -> Fault:
        headers: list[tuple[str, str]] = []
        if retry_after is not None:
            headers.append(("retry-after", _seconds(retry_after)))
        if retry_after_ms is not None:
            headers.append(("retry-after-ms", str(retry_after_ms)))
        if should_retry is not None:
            headers.append(("x-should-retry", "true" if should_retry else "false"))
        message = "This request would exceed your organization's rate limit. Please try again later."
        return cls("rate_limited", 429, "rate_limit_error", message, tuple(headers))

    @classmethod
    def overloaded(cls) -> Fault:
        return cls("overloaded", 529, "overloaded_error", "Overloaded")

    @classmethod
    def server_error(cls, status: int = 500, plain_text: bool = False) -> Fault:
        if status not in _SERVER_ERROR_MESSAGES:
            raise ValueError(f"server_error status must be one of {sorted(_SERVER_ERROR_MESSAGES)}, not {status}")
        if plain_text:
            return cls("server_error_plain", status, "", PLAIN_TEXT_PROXY_ERROR)
        return cls("server_error", status, ERROR_TYPE_BY_STATUS[status], _SERVER_ERROR_MESSAGES[status])

    @classmethod
    def http_error(cls, status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None) -> Fault:
        if not 400 <= status <= 599:
            raise ValueError(f"http_error status must be 4xx or 5xx, not {status}")
        return cls("http_error", status, error_type, message, tuple((headers or {}).items()))

    @classmethod
    def resource_exhausted(cls, wrapped: bool = False) -> Fault:
        """A quota 429: Google's ``RESOURCE_EXHAUSTED`` envelope on the Vertex route (where the
        ``rate_limited`` of a profile looks the same), Anthropic's ``rate_limit_error`` elsewhere."""
        return cls("resource_exhausted", 429, "rate_limit_error", _QUOTA_MESSAGE, wrapped=wrapped)

    @classmethod
    def reset(cls, after_events: int | None = None) -> Fault:
        if after_events is None:
            return cls("reset_before")
        return cls("reset_after", after_events=_count(after_events))

    @classmethod
    def stream_error(
        cls, error_type: str = "overloaded_error", message: str = "Overloaded", after_events: int = 0
    ) -> Fault:
        return cls("stream_error", 200, error_type, message, after_events=_count(after_events))

    @classmethod
    def slow_first_byte(cls, delay: float) -> Fault:
        return cls("slow_first_byte", delay=_duration(delay))

    @classmethod
    def stall(cls, after_events: int = 1, duration: float = 3600.0) -> Fault:
        return cls("stall", after_events=_count(after_events), delay=_duration(duration))


def _seconds(value: float) -> str:
    # Whole numbers go out as "1" (what the API sends); fractions such as "0.01" keep tests fast.
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"retry_after must be a finite non-negative number, not {value}")
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _count(value: int) -> int:
    if value < 0:
        raise ValueError(f"after_events must be >= 0, not {value}")
    return value


def _duration(value: float) -> float:
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"a delay must be a finite non-negative number, not {value}")
    return value


#: How a profile turns a kind name into a concrete fault; parameters vary with the profile's RNG.
_BUILDERS: Final[Mapping[str, Callable[[random.Random], Fault]]] = MappingProxyType(
    {
        "rate_limited": lambda rng: Fault.rate_limited(retry_after=rng.choice((1, 2, 5))),
        "overloaded": lambda rng: Fault.overloaded(),
        "server_error": lambda rng: Fault.server_error(rng.choice((500, 502, 503, 504))),
        "server_error_plain": lambda rng: Fault.server_error(503, plain_text=True),
        "reset_before": lambda rng: Fault.reset(),
        "reset_after": lambda rng: Fault.reset(after_events=rng.randint(1, 4)),
        "stream_error": lambda rng: Fault.stream_error(after_events=rng.randint(0, 3)),
        "slow_first_byte": lambda rng: Fault.slow_first_byte(round(rng.uniform(0.5, 2.0), 2)),
        "stall": lambda rng: Fault.stall(after_events=rng.randint(1, 3)),
    }
)

FAULT_KINDS: Final = tuple(_BUILDERS)

_PRESETS: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "none": {},
        "flaky": {
            "rate_limited": 0.02,
            "overloaded": 0.02,
            "server_error": 0.01,
            "reset_before": 0.01,
            "reset_after": 0.01,
        },
        "rate-limited": {"rate_limited": 0.30},
        "overloaded": {"overloaded": 0.20, "stream_error": 0.10},
        "chaos": {
            "rate_limited": 0.06,
            "overloaded": 0.06,
            "server_error": 0.05,
            "server_error_plain": 0.03,
            "reset_before": 0.04,
            "reset_after": 0.04,
            "stream_error": 0.05,
            "slow_first_byte": 0.04,
            "stall": 0.03,
        },
    }
)


class FaultProfile:
    """Picks a fault (or none) per request with fixed probabilities; the same seed gives the same picks."""

    def __init__(self, rates: Mapping[str, float], seed: int = 0) -> None:
        unknown = sorted(set(rates) - set(_BUILDERS))
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {list(FAULT_KINDS)}")
        if any(not 0.0 <= rate <= 1.0 for rate in rates.values()):
            raise ValueError("fault rates must be between 0 and 1")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {sum(rates.values()):.3f}, more than 1")
        # Fixed kind order keeps picks independent of the mapping's insertion order.
        self._rates = {kind: rates[kind] for kind in FAULT_KINDS if rates.get(kind, 0.0) > 0.0}
        self._seed = seed
        self._rng = random.Random(seed)

    @classmethod
    def named(cls, name: str, seed: int = 0) -> FaultProfile:
        if name not in _PRESETS:
            raise ValueError(f"unknown fault profile {name!r}; known: {list(_PRESETS)}")
        return cls(_PRESETS[name], seed)

    @staticmethod
    def names() -> tuple[str, ...]:
        return tuple(_PRESETS)

    @property
    def rates(self) -> Mapping[str, float]:
        return MappingProxyType(self._rates)

    @property
    def seed(self) -> int:
        return self._seed

    def choose(self) -> Fault | None:
        # Draw even when nothing fires: the picks then depend only on the seed and the request count.
        draw = self._rng.random()
        for kind, rate in self._rates.items():
            if draw < rate:
                return _BUILDERS[kind](self._rng)
            draw -= rate
        return None

    def __repr__(self) -> str:
        return f"FaultProfile({dict(self._rates)!r}, seed={self._seed})"
