"""The OpenTelemetry SDK part of ``setup()`` (the ``[otel]`` extra): global tracer and meter
providers, exporting over OTLP/HTTP when an endpoint is asked for.

The standard variables are followed: ``OTEL_SDK_DISABLED=true`` installs nothing,
``OTEL_{TRACES,METRICS}_EXPORTER`` choose ``otlp`` or ``none``, ``OTEL_EXPORTER_OTLP_*ENDPOINT``
say where, and ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` name the service (see
``env.py``). Without the extra, ``setup()`` still serves ``/metrics`` and configures logs; only
asking for OTLP export then fails, with an ``ImportError`` that names the extra and what asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from .env import Target, export_plan, sdk_disabled
from .exports import ExportChannel
from .teardown import SdkProvider, Teardown

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["Installed", "TraceMode", "install_sdk"]

_INSTALL: Final = "pip install 'axio-transport-anthropic[otel]'"

_log = logging.getLogger("axio_transport_anthropic")

TraceMode = Literal["exported", "recorded", "host", "off"]
"""What becomes of spans: exported over OTLP; recorded by an SDK provider that exports nothing
(log lines still carry trace ids); left to the provider the host had set; or no SDK at all."""


@dataclass(slots=True, frozen=True)
class Installed:
    sdk: bool
    """Whether an SDK could be used (``False``: the extra is missing, or ``OTEL_SDK_DISABLED``)."""
    traces: TraceMode
    traces_off: str | None = None
    """Why spans are not exported, in a few words; ``None`` when they are."""
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    endpoint: str | None = None


def install_sdk(service_name: str, explicit: str | None, teardown: Teardown) -> Installed:
    """Set SDK providers as the global ones, unless the host set its own; their undo goes into
    ``teardown``. Raises ``ImportError`` only when export is asked for and the extra is missing."""
    if sdk_disabled():
        return Installed(False, "off", "OTEL_SDK_DISABLED=true")
    traces, metrics = export_plan(explicit, "TRACES"), export_plan(explicit, "METRICS")
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider

        if traces.target or metrics.target:
            # All imports before anything global changes.
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # noqa: F401
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: F401
            from opentelemetry.sdk.metrics import MeterProvider  # noqa: F401

            from . import sdk_exporters  # noqa: F401
    except ImportError as exc:
        if target := traces.target or metrics.target:
            needs = f"OTLP export (asked for by {target.asked_by}) needs the [otel] extra: {_INSTALL}"
            raise ImportError(needs) from exc
        return Installed(False, "off", "the OpenTelemetry SDK is not installed")

    # The environment's resource attributes stay; the service name was resolved from them already.
    resource = Resource.create({SERVICE_NAME: service_name})
    # Without an exporter too: log lines still get trace ids that tie one request together.
    provider = TracerProvider(resource=resource)
    tracer_provider = provider if _set_tracer_provider(provider, teardown) else None
    if tracer_provider is None:
        mode: TraceMode = "host"
        why: str | None = "a tracer provider was already set; setup() left it in place"
        traces_to = None
    elif traces.target:
        _add_span_exporter(tracer_provider, traces.target, explicit, teardown)
        mode, why, traces_to = "exported", None, traces.target
    else:
        mode, why, traces_to = "recorded", traces.off, None
    meter_provider = _meter_provider(resource, metrics.target, explicit, teardown) if metrics.target else None
    endpoint = traces_to or (metrics.target if meter_provider is not None else None)
    return Installed(True, mode, why, tracer_provider, meter_provider, endpoint.url if endpoint else None)


def _signal_url(base: str, path: str) -> str:
    # An explicit endpoint is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is.
    return f"{base.rstrip('/')}/{path}"


def _add_span_exporter(provider: TracerProvider, target: Target, explicit: str | None, teardown: Teardown) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from .sdk_exporters import CountingSpanExporter, EndedSpans, WatchedSession

    channel = ExportChannel("traces", target.url, counts_ended=True)
    url = _signal_url(explicit, "v1/traces") if explicit else None
    exporter = OTLPSpanExporter(endpoint=url, session=WatchedSession(channel))
    provider.add_span_processor(EndedSpans(channel))
    provider.add_span_processor(BatchSpanProcessor(CountingSpanExporter(exporter, channel)))
    teardown.channels.append(channel)


def _meter_provider(resource: Any, target: Target, explicit: str | None, teardown: Teardown) -> MeterProvider | None:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.metrics import _internal as internal
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from .sdk_exporters import CountingMetricExporter, WatchedSession

    if internal._METER_PROVIDER is not None:
        _log.warning("a global MeterProvider is already set; setup() leaves it in place")
        return None
    channel = ExportChannel("metrics", target.url, counts_ended=False)
    url = _signal_url(explicit, "v1/metrics") if explicit else None
    exporter = CountingMetricExporter(OTLPMetricExporter(endpoint=url, session=WatchedSession(channel)), channel)
    provider = MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(exporter)])
    otel_metrics.set_meter_provider(provider)
    teardown.providers.append(
        SdkProvider(flush=lambda ms: provider.force_flush(ms), shutdown=lambda ms: provider.shutdown(ms))
    )
    teardown.channels.append(channel)

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
