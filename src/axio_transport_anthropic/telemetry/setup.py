"""``setup()``: traces, metrics and logs for an application in one call.

The library itself never calls this; applications (and ``make demo``) do. ``/metrics`` and the
logs need only the core dependencies; traces, and OTLP export, need the ``[otel]`` extra
(``sdk_setup.py``). ``shutdown()`` on the returned handle flushes, stops the ``/metrics`` server and
puts back what it replaced, within a time bound (``teardown.py``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

from .exports import ExportReport
from .teardown import DEFAULT_SHUTDOWN_TIMEOUT, Teardown

# Imported where used: importing this module must cost next to nothing (and must work from the
# package's own __init__, before TelemetryConfig exists).
if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from prometheus_client import CollectorRegistry

    from . import TelemetryConfig
    from .sdk_setup import TraceMode

__all__ = [
    "DEFAULT_METRICS_PORT",
    "DEFAULT_SERVICE_NAME",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "ExportReport",
    "TelemetryHandle",
    "current",
    "setup",
]

DEFAULT_METRICS_PORT: Final = 9464
DEFAULT_SERVICE_NAME: Final = "axio-agent"

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
    variable that said so (``http://localhost:4318`` for ``OTEL_*_EXPORTER=otlp`` alone);
    ``None`` when nothing is exported."""
    registry: CollectorRegistry
    tracer_provider: TracerProvider | None
    """The SDK provider set as the global one; ``None`` when the host had set one already, or
    without the OpenTelemetry SDK (``sdk_installed``)."""
    meter_provider: MeterProvider | None
    """Set only when metrics are exported over OTLP."""
    sdk_installed: bool = True
    """``False`` when no SDK is used: a core install (no ``[otel]`` extra) or ``OTEL_SDK_DISABLED=true``
    (``traces_off`` says which); then there are no traces, only ``/metrics`` and logs."""
    traces: TraceMode = "recorded"
    """``exported`` over OTLP; ``recorded`` by an SDK provider that exports nothing (log lines still
    carry trace ids); ``host``: the provider the host had set, left in place; ``off``: no SDK."""
    traces_off: str | None = None
    """Why spans are not exported, in a few words (``OTEL_TRACES_EXPORTER=none``); ``None`` when they are."""
    exports: tuple[ExportReport, ...] = ()
    """Set by ``shutdown()``: what each OTLP exporter delivered (the same as it returns)."""
    _teardown: Teardown | None = field(default=None, repr=False)

    def telemetry_config(self, **overrides: Any) -> TelemetryConfig:
        """A ``TelemetryConfig`` for transports; the default one already uses these providers,
        this also carries a non-global ``registry``."""
        from . import TelemetryConfig

        return TelemetryConfig(registry=self.registry, **overrides)

    def shutdown(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> tuple[ExportReport, ...]:
        """Flush the exporters and shut the providers down (waiting at most ``timeout`` seconds for
        them, and not at all for a collector that refuses connections), then stop the ``/metrics``
        server and restore the previous providers and logging, last so that export failures are
        logged as configured. Returns what each OTLP exporter delivered (nothing without export).
        Blocks; see ``ashutdown()``. A second call returns the first one's reports."""
        global _active
        teardown, self._teardown = self._teardown, None
        if teardown is None:
            return self.exports
        try:
            self.exports = teardown.run(timeout)
            return self.exports
        finally:
            with _lock:
                if _active is self:
                    _active = None

    # The bound on the exports inside the thread, which an asyncio.timeout() around the await
    # could not give: cancelling the await leaves the thread running.
    async def ashutdown(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> tuple[ExportReport, ...]:  # noqa: ASYNC109
        """``shutdown()`` in a worker thread: the event loop keeps running while exports finish."""
        return await asyncio.to_thread(self.shutdown, timeout)


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
    default_service_name: str = DEFAULT_SERVICE_NAME,
) -> TelemetryHandle:
    """Install OpenTelemetry SDK providers, serve ``/metrics`` and configure structured logs.

    ``service.name`` is ``service_name``, else ``OTEL_SERVICE_NAME``, else ``service.name`` in
    ``OTEL_RESOURCE_ATTRIBUTES``, else ``default_service_name`` (what a tool names itself).
    ``OTEL_SDK_DISABLED`` and ``OTEL_{TRACES,METRICS}_EXPORTER`` are followed (``env.py``).

    A second call while one is in effect returns the same handle (call ``shutdown()`` first to
    change settings). Raises ``OSError`` if ``metrics_port`` is taken (``0`` picks a free one), and
    ``ImportError`` if OTLP export is asked for (``otlp_endpoint`` or ``OTEL_EXPORTER_OTLP_*``)
    without the ``[otel]`` extra; without the extra and without export, there are no traces.
    """
    global _active
    with _lock:
        if _active is not None:
            _log.warning("telemetry setup() is already in effect; returning its handle unchanged")
            return _active
        from prometheus_client import REGISTRY

        from .env import service_name as resolve_name
        from .sdk_setup import install_sdk

        name = resolve_name(service_name, default_service_name)
        served = registry if registry is not None else REGISTRY
        teardown = Teardown()
        try:
            sdk = install_sdk(name, otlp_endpoint, teardown)
            url = _serve_metrics(metrics_port, metrics_addr, served, teardown) if metrics_port is not None else None
            if configure_logging:
                from .log_setup import install_logging

                install_logging(log_format, log_level, log_stream or sys.stderr, teardown.restore_logging)
        except BaseException:
            teardown.run(DEFAULT_SHUTDOWN_TIMEOUT)
            raise
        _active = TelemetryHandle(
            name,
            url,
            sdk.endpoint,
            served,
            sdk.tracer_provider,
            sdk.meter_provider,
            sdk.sdk,
            sdk.traces,
            sdk.traces_off,
            _teardown=teardown,
        )
        return _active


def _serve_metrics(port: int, addr: str, registry: CollectorRegistry, teardown: Teardown) -> str:
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    teardown.stop_server.append(stop)
    host = "localhost" if addr in ("", "0.0.0.0", "::") else addr
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.server_port}/metrics"
