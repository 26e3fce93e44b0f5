"""Whether a failed attempt is worth repeating, and how long to wait first. No IO, no clocks.

Two questions, two functions (``should_retry`` and ``retry_delay``), plus the low-cardinality
``reason`` every log line and metric uses to say why a retry happened.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Literal

__all__ = ["RetryReason", "backoff", "header_number", "reason_for", "retry_delay", "server_delay", "should_retry"]

RetryReason = Literal["rate_limited", "overloaded", "server_error", "timeout", "connection_error", "conflict"]

#: Statuses the same request may yet succeed on. 408/409 are the API's "try again" signals.
_RETRYABLE: Final = frozenset({408, 409, 429})

#: What each in-stream error type would have been as an HTTP status, so one rule covers both.
STATUS_OF_ERROR_TYPE: Final[Mapping[str, int]] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
    # Bedrock's in-stream exceptions, as the issue maps them. modelStreamErrorException is a 424
    # in the service model, but the model failed mid-answer: a new attempt may well succeed.
    "throttlingException": 429,
    "serviceUnavailableException": 503,
    "internalServerException": 500,
    "modelStreamErrorException": 500,
    "modelTimeoutException": 408,
    "validationException": 400,
}


def should_retry(status: int, headers: Mapping[str, str] | None = None) -> bool:
    """Whether an attempt that ended with ``status`` may be repeated.

    ``x-should-retry`` is the server's own verdict and wins over the status.
    """
    if headers is not None:
        verdict = (_header(headers, "x-should-retry") or "").strip().lower()
        if verdict == "true":
            return True
        if verdict == "false":
            return False
    return status in _RETRYABLE or status >= 500


def reason_for(status: int | None, *, timeout: bool = False) -> RetryReason:
    """The label a retry is counted and logged under. ``None`` means no response at all."""
    if status is None:
        return "timeout" if timeout else "connection_error"
    if status == 429:
        return "rate_limited"
    if status == 529:
        return "overloaded"
    if status in (408, 409):
        return "conflict"
    if status == 504:
        return "timeout"
    return "server_error"


def server_delay(headers: Mapping[str, str] | None, *, now: datetime | None = None) -> float | None:
    """The wait the server asked for, in seconds, or ``None`` where it asked for none we can read.

    ``retry-after-ms`` is the precise form; ``retry-after`` is seconds (fractions allowed) or an
    HTTP date. A negative, non-finite or past value is no request at all.
    """
    if not headers:
        return None
    if (ms := header_number(headers, "retry-after-ms")) is not None:
        return ms / 1000
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    if (seconds := _number(raw)) is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = (when - (now or datetime.now(UTC))).total_seconds()
    return wait if wait > 0 else None


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential wait before retry number ``attempt`` (from 1), jittered into [50%, 100%].

    Jitter spreads the retries of many clients that failed together, so they do not come back
    together; keeping half the wait keeps a floor under each client's own pace.
    """
    # The exponent is bounded so a late attempt cannot overflow a float.
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    return ceiling * (0.5 + 0.5 * rng.random())


def retry_delay(
    attempt: int,
    headers: Mapping[str, str] | None,
    *,
    base: float,
    cap: float,
    rng: random.Random,
) -> tuple[float, bool]:
    """How long to wait before retry number ``attempt``, and whether the server chose it."""
    asked = server_delay(headers)
    if asked is not None:
        return asked, True
    return backoff(attempt, base=base, cap=cap, rng=rng), False


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    """A header holding a finite, non-negative number (a wait, a limit, a count), or ``None``."""
    return _number(_header(headers, name))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever the case it was spelled in (HTTP names are case-insensitive)."""
    if (value := headers.get(name)) is not None:
        return value
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if 0 <= value < float("inf") else None
