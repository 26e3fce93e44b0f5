"""The one narrow interface telemetry sees: the lifecycle of one ``stream()`` call.

The transport reports what happens (start, each attempt, each backoff, the first token, each
chunk after it, the end); traces, metrics and logs are each one ``RequestObserver``. Nothing in
the parser or the request builder knows telemetry exists. No observer ever makes a context
current: the caller iterates the stream in its own context, untouched (a context attached inside
a generator leaks into whoever iterates it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from axio.events import StreamEvent
from axio.models import ModelSpec
from opentelemetry.context import Context
from opentelemetry.trace import SpanContext

from ..backends.base import CredentialRefresh
from ..decoder import TokenCounts
from ..errors import AnthropicError

__all__ = [
    "AttemptReport",
    "CompositeObserver",
    "CredentialRefresh",
    "Outcome",
    "RequestInfo",
    "RequestObserver",
    "ResponseReport",
]

logger = logging.getLogger("axio_transport_anthropic.telemetry")

Outcome = Literal["ok", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What is known when a ``stream()`` call starts. ``model`` is the requested id (a safe label)."""

    model: ModelSpec
    url: str
    """The endpoint, never with credentials (the key travels in a header)."""
    server_address: str
    server_port: int
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    operation: str = "chat"
    provider: str = "anthropic"
    """``gen_ai.provider.name``: ``anthropic``, ``gcp.vertex_ai`` or ``aws.bedrock``."""
    max_attempts: int | None = None
    content: Callable[[], Mapping[str, Any]] | None = field(default=None, compare=False)
    """Builds the request body on demand: only an observer capturing content calls it."""
    parent: Context | None = field(default=None, compare=False)
    """The OpenTelemetry context current when ``stream()`` was called: the request span's parent."""
    call_labels: Mapping[str, str] = field(default=MappingProxyType({}), compare=False)
    """What ``call_labels()`` set where ``stream()`` was called, as given: unfiltered, unbounded."""
    labels: tuple[tuple[str, str], ...] = ()
    """The config's ``labels`` and their values for this call, bounded (``""``: unset); filled in
    by ``TelemetryConfig.start()`` from ``call_labels``, empty when the config lists none."""

    def with_labels(self, labels: tuple[tuple[str, str], ...]) -> RequestInfo:
        """A copy with ``labels``: slot by slot, twice as fast as ``dataclasses.replace`` (once per request)."""
        copy = object.__new__(RequestInfo)
        for name in _SLOTS:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "labels", labels)
        return copy


_SLOTS: tuple[str, ...] = RequestInfo.__slots__


@dataclass(frozen=True, slots=True)
class AttemptReport:
    """How one HTTP attempt ended."""

    attempt: int
    """1 for the first attempt; ``attempt - 1`` is the resend count."""
    status: int | None
    """The HTTP status, or ``None`` where no response arrived."""
    request_id: str | None
    headers: Mapping[str, str] | None
    error: AnthropicError | None = None
    retry_reason: str | None = None
    """Why it failed, in the retry vocabulary (``rate_limited``, ``overloaded``, ...)."""


@dataclass(frozen=True, slots=True)
class ResponseReport:
    """What the response said about itself, as far as it got."""

    response_id: str | None
    response_model: str | None
    stop_reason: str | None
    counts: TokenCounts
    attempts: int


class RequestObserver(Protocol):
    """Callbacks for one ``stream()`` call, in order. Must not raise (the composite guards them)."""

    def attempt_started(self, attempt: int, headers: dict[str, str]) -> None:
        """Before each HTTP attempt; may add headers (``traceparent``) to ``headers``."""

    def attempt_ended(self, report: AttemptReport) -> None: ...

    def credential_refresh(self, attempt: int, refresh: CredentialRefresh) -> None:
        """Attempt ``attempt`` had to refresh the backend's credentials first (or tried to:
        ``refresh.error`` says why it failed). Between ``attempt_started`` and ``attempt_ended``.
        ``refresh`` holds no secret: a duration and an exception whose text names none."""

    def backoff(self, attempt: int, reason: str, delay: float, server_requested: bool) -> None:
        """After attempt ``attempt`` failed, before sleeping ``delay`` seconds."""

    def first_token(self, events: Sequence[StreamEvent]) -> None:
        """The first batch that reaches the caller with content (``events`` is that batch)."""

    def chunk(self, events: Sequence[StreamEvent]) -> None:
        """Each later batch of events that reaches the caller (one network read)."""

    def finished(self, outcome: Outcome, response: ResponseReport, error: BaseException | None) -> None:
        """Exactly once, whatever happened."""


class Telemetry(Protocol):
    """Makes one observer per ``stream()`` call. ``span`` is the request's own span context (the
    request span's when traces are on, else the parent's), for the ids logs and exemplars carry."""

    def start(self, info: RequestInfo, span: SpanContext) -> RequestObserver: ...


class CompositeObserver:
    """Fans each callback out; one failing observer never breaks the request or the others."""

    __slots__ = ("_observers",)

    def __init__(self, observers: Sequence[RequestObserver]) -> None:
        self._observers = tuple(observers)

    def _each(self, name: str, *args: Any, optional: bool = False) -> None:
        for observer in self._observers:
            try:
                # An optional hook is newer than the others: a sink written before it is skipped.
                hook = getattr(observer, name, None) if optional else getattr(observer, name)
                if hook is not None:
                    hook(*args)
            except Exception:
                logger.warning("Telemetry observer %s failed in %s", type(observer).__name__, name, exc_info=True)

    def attempt_started(self, attempt: int, headers: dict[str, str]) -> None:
        self._each("attempt_started", attempt, headers)

    def attempt_ended(self, report: AttemptReport) -> None:
        self._each("attempt_ended", report)

    def credential_refresh(self, attempt: int, refresh: CredentialRefresh) -> None:
        self._each("credential_refresh", attempt, refresh, optional=True)

    def backoff(self, attempt: int, reason: str, delay: float, server_requested: bool) -> None:
        self._each("backoff", attempt, reason, delay, server_requested)

    def first_token(self, events: Sequence[StreamEvent]) -> None:
        self._each("first_token", events)

    def chunk(self, events: Sequence[StreamEvent]) -> None:
        self._each("chunk", events)

    def finished(self, outcome: Outcome, response: ResponseReport, error: BaseException | None) -> None:
        self._each("finished", outcome, response, error)
