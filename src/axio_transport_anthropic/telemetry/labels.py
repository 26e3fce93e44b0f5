"""Bounded label values shared by metrics, spans and logs: one name for each kind of failure."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterable
from typing import Final, get_args

from ..errors import AnthropicError, APIConnectionError, APITimeoutError, InStreamError, ProtocolError
from ..retry import STATUS_OF_ERROR_TYPE, RetryReason
from .lifecycle import AttemptReport

__all__ = [
    "ERROR_TYPES",
    "OTHER",
    "PROVIDERS",
    "REFRESHING_PROVIDERS",
    "RETRY_REASONS",
    "Vocabulary",
    "attempt_status",
    "error_type",
    "error_types_of",
    "provider_label",
]

OTHER: Final = "_OTHER"
_LABEL: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")


class Vocabulary:
    """Keeps a label's values bounded: the known ones, plus a few new well-formed ones, then ``_OTHER``.

    New values are let through (a stop reason Anthropic adds tomorrow should show up by name) but a
    misbehaving proxy cannot grow the series without limit.
    """

    __slots__ = ("_limit", "_lock", "_pattern", "_seen")

    def __init__(self, known: Iterable[str], extra: int = 16, pattern: re.Pattern[str] = _LABEL) -> None:
        self._seen = frozenset(known)
        self._limit = len(self._seen) + extra
        self._pattern = pattern
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if not self._pattern.fullmatch(value):
            return OTHER
        with self._lock:
            if value not in self._seen and len(self._seen) >= self._limit:
                return OTHER
            self._seen = self._seen | {value}
        return value


#: Every reason the retry rules give a retry (``retries_total`` and ``backoff_seconds_total`` labels).
RETRY_REASONS: Final[tuple[str, ...]] = get_args(RetryReason)

#: The ``provider`` label: ``gen_ai.provider.name`` of the three backends, and nothing else.
PROVIDERS: Final[tuple[str, ...]] = ("anthropic", "gcp.vertex_ai", "aws.bedrock")
#: The backends whose credentials expire and are refreshed (``credential_refreshes_total``).
REFRESHING_PROVIDERS: Final[tuple[str, ...]] = ("gcp.vertex_ai", "aws.bedrock")
_PROVIDERS: Final = frozenset(PROVIDERS)


def provider_label(provider: str) -> str:
    """The ``provider`` label of ``provider``: one of ``PROVIDERS``, else ``_OTHER`` (a backend
    someone plugs in names its own provider; it must not grow the series)."""
    return provider if provider in _PROVIDERS else OTHER


_TRANSPORT_ERRORS: Final = ("conflict_error", "timeout", "connection_error", "protocol_error")
#: Bedrock's own names: its in-stream exceptions, and no credentials to sign with.
_BEDROCK_ERRORS: Final = (
    *(name for name in STATUS_OF_ERROR_TYPE if name.endswith("Exception")),
    "credentials_error",
)
#: Anthropic's error types, then the transport's own: what the direct API and Vertex AI (whose
#: Google envelope is read as Anthropic's types) fail with.
_ANTHROPIC_ERRORS: Final = (
    *(name for name in STATUS_OF_ERROR_TYPE if not name.endswith("Exception")),
    *_TRANSPORT_ERRORS,
)

#: Every fixed ``type`` value of a failed request, whichever the provider.
#: ``error_type`` may add a few more (a new Anthropic type, a bare HTTP status), never unboundedly.
ERROR_TYPES: Final[tuple[str, ...]] = (*_ANTHROPIC_ERRORS, *_BEDROCK_ERRORS)
_BY_PROVIDER: Final = {"aws.bedrock": ERROR_TYPES}  # Bedrock reports both


def error_types_of(provider: str) -> tuple[str, ...]:
    """The ``type`` values pre-created at 0 for ``provider``'s series: only the errors it can
    report, so a transport on Anthropic's API shows none of Bedrock's exception names."""
    return _BY_PROVIDER.get(provider, _ANTHROPIC_ERRORS)


# "cancelled" names spans and attempts; a cancelled request is never counted as an error.
_ERROR_TYPES: Final = Vocabulary((*ERROR_TYPES, "cancelled"))


def _http_status(status: int | None) -> str | None:
    if status is None:
        return None
    return str(status) if 100 <= status <= 599 else OTHER


def attempt_status(report: AttemptReport) -> str:
    """The ``status`` label of one attempt: ``200`` only for an attempt that delivered a whole turn.

    An in-stream error counts as the status it stands for (``overloaded_error`` -> ``529``), the way
    the retry rules treat it; a stream cut or timed out after its 200 counts as the failure it was.
    """
    error = report.error
    if isinstance(error, InStreamError):
        return str(STATUS_OF_ERROR_TYPE.get(error.error_type or "", 400))
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, APIConnectionError):
        return "connection_error"
    if isinstance(error, ProtocolError):
        return "protocol_error"
    status = _http_status(report.status)
    if status is not None:
        return status
    return "timeout" if report.retry_reason == "timeout" else "connection_error"


def error_type(error: BaseException | None) -> str:
    """The ``type`` label (and OTel ``error.type``) of a failed request: low cardinality, always set."""
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, APIConnectionError):
        return "connection_error"
    if isinstance(error, ProtocolError):
        return "protocol_error"
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)):
        return "cancelled"
    if isinstance(error, AnthropicError):
        if error.error_type:
            return _ERROR_TYPES(error.error_type)
        # A proxy's plain-text 503 has no Anthropic type: the status is the next best name.
        return _http_status(error.status) or OTHER
    if error is None:
        return OTHER
    return _ERROR_TYPES(type(error).__name__)
