"""One structured log event per request milestone, never with the API key or message content.

The library never configures logging. Each event goes, decided per call:

* through the host's structlog pipeline (``structlog.get_logger("axio_transport_anthropic")``)
  when the host called ``structlog.configure``;
* otherwise to the stdlib logger ``axio_transport_anthropic`` as one ``event key=value ...`` line,
  the fields also on the record as ``record.anthropic`` (a dict). Stdlib levels and handlers
  decide what shows: at the default WARNING, retries and failures only.

Events (stable names):

``anthropic.request.start`` (debug), ``anthropic.request.retry`` (warning),
``anthropic.request.end`` (info), ``anthropic.request.error`` (error),
``anthropic.request.cancelled`` (info). Each carries the ``trace_id``/``span_id`` (hex) of its
own request span when tracing is on, else of the span current when ``stream()`` was called, if
valid. Fields that are unknown are left out. With ``TelemetryConfig(labels=...)`` each also
carries the call labels that are set, as fields named after them (``tenant=acme``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import structlog
from axio.events import StreamEvent
from opentelemetry import trace
from opentelemetry.trace import SpanContext

from ..errors import AnthropicError
from ..models import cost_usd
from ..redaction import mask_keys, url_without_credentials
from .lifecycle import AttemptReport, CredentialRefresh, Outcome, RequestInfo, RequestObserver, ResponseReport

if TYPE_CHECKING:
    from . import TelemetryConfig

__all__ = [
    "EVENTS",
    "LOGGER_NAME",
    "REQUEST_CANCELLED",
    "REQUEST_END",
    "REQUEST_ERROR",
    "REQUEST_RETRY",
    "REQUEST_START",
    "Logs",
    "add_trace_context",
    "scrub",
]

LOGGER_NAME: Final = "axio_transport_anthropic"
REQUEST_START: Final = "anthropic.request.start"
REQUEST_RETRY: Final = "anthropic.request.retry"
REQUEST_END: Final = "anthropic.request.end"
REQUEST_ERROR: Final = "anthropic.request.error"
REQUEST_CANCELLED: Final = "anthropic.request.cancelled"
#: Each event name and its level.
EVENTS: Final[dict[str, int]] = {
    REQUEST_START: logging.DEBUG,
    REQUEST_RETRY: logging.WARNING,
    REQUEST_END: logging.INFO,
    REQUEST_ERROR: logging.ERROR,
    REQUEST_CANCELLED: logging.INFO,
}
_METHODS: Final = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error"}

_stdlib = logging.getLogger(LOGGER_NAME)

_BARE: Final = re.compile(r"[^\s=\"']+")


def scrub(text: str) -> str:
    """``text`` with anything shaped like an API key masked (errors are scrubbed at the source
    already; this is a second net)."""
    return mask_keys(text)


def _safe_url(url: str) -> str:
    return scrub(url_without_credentials(url))


def _trace_ids(context: SpanContext | None = None) -> tuple[str, str] | None:
    if context is None:
        context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def add_trace_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id``/``span_id`` of the current span, when there is one (and
    the event does not carry its own already, as the transport's do)."""
    if "trace_id" in event_dict:
        return event_dict
    ids = _trace_ids()
    if ids is not None:
        event_dict["trace_id"], event_dict["span_id"] = ids
    return event_dict


def _enabled(log: Any, level: int) -> bool:
    # Filtering bound loggers say is_enabled_for, stdlib-backed ones isEnabledFor; others: assume yes.
    check = getattr(log, "is_enabled_for", None) or getattr(log, "isEnabledFor", None)
    if check is None:
        return True
    try:
        return bool(check(level))
    except Exception:
        return True


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def _sink(level: int) -> Any:
    """Where an event at ``level`` goes (the host's structlog pipeline, else the stdlib logger), or
    ``None`` when nowhere: checked before the event is built, and bound once for both."""
    if structlog.is_configured():
        log = structlog.get_logger(LOGGER_NAME).bind()
        return log if _enabled(log, level) else None
    return _stdlib if _stdlib.isEnabledFor(level) else None


def _emit(
    sink: Any,
    level: int,
    event: str,
    fields: dict[str, Any],
    ids: tuple[str, str] | None,
    labels: dict[str, str] | None = None,
) -> None:
    fields = {key: value for key, value in fields.items() if value is not None}
    if labels:
        fields.update(labels)
    if ids is not None:
        fields["trace_id"], fields["span_id"] = ids
    if sink is not _stdlib:
        getattr(sink, _METHODS[level])(event, **fields)
        return
    line = " ".join([event, *(f"{key}={_render(value)}" for key, value in fields.items())])
    _stdlib.log(level, line, extra={"anthropic": {"event": event, **fields}})


