"""Traces: one GenAI CLIENT span per ``stream()`` call and one HTTP CLIENT span per attempt under it.

Follows the OpenTelemetry GenAI and HTTP client span conventions through the API only: nothing is
configured here, and with no SDK installed every hook returns after a check of ``is_recording()``.
As OpenTelemetry's own stream instrumentations do, the request span is started with an explicit
parent and ended when the stream ends, never made current: the host's spans opened while it
consumes the stream are its own, siblings of ``chat``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from axio.events import ReasoningDelta, StreamEvent, TextDelta, ToolInputDelta, ToolUseStart
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from .call_labels import SPAN_PREFIX
from .content import OutputPart, input_content, output_messages
from .labels import OTHER, error_type
from .lifecycle import AttemptReport, CredentialRefresh, Outcome, RequestInfo, ResponseReport, logger
from .scope import SCOPE, PerProvider, global_tracer_provider, scope_version

if TYPE_CHECKING:
    from . import TelemetryConfig

__all__ = ["CANCELLED", "OTHER", "SCOPE", "RequestTrace", "Tracing", "error_type"]

CANCELLED: Final = "cancelled"
#: Only ``traceparent``/``tracestate``: baggage may hold the host's data and must not reach a third party.
_PROPAGATOR: Final = TraceContextTextMapPropagator()


class Tracing:
    """The traces sink of one ``TelemetryConfig``: one ``RequestTrace`` per ``stream()`` call."""

    __slots__ = ("_tracers", "config")

    def __init__(self, config: TelemetryConfig) -> None:
        self.config = config
        self._tracers: PerProvider[TracerProvider, Tracer] = PerProvider(_tracer)

    def start(self, info: RequestInfo) -> RequestTrace:
        # The provider in effect now: a host that sets up tracing again is followed, where a
        # tracer kept from the first call (a ProxyTracer binds once) would export nowhere.
        tracer = self._tracers(self.config.tracer_provider or global_tracer_provider())
        return RequestTrace(tracer, self.config, info)


def _tracer(provider: TracerProvider) -> Tracer:
    return provider.get_tracer(SCOPE, scope_version())


class RequestTrace:
    """The spans of one ``stream()`` call: a ``RequestObserver``. The request span is started under
    ``info.parent`` and never made current: the caller's context is its own."""

    def __init__(self, tracer: Tracer, config: TelemetryConfig, info: RequestInfo) -> None:
        self._tracer = tracer
        self._config = config
        self._info = info
        # Given at start, not set later: a sampler sees only the attributes a span starts with.
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": info.operation,
            "gen_ai.provider.name": info.provider,
            "gen_ai.request.model": info.model.id,
            "gen_ai.request.max_tokens": info.max_tokens,
            "gen_ai.request.stream": True,
            "server.address": info.server_address,
            "server.port": info.server_port,
        }
        for name, value in (("temperature", info.temperature), ("top_p", info.top_p), ("top_k", info.top_k)):
            if value is not None:
                attributes[f"gen_ai.request.{name}"] = value
        for name, label in info.labels:
            if label:
                attributes[SPAN_PREFIX + name] = label
        # An explicit context, even an empty one: `None` would mean "whatever is current now".
        parent = info.parent if info.parent is not None else Context()
        self._span = tracer.start_span(
            f"{info.operation} {info.model.id}", kind=SpanKind.CLIENT, attributes=attributes, context=parent
        )
        self._inside = trace.set_span_in_context(self._span, parent)
        self.span_context = self._span.get_span_context()
        self._recording = self._span.is_recording()
        self._started = time.monotonic()
        self._attempt: Span | None = None
        self._request_id: str | None = None
        self._ended = False
        capture = self._recording and config.capture_content
        self._output: dict[int, OutputPart] | None = {} if capture else None
        self._output_chars = 0
        if capture and info.content is not None:
            try:
                for key, content in input_content(info.content()).items():
                    self._span.set_attribute(key, self._dump(content))
            except Exception:  # unlike the hooks, start() is not guarded: never fail a request over this
                logger.warning("Could not record the request content on the span", exc_info=True)

    def attempt_started(self, attempt: int, headers: dict[str, str]) -> None:
        self._end_attempt(OTHER, "the transport started another attempt before ending this one")
        attributes: dict[str, AttributeValue] | None = None
        if self._recording:
            attributes = {
                "http.request.method": "POST",
                "url.full": _safe_url(self._info.url),
                "server.address": self._info.server_address,
                "server.port": self._info.server_port,
            }
            if attempt > 1:
                attributes["http.request.resend_count"] = attempt - 1
        self._attempt = self._tracer.start_span(
            "POST", context=self._inside, kind=SpanKind.CLIENT, attributes=attributes
        )
        if self._config.propagate_context:
            _PROPAGATOR.inject(headers, context=trace.set_span_in_context(self._attempt))

    def attempt_ended(self, report: AttemptReport) -> None:
        span, self._attempt = self._attempt, None
        self._request_id = report.request_id or self._request_id
        if span is None:
            return
        if span.is_recording():
            if report.status is not None:
                span.set_attribute("http.response.status_code", report.status)
            if report.request_id:
                span.set_attribute("anthropic.request_id", report.request_id)
            bad_status = report.status is not None and report.status >= 400
            if report.error is not None or bad_status:
                # HTTP semconv: the status code where it says what failed, else the failure.
                span.set_attribute("error.type", str(report.status) if bad_status else error_type(report.error))
                span.set_status(Status(StatusCode.ERROR, str(report.error or f"HTTP {report.status}")))
        span.end()

    def _end_attempt(self, kind: str, description: str) -> None:
        span, self._attempt = self._attempt, None
        if span is None:
            return
        if span.is_recording():
            span.set_attribute("error.type", kind)
            span.set_status(Status(StatusCode.ERROR, description))
        span.end()

    def credential_refresh(self, attempt: int, refresh: CredentialRefresh) -> None:
        """An event on the request span: the outcome and how long it took; never what was obtained."""
        if not self._recording:
            return
        attributes: dict[str, AttributeValue] = {
            "credential.refresh.outcome": "ok" if refresh.error is None else "error",
            "credential.refresh.duration_s": refresh.seconds,
            "credential.refresh.attempt": attempt,
        }
        if refresh.error is not None:
            attributes["error.type"] = error_type(refresh.error)
        self._span.add_event("credential.refresh", attributes)

    def backoff(self, attempt: int, reason: str, delay: float, server_requested: bool) -> None:
        if self._recording:
            attributes: dict[str, AttributeValue] = {"retry.attempt": attempt, "retry.reason": reason}
            attributes.update({"retry.delay_s": delay, "retry.server_requested": server_requested})
            self._span.add_event("retry.backoff", attributes)

    def first_token(self, events: Sequence[StreamEvent] = ()) -> None:
        if not self._recording:
            return
        elapsed = time.monotonic() - self._started
        self._span.set_attribute("gen_ai.response.time_to_first_chunk", elapsed)
        self._span.add_event("gen_ai.first_token", {"gen_ai.response.time_to_first_chunk": elapsed})
        self.chunk(events)

    def chunk(self, events: Sequence[StreamEvent]) -> None:
        output = self._output
        # Past the limit the attribute is already decided: keep no more of a long answer.
        if output is None or self._output_chars > self._config.content_max_chars:
            return
        for event in events:
            if isinstance(event, TextDelta):
                kind, piece = "text", event.delta
            elif isinstance(event, ReasoningDelta):
                kind, piece = "reasoning", event.delta
            elif isinstance(event, ToolInputDelta):
                kind, piece = "tool_call", event.partial_json
            elif isinstance(event, ToolUseStart):
                output[event.index] = OutputPart("tool_call", event.tool_use_id, event.name)
                continue
            else:
                continue
            output.setdefault(event.index, OutputPart(kind)).pieces.append(piece)
            self._output_chars += len(piece)

    def finished(self, outcome: Outcome, response: ResponseReport, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        kind = CANCELLED if outcome == "cancelled" else error_type(error) if outcome == "error" else OTHER
        description = CANCELLED if outcome == "cancelled" else _describe(error)
        # Cancelled or abandoned mid-attempt: the transport never reported that attempt's end.
        self._end_attempt(kind, description)
        span = self._span
        if self._recording:
            span.set_attributes(self._response_attributes(response))
            if outcome != "ok":
                # Never OK, never unset: an abandoned call still cost tokens and must be findable.
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, description))
            if outcome == "error" and error is not None:
                span.record_exception(error)
            if self._output:
                messages = output_messages(self._output, response.stop_reason or outcome)
                span.set_attribute("gen_ai.output.messages", self._dump(messages))
        span.end()

    def _response_attributes(self, response: ResponseReport) -> dict[str, AttributeValue]:
        found: dict[str, AttributeValue | None] = {
            "gen_ai.response.model": response.response_model,
            "gen_ai.response.id": response.response_id,
            "gen_ai.response.finish_reasons": [response.stop_reason] if response.stop_reason else None,
            "anthropic.request_id": self._request_id,
        }
        counts = response.counts
        if response.response_id is not None:  # else no message_start: zeros nobody reported
            found["gen_ai.usage.input_tokens"] = counts.uncached_input + counts.cache_read + counts.cache_write
            found["gen_ai.usage.output_tokens"] = counts.output
            found["gen_ai.usage.cache_read.input_tokens"] = counts.cache_read
            found["gen_ai.usage.cache_creation.input_tokens"] = counts.cache_write
            found["gen_ai.usage.reasoning.output_tokens"] = counts.thinking or None
        return {key: value for key, value in found.items() if value is not None}

    def _dump(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, default=str)[: self._config.content_max_chars]


def _describe(error: BaseException | None) -> str:
    # The transport's errors say what the API said, with the key already scrubbed out.
    return (str(error) or type(error).__name__) if error is not None else "error"


@lru_cache(maxsize=32)
def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc="REDACTED:REDACTED@" + parts.netloc.rpartition("@")[2]))
