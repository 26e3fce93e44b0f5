"""``setup()``: traces, metrics and logs for an application in one call (needs the ``[otel]`` extra).

The library itself never calls this; applications (and ``make demo``) do. ``shutdown()`` on the
returned handle flushes, stops the ``/metrics`` server and puts back what it replaced.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

# Imported where used: importing this module must cost next to nothing (and must work from the
# package's own __init__, before TelemetryConfig exists).
if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from prometheus_client import CollectorRegistry

    from . import TelemetryConfig

__all__ = ["DEFAULT_METRICS_PORT", "DEFAULT_SERVICE_NAME", "TelemetryHandle", "current", "setup"]

DEFAULT_METRICS_PORT: Final = 9464
DEFAULT_SERVICE_NAME: Final = "axio-agent"
_EXTRA_HINT: Final = (
    "axio_transport_anthropic.telemetry.setup() needs the [otel] extra: pip install 'axio-transport-anthropic[otel]'"
)

_log = logging.getLogger("axio_transport_anthropic")
_lock = threading.Lock()
_active: TelemetryHandle | None = None


@dataclass(slots=True)
class TelemetryHandle:
    """What ``setup()`` started. ``shutdown()`` undoes it; calling it again does nothing."""

    service_name: str
    metrics_url: str | None
    """``http://host:port/metrics``, or ``None`` when no server was started."""
    otlp_endpoint: str | None
    """Where traces (else metrics) are exported: the argument or the ``OTEL_EXPORTER_OTLP_*``
    variable that said so; ``None`` when nothing is exported."""
    registry: CollectorRegistry
    tracer_provider: TracerProvider | None
    """The SDK provider set as the global one; ``None`` when the host had set one already."""
    meter_provider: MeterProvider | None
    _undo: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def telemetry_config(self, **overrides: Any) -> TelemetryConfig:
        """A ``TelemetryConfig`` for transports; the default one already uses these providers,
        this also carries a non-global ``registry``."""
        from . import TelemetryConfig

        return TelemetryConfig(registry=self.registry, **overrides)

    def shutdown(self) -> None:
        """Flush exporters, stop the ``/metrics`` server, restore the previous providers and logging."""
        global _active
        undo, self._undo = self._undo, []
        _run(undo)
        with _lock:
            if _active is self:
                _active = None


def current() -> TelemetryHandle | None:
    """The handle of the ``setup()`` in effect, if any."""
    return _active


def setup(
    *,
    service_name: str | None = None,
    otlp_endpoint: str | None = None,
    metrics_port: int | None = DEFAULT_METRICS_PORT,
    metrics_addr: str = "127.0.0.1",
    registry: CollectorRegistry | None = None,
    log_format: Literal["json", "console"] = "json",
    log_level: int | str = logging.INFO,
    log_stream: TextIO | None = None,
    configure_logging: bool = True,
) -> TelemetryHandle:
    """Install OpenTelemetry SDK providers, serve ``/metrics`` and configure structured logs.

    A second call while one is in effect returns the same handle (call ``shutdown()`` first to
    change settings). Raises ``OSError`` if ``metrics_port`` is taken (``0`` picks a free one).
    """
    global _active
    with _lock:
        if _active is not None:
            _log.warning("telemetry setup() is already in effect; returning its handle unchanged")
            return _active
        try:
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource
            from opentelemetry.sdk.trace import TracerProvider
        except ImportError as exc:
            raise ImportError(_EXTRA_HINT) from exc

        name = service_name or os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        from prometheus_client import REGISTRY

        served = registry if registry is not None else REGISTRY
        undo: list[Callable[[], None]] = []
        try:
            resource = Resource.create({SERVICE_NAME: name})
            # Without an exporter too: log lines still get trace ids that tie one request together.
            provider = TracerProvider(resource=resource)
            tracer_provider = provider if _set_tracer_provider(provider, undo) else None
            traces_to = _endpoint(otlp_endpoint, "TRACES") if tracer_provider is not None else None
            if tracer_provider is not None and traces_to:
                _add_span_exporter(tracer_provider, otlp_endpoint)
            meter_provider = None
            if metrics_to := _endpoint(otlp_endpoint, "METRICS"):
                meter_provider = _meter_provider(resource, otlp_endpoint)
                if not _set_meter_provider(meter_provider, undo):
                    meter_provider = None
            endpoint = traces_to or (metrics_to if meter_provider is not None else None)
            url = _serve_metrics(metrics_port, metrics_addr, served, undo) if metrics_port is not None else None
            if configure_logging:
                from .log_setup import install_logging

                install_logging(log_format, log_level, log_stream or sys.stderr, undo)
        except BaseException:
            _run(undo)
            raise
        _active = TelemetryHandle(name, url, endpoint, served, tracer_provider, meter_provider, undo)
        return _active


def _run(undo: list[Callable[[], None]]) -> None:
    for step in reversed(undo):
        try:
            step()
        except Exception:
            _log.warning("telemetry shutdown step failed", exc_info=True)


def _endpoint(explicit: str | None, signal: str | None = None) -> str | None:
    if explicit:
        return explicit
    specific = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") if signal else None
    return specific or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def _signal_url(base: str, path: str) -> str:
    # An explicit endpoint is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is.
    return f"{base.rstrip('/')}/{path}"


def _add_span_exporter(provider: TracerProvider, explicit: str | None) -> None:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ImportError(_EXTRA_HINT) from exc
    exporter = OTLPSpanExporter(endpoint=_signal_url(explicit, "v1/traces")) if explicit else OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))


def _meter_provider(resource: Any, explicit: str | None) -> MeterProvider:
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    except ImportError as exc:
        raise ImportError(_EXTRA_HINT) from exc
    exporter = OTLPMetricExporter(endpoint=_signal_url(explicit, "v1/metrics")) if explicit else OTLPMetricExporter()
    return MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(exporter)])


def _set_tracer_provider(provider: TracerProvider, undo: list[Callable[[], None]]) -> bool:
    """Set the global provider unless the host already did (OpenTelemetry allows it once)."""
    from opentelemetry import trace

    if trace._TRACER_PROVIDER is not None:
        _log.warning("a global TracerProvider is already set; setup() leaves it in place")
        provider.shutdown()
        return False
    trace.set_tracer_provider(provider)

    def restore() -> None:
        provider.shutdown()
        if trace._TRACER_PROVIDER is provider:
            # Private, but the only way back to "unset"; OpenTelemetry's own test helpers do this.
            from opentelemetry.util._once import Once

            trace._TRACER_PROVIDER = None
            trace._TRACER_PROVIDER_SET_ONCE = Once()

    undo.append(restore)
    return True


def _set_meter_provider(provider: MeterProvider, undo: list[Callable[[], None]]) -> bool:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry.metrics import _internal as internal

    if internal._METER_PROVIDER is not None:
        _log.warning("a global MeterProvider is already set; setup() leaves it in place")
        provider.shutdown()
        return False
    otel_metrics.set_meter_provider(provider)

    def restore() -> None:
        provider.shutdown()
        if internal._METER_PROVIDER is provider:
            from opentelemetry.util._once import Once

            internal._METER_PROVIDER = None
            internal._METER_PROVIDER_SET_ONCE = Once()

    undo.append(restore)
    return True


def _serve_metrics(port: int, addr: str, registry: CollectorRegistry, undo: list[Callable[[], None]]) -> str:
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    undo.append(stop)
    host = "localhost" if addr in ("", "0.0.0.0", "::") else addr
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.server_port}/metrics"