class Logs:
    """The logs sink: one ``_RequestLog`` per ``stream()`` call."""

    __slots__ = ()

    def __init__(self, config: TelemetryConfig | None = None) -> None:
        # Nothing to keep: where events go is decided per event, so late host setup is honoured.
        del config

    def start(self, info: RequestInfo, span: SpanContext) -> RequestObserver:
        return _RequestLog(info, span)


class _RequestLog:
    __slots__ = ("_first", "_ids", "_info", "_labels", "_last", "_started")

    def __init__(self, info: RequestInfo, span: SpanContext) -> None:
        self._info = info
        self._started = time.perf_counter()
        self._first: float | None = None
        self._last: AttemptReport | None = None
        # The request's own ids, given: whatever is current when an event is logged may be
        # another request's span or the host's (or nothing, in the loop's finaliser task).
        self._ids = _trace_ids(span)
        # The call labels that are set, as fields of every event (names cannot clash: reserved).
        self._labels = {name: value for name, value in info.labels if value} if info.labels else None
        sink = _sink(logging.DEBUG)
        if sink is None:
            return
        fields = {
            "model": info.model.id,
            "url": _safe_url(info.url),
            "max_tokens": info.max_tokens,
            # Not on RequestInfo in every version of the transport.
            "max_attempts": getattr(info, "max_attempts", None),
        }
        _emit(sink, logging.DEBUG, REQUEST_START, fields, self._ids, self._labels)

    def attempt_started(self, attempt: int, headers: dict[str, str]) -> None:
        pass

    def attempt_ended(self, report: AttemptReport) -> None:
        self._last = report

    def credential_refresh(self, attempt: int, refresh: CredentialRefresh) -> None:
        pass  # the backends log a failed refresh themselves; a good one is not news

    def backoff(self, attempt: int, reason: str, delay: float, server_requested: bool) -> None:
        sink = _sink(logging.WARNING)
        if sink is None:
            return
        last = self._last if self._last is not None and self._last.attempt == attempt else None
        error = last.error if last is not None else None
        fields = {
            "model": self._info.model.id,
            "attempt": attempt,
            "max_attempts": getattr(self._info, "max_attempts", None),
            "reason": reason,
            "status": last.status if last is not None else None,
            "error_type": error.error_type if error is not None else None,
            "request_id": last.request_id if last is not None else None,
            "delay_s": round(delay, 3),
            "server_requested": server_requested,
            "message": scrub(error.message) if error is not None else None,
        }
        _emit(sink, logging.WARNING, REQUEST_RETRY, fields, self._ids, self._labels)

    def first_token(self, events: Sequence[StreamEvent]) -> None:
        self._first = time.perf_counter()

    def chunk(self, events: Sequence[StreamEvent]) -> None:
        pass

    def finished(self, outcome: Outcome, response: ResponseReport, error: BaseException | None) -> None:
        if outcome == "ok":
            event = REQUEST_END
        elif outcome == "cancelled":
            event = REQUEST_CANCELLED
        else:
            event = REQUEST_ERROR
        level = EVENTS[event]
        sink = _sink(level)
        if sink is None:
            return
        fields = self._summary(response)
        if event == REQUEST_ERROR:
            fields.update(self._failure(error))
        fields.update(self._usage(response))
        _emit(sink, level, event, fields, self._ids, self._labels)

    def _summary(self, response: ResponseReport) -> dict[str, Any]:
        now = time.perf_counter()
        return {
            "model": self._info.model.id,
            "response_model": response.response_model,
            "response_id": response.response_id,
            "request_id": self._last.request_id if self._last is not None else None,
            "stop_reason": response.stop_reason,
            "attempts": response.attempts,
            "duration_s": round(now - self._started, 4),
            "time_to_first_token_s": round(self._first - self._started, 4) if self._first is not None else None,
        }

    def _usage(self, response: ResponseReport) -> dict[str, Any]:
        counts = response.counts
        cost = cost_usd(
            self._info.model,
            uncached_input=counts.uncached_input,
            output=counts.output,
            cache_read=counts.cache_read,
            cache_write_5m=counts.cache_write_5m,
            cache_write_1h=counts.cache_write_1h,
        )
        return {
            "input_tokens": counts.uncached_input,
            "output_tokens": counts.output,
            "cache_read_input_tokens": counts.cache_read,
            "cache_creation_input_tokens": counts.cache_write,
            "cost_usd": round(cost, 8),
        }

    def _failure(self, error: BaseException | None) -> dict[str, Any]:
        if error is None:
            return {"error": "unknown"}
        last_status = self._last.status if self._last is not None else None
        if not isinstance(error, AnthropicError):
            return {"error": type(error).__name__, "message": scrub(str(error)), "status": last_status}
        fields = {
            "error": type(error).__name__,
            "error_type": error.error_type,
            "status": error.status if error.status is not None else last_status,
            "message": scrub(error.message),
            "timeout_phase": getattr(error, "phase", None),
        }
        if error.request_id:
            fields["request_id"] = error.request_id
        return fields
