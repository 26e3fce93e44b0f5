"""The OpenTelemetry SDK part of ``setup()`` (the ``[otel]`` extra): global tracer and meter
providers, exporting over OTLP/HTTP when an endpoint is asked for.

Without the extra, ``setup()`` still serves ``/metrics`` and configures logs; only asking for
OTLP export then fails, with an ``ImportError`` that names the extra and what asked.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .teardown import SdkProvider, Teardown

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["Installed", "Target", "install_sdk", "otlp_target"]

_INSTALL: Final = "pip install 'axio-transport-anthropic[otel]'"

_log = logging.getLogger("axio_transport_anthropic")


@dataclass(slots=True, frozen=True)
class Target:
    """An OTLP endpoint and what named it (``otlp_endpoint`` or the environment variable)."""

    url: str
    asked_by: str


@dataclass(slots=True, frozen=True)
class Installed:
    sdk: bool
    """Whether the OpenTelemetry SDK could be imported."""
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    endpoint: str | None = None


def otlp_target(explicit: str | None, signal: str) -> Target | None:
    """Where ``signal`` (``TRACES``, ``METRICS``) goes: the argument, else the standard variables."""
    if explicit:
        return Target(explicit, "otlp_endpoint")
    for name in (f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        if value := os.environ.get(name):
            return Target(value, name)
    return None


def install_sdk(service_name: str, explicit: str | None, teardown: Teardown) -> Installed:
    """Set SDK providers as the global ones, unless the host set its own; their undo goes into
    ``teardown``. Raises ``ImportError`` only when export is asked for and the extra is missing."""
    traces_to, metrics_to = otlp_target(explicit, "TRACES"), otlp_target(explicit, "METRICS")
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider

        if traces_to or metrics_to:
            # All imports before anything global changes.
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # noqa: F401
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: F401
            from opentelemetry.sdk.metrics import MeterProvider  # noqa: F401
    except ImportError as exc:
        if target := traces_to or metrics_to:
            needs = f"OTLP export (asked for by {target.asked_by}) needs the [otel] extra: {_INSTALL}"
            raise ImportError(needs) from exc
        return Installed(sdk=False)

    resource = Resource.create({SERVICE_NAME: service_name})
    # Without an exporter too: log lines still get trace ids that tie one request together.
    provider = TracerProvider(resource=resource)
    tracer_provider = provider if _set_tracer_provider(provider, teardown) else None
    if tracer_provider is None:
        traces_to = None
    elif traces_to:
        _add_span_exporter(tracer_provider, explicit, teardown)
    meter_provider = _meter_provider(resource, explicit, teardown) if metrics_to else None
    endpoint = traces_to or (metrics_to if meter_provider is not None else None)
    return Installed(True, tracer_provider, meter_provider, endpoint.url if endpoint else None)


def _signal_url(base: str, path: str) -> str:
    # An explicit endpoint is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is.
    return f"{base.rstrip('/')}/{path}"


def _add_span_exporter(provider: TracerProvider, explicit: str | None, teardown: Teardown) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = OTLPSpanExporter(endpoint=_signal_url(explicit, "v1/traces")) if explicit else OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    teardown.stop_exporters.append(exporter.shutdown)


def _meter_provider(resource: Any, explicit: str | None, teardown: Teardown) -> MeterProvider | None:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.metrics import _internal as internal
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    if internal._METER_PROVIDER is not None:
        _log.warning("a global MeterProvider is already set; setup() leaves it in place")
        return None
    exporter = OTLPMetricExporter(endpoint=_signal_url(explicit, "v1/metrics")) if explicit else OTLPMetricExporter()
    provider = MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(exporter)])
    otel_metrics.set_meter_provider(provider)
    teardown.providers.append(
        SdkProvider(flush=lambda ms: provider.force_flush(ms), shutdown=lambda ms: provider.shutdown(ms))
    )
    teardown.stop_exporters.append(exporter.shutdown)

    def unset() -> None:
        if internal._METER_PROVIDER is provider:
            # Private, but the only way back to "unset"; OpenTelemetry's own test helpers do this.
            from opentelemetry.util._once import Once

            internal._METER_PROVIDER = None
            internal._METER_PROVIDER_SET_ONCE = Once()
            # Else the global proxy keeps handing out meters of this shut-down provider.
            proxy = internal._PROXY_METER_PROVIDER
            with proxy._lock:
                if proxy._real_meter_provider is provider:
                    proxy._real_meter_provider = None

    teardown.unset_globals.append(unset)
    return provider


def _set_tracer_provider(provider: TracerProvider, teardown: Teardown) -> bool:
    """Set the global provider unless the host already did (OpenTelemetry allows it once)."""
    from opentelemetry import trace

    if trace._TRACER_PROVIDER is not None:
        _log.warning("a global TracerProvider is already set; setup() leaves it in place")
        provider.shutdown()
        return False
    trace.set_tracer_provider(provider)
    teardown.providers.append(
        SdkProvider(flush=lambda ms: provider.force_flush(int(ms)), shutdown=lambda _: provider.shutdown())
    )

    def unset() -> None:
        if trace._TRACER_PROVIDER is provider:
            from opentelemetry.util._once import Once

            trace._TRACER_PROVIDER = None
            trace._TRACER_PROVIDER_SET_ONCE = Once()

    teardown.unset_globals.append(unset)
    return True
