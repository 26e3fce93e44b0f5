"""Thin wrappers that let ``setup()`` see what its OTLP exporters did (the ``[otel]`` extra).

The span and metric exporters are wrapped to count what the collector accepted and what failed;
each exporter's HTTP session notes why an attempt failed (the SDK only returns FAILURE), and
whether the collector could be reached at all, which lets shutdown stop waiting at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .exports import ExportChannel, describe_error

__all__ = ["CountingMetricExporter", "CountingSpanExporter", "EndedSpans", "WatchedSession"]


class WatchedSession(requests.Session):
    """The exporter's HTTP session (its ``session=`` argument), noting each failed attempt."""

    def __init__(self, channel: ExportChannel) -> None:
        super().__init__()
        self._channel = channel

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            response = super().request(*args, **kwargs)
        except requests.exceptions.ConnectionError as exc:  # refused, unknown host, TLS, connect timeout
            self._channel.attempt_failed(describe_error(exc), unreachable=True)
            raise
        except Exception as exc:
            self._channel.attempt_failed(describe_error(exc), unreachable=False)
            raise
        if response.status_code >= 400:
            self._channel.attempt_failed(
                f"HTTP {response.status_code} {response.reason or ''}".strip(), unreachable=False
            )
        return response


class EndedSpans(SpanProcessor):
    """Counts the spans the batch processor is given (sampled ones), exported or not."""

    def __init__(self, channel: ExportChannel) -> None:
        self._channel = channel

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is not None and context.trace_flags.sampled:
            self._channel.ended()


class CountingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, channel: ExportChannel) -> None:
        self._inner = inner
        self._channel = channel
        channel.on_stop(inner.shutdown)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self._channel.exported(len(spans))
        else:
            self._channel.failed(len(spans))
        return result

    def shutdown(self) -> None:
        # Once: teardown may have stopped it already (the SDK warns on a second call).
        self._channel.stop()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingMetricExporter(MetricExporter):
    def __init__(self, inner: MetricExporter, channel: ExportChannel) -> None:
        # The periodic reader reads these two from its exporter.
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._inner = inner
        self._channel = channel
        channel.on_stop(inner.shutdown)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        points = _data_points(metrics_data)
        result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result is MetricExportResult.SUCCESS:
            self._channel.exported(points)
        else:
            self._channel.failed(points)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._channel.stop()


def _data_points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )
