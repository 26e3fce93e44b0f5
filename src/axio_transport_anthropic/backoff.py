"""Whether the retry loop tries again after a failed attempt, and after how long."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from .attempt import AttemptFailed
from .errors import APITimeoutError
from .retry import retry_delay

if TYPE_CHECKING:
    from .transport import AnthropicTransport

__all__ = ["retry_wait"]

logger = logging.getLogger("axio_transport_anthropic")

#: A server asking for a longer wait than this is not waited for: the caller hears about it now.
LONGEST_SERVER_WAIT: Final = 900.0


def retry_wait(
    t: AnthropicTransport, failed: AttemptFailed, attempt: int, committed: bool, now: float, deadline: float | None
) -> tuple[float, bool] | None:
    """Seconds to wait before the next attempt and whether the server asked for them, or
    ``None`` to give up now (and why, logged)."""
    error = failed.error
    context = f"{error!s}"
    if committed:
        logger.debug("Not retrying: the caller already received part of this answer. %s", context)
        return None
    if not failed.retryable:
        logger.debug("Not retrying: %s", context)
        return None
    if attempt > t.max_retries:
        logger.debug("Giving up after %d attempts (max_retries=%d). %s", attempt, t.max_retries, context)
        return None
    delay, asked = retry_delay(attempt, failed.headers, base=t.retry_base_delay, cap=t.retry_max_delay, rng=t._rng)
    if asked and delay > LONGEST_SERVER_WAIT:
        logger.debug("Not retrying: the server asked to wait %.0fs. %s", delay, context)
        error.message += f" (the server asked to retry in {delay:.0f}s, longer than the {LONGEST_SERVER_WAIT:.0f}s"
        error.message += " this transport waits)"
        return None
    if deadline is not None and now + delay >= deadline:
        logger.debug("Not retrying: waiting %.2fs would pass the deadline. %s", delay, context)
        if not isinstance(error, APITimeoutError):
            error.message += f" (a retry in {delay:.2f}s would have passed the deadline)"
        return None
    return delay, asked
