"""Traces, metrics and logs for the transport, configured by the host, never on import.

``TelemetryConfig`` is what a transport carries (``AnthropicTransport(telemetry=...)``); the default
uses the global OpenTelemetry providers (no-ops until the host installs an SDK) and prometheus
client's global registry. ``telemetry=None`` turns everything off.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from .agents import AxioInstrumentor
from .call_labels import DEFAULT_LABEL_VALUES, Attribution, call_labels, check_label_names, current_call_labels
from .exports import ExportReport
from .lifecycle import (
    AttemptReport,
    CompositeObserver,
    Outcome,
    RequestInfo,
    RequestObserver,
    ResponseReport,
    Telemetry,
)
from .setup import TelemetryHandle, setup

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import SpanContext, TracerProvider
    from prometheus_client import CollectorRegistry

    from .tracing import Tracing

__all__ = [
    "AttemptReport",
    "AxioInstrumentor",
    "CompositeObserver",
    "ExportReport",
    "Outcome",
    "RequestInfo",
    "RequestObserver",
    "ResponseReport",
    "Telemetry",
    "TelemetryConfig",
    "TelemetryHandle",
    "call_labels",
    "current_call_labels",
    "setup",
]

logger = logging.getLogger("axio_transport_anthropic.telemetry")

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def _capture_from_env() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in ("1", "true", "yes")


@dataclass(slots=True)
class TelemetryConfig:
    """Where the transport's telemetry goes. Every field is optional."""

    tracer_provider: TracerProvider | None = None
    """``None``: the global provider (a no-op until the host sets one)."""
    meter_provider: MeterProvider | None = None
    registry: CollectorRegistry | None = None
    """Prometheus registry; ``None``: prometheus-client's global ``REGISTRY``."""
    capture_content: bool = field(default_factory=_capture_from_env)
    """Record prompts and answers on spans (off unless the env variable or this says so)."""
    content_max_chars: int = 8192
    propagate_context: bool = False
    """Send the W3C ``traceparent`` header upstream."""
    traces: bool = True
    metrics: bool = True
    logs: bool = True
    exemplars: bool | None = None
    """Trace ids on the Prometheus histograms. ``None``: on, unless this config follows the global
    tracer provider and the ``setup()`` in effect exports no spans (an id would lead nowhere)."""
    sinks: tuple[Telemetry, ...] = ()
    """More observers of each request, after metrics and logs (``axio-anthropic load`` keeps
    each request's latency this way)."""
    labels: tuple[str, ...] = ()
    """Names of the ``call_labels()`` to record (``("tenant", "agent")``): on the requests, tokens
    and cost series, the request span (``axio.label.<name>``) and the log lines. Every config on
    one Prometheus registry must list the same ones (``ConfigurationError`` otherwise)."""
    label_values: int = DEFAULT_LABEL_VALUES
    """Distinct values kept per label name (per registry); later ones are recorded as ``_OTHER``."""
    _built: tuple[Tracing | None, tuple[Telemetry, ...], Attribution | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.labels = check_label_names(self.labels, self.label_values)
        if self.labels and self.metrics:
            # A clash with families already on the registry is reported here rather than at the
            # first request (a config without labels can only tell then).
            from .instruments import check_registered
            from .metrics import registry_of

            check_registered(registry_of(self), self.labels, self.label_values)

    def start(self, info: RequestInfo) -> RequestObserver:
        built = self._built
        if built is None:
            built = self._built = self._build()
        tracing, others, attribution = built
        if attribution is not None:
            info = _attribute(attribution, info)
        observers: list[RequestObserver] = []
        span: SpanContext | None = None
        if tracing is not None:
            try:
                request = tracing.start(info)
            except Exception:
                # Telemetry must never cost the caller the request.
                logger.warning("Telemetry sink Tracing failed to start", exc_info=True)
            else:
                observers.append(request)
                span = request.span_context
        if span is None:
            span = trace.get_current_span(info.parent).get_span_context()
        for sink in others:
            try:
                observers.append(sink.start(info, span))
            except Exception:
                logger.warning("Telemetry sink %s failed to start", type(sink).__name__, exc_info=True)
        return CompositeObserver(observers)

    def _build(self) -> tuple[Tracing | None, tuple[Telemetry, ...], Attribution | None]:
        self.labels = check_label_names(self.labels, self.label_values)  # may have been set since
        attribution = None
        tracing = None
        if self.traces:
            from .tracing import Tracing

            tracing = Tracing(self)
        sinks: list[Any] = []
        if self.metrics:
            from .metrics import Metrics

            metrics = Metrics(self)
            attribution = metrics.attribution
            sinks.append(metrics)
        if self.logs:
            from .logs import Logs

            sinks.append(Logs(self))
        if attribution is None and self.labels:
            # Without metrics, no series to bound across configs: this config's own vocabulary.
            attribution = Attribution(self.labels, self.label_values)
        return tracing, (*sinks, *self.sinks), attribution


def _attribute(attribution: Attribution, info: RequestInfo) -> RequestInfo:
    """``info`` with this call's labels resolved: once per request, for every sink."""
    try:
        labels = attribution.resolve(info.call_labels)
    except Exception:
        logger.warning("Could not read the call labels", exc_info=True)
        labels = attribution.resolve({})
    return info.with_labels(labels)
