"""An OTLP/HTTP receiver for tests: ``POST /v1/traces``, ``/v1/metrics`` and ``/v1/logs`` with protobuf bodies.

It serves from its own thread and event loop, so the SDK's blocking exporters can be called from
the test's loop (or from any thread) without waiting on a server that loop would have to run.

    async with OtlpReceiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.url + "/v1/traces")
        ...
        spans = receiver.spans()
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Final, Protocol, Self, TypeVar

from aiohttp import web, web_protocol
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = ["OtlpReceiver", "attributes", "value"]

_PROTOBUF: Final = "application/x-protobuf"
_STARTUP_TIMEOUT: Final = 10.0

_M = TypeVar("_M")
_Handler = Callable[[web.Request], Awaitable[web.Response]]


class _Serializable(Protocol):
    def SerializeToString(self) -> bytes: ...


def value(any_value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as the Python value it stands for."""
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(item) for item in any_value.array_value.values]
    if kind == "kvlist_value":
        return attributes(any_value.kvlist_value.values)
    return getattr(any_value, kind)


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP attributes (of a span, an event, a resource, a data point) as a plain dict."""
    return {pair.key: value(pair.value) for pair in pairs}


class OtlpReceiver:
    """Keeps every decoded export request; readers get snapshots, safe while exports arrive."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._traces: list[ExportTraceServiceRequest] = []
        self._metrics: list[ExportMetricsServiceRequest] = []
        self._logs: list[ExportLogsServiceRequest] = []
        self._bodies: list[bytes] = []
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://host:port``; exporters want ``url + "/v1/traces"`` and so on."""
        if self._thread is None:
            raise RuntimeError("the receiver is not running")
        return f"http://{self.host}:{self.port}"

    # ── what arrived ────────────────────────────────────────────────────────────────────────

    @property
    def traces(self) -> list[ExportTraceServiceRequest]:
        with self._lock:
            return list(self._traces)

    @property
    def metrics(self) -> list[ExportMetricsServiceRequest]:
        with self._lock:
            return list(self._metrics)

    @property
    def logs(self) -> list[ExportLogsServiceRequest]:
        with self._lock:
            return list(self._logs)

    @property
    def bodies(self) -> list[bytes]:
        """Every request body as uncompressed protobuf bytes, for substring checks."""
        with self._lock:
            return list(self._bodies)

    def spans(self) -> list[Span]:
        return [
            span
            for request in self.traces
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def trace_resource(self) -> dict[str, Any]:
        """The resource attributes (the service's name, say) of the first trace export."""
        return attributes(self.traces[0].resource_spans[0].resource.attributes)

    def log_records(self) -> list[LogRecord]:
        return [
            record
            for request in self.logs
            for rl in request.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]

    def clear(self) -> None:
        with self._lock:
            self._traces.clear()
            self._metrics.clear()
            self._logs.clear()
            self._bodies.clear()

    async def wait_for(self, predicate: Callable[[OtlpReceiver], bool]) -> None:
        """Until ``predicate(self)`` holds, for exporters that push on their own schedule; bound it
        with ``asyncio.timeout()``."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.append(waiter)
        try:
            while not predicate(self):
                await waiter[1].wait()
                waiter[1].clear()
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    # ── lifecycle ───────────────────────────────────────────────────────────────────────────

    def start(self) -> None:
        """Bind a free port and serve; returns once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("the receiver is already running")
        ready = threading.Event()
        self._failure = None
        self._thread = threading.Thread(target=self._run, args=(ready,), name="otlp-receiver", daemon=True)
        self._thread.start()
        if not ready.wait(_STARTUP_TIMEOUT) or self._failure is not None:
            self.stop()
            raise RuntimeError("the OTLP receiver did not start") from self._failure

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(_STARTUP_TIMEOUT)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # reported to start(), which is waiting on `ready`
            self._failure = exc
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        routes = (
            (
                "/v1/traces",
                self._handler(ExportTraceServiceRequest.FromString, self._traces, ExportTraceServiceResponse()),
            ),
            (
                "/v1/metrics",
                self._handler(ExportMetricsServiceRequest.FromString, self._metrics, ExportMetricsServiceResponse()),
            ),
            ("/v1/logs", self._handler(ExportLogsServiceRequest.FromString, self._logs, ExportLogsServiceResponse())),
        )
        for path, handler in routes:
            app.router.add_post(path, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, 0)
            await site.start()
            self.port = int(runner.addresses[0][1])
            ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    # ── handlers ────────────────────────────────────────────────────────────────────────────

    def _handler(self, parse: Callable[[bytes], _M], store: list[_M], reply: _Serializable) -> _Handler:
        async def handle(request: web.Request) -> web.Response:
            body = await _body(request)
            if isinstance(body, web.Response):
                return body
            try:
                message = parse(body)
            except Exception as exc:  # protobuf's DecodeError, which has no type stubs here
                return web.Response(status=400, text=f"not an OTLP export request: {exc}")
            with self._lock:
                store.append(message)
                self._bodies.append(body)
                waiters = list(self._waiters)
            for loop, event in waiters:
                with contextlib.suppress(RuntimeError):  # that waiter's loop is closed
                    loop.call_soon_threadsafe(event.set)
            return web.Response(body=reply.SerializeToString(), content_type=_PROTOBUF)

        return handle


async def _body(request: web.Request) -> bytes | web.Response:
    """The protobuf body (aiohttp has already undone a gzip or deflate Content-Encoding), or the
    error response to send instead."""
    if request.content_type != _PROTOBUF:
        # OTLP/JSON is not supported: saying so beats a confusing decode error.
        return web.Response(status=415, text=f"only {_PROTOBUF} is accepted")
    try:
        return await request.read()
    except web_protocol.RequestPayloadError as exc:
        return web.Response(status=400, text=f"unreadable body: {exc}")
