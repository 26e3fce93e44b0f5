"""``setup()`` and the CLI follow the standard ``OTEL_*`` variables: the service name and resource
attributes, ``OTEL_{TRACES,METRICS}_EXPORTER`` and ``OTEL_SDK_DISABLED``."""

from __future__ import annotations

import io
import logging
import sys

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from axio_transport_anthropic.demo import run_demo
from axio_transport_anthropic.telemetry.setup import TelemetryHandle, setup

from .otel_globals import clean_globals  # noqa: F401
from .otlp_receiver import OtlpReceiver

pytestmark = [pytest.mark.usefixtures("clean_globals"), pytest.mark.timeout(60)]


def _quiet_setup() -> TelemetryHandle:
    return setup(metrics_port=None, registry=CollectorRegistry(), log_stream=io.StringIO())


def _one_span_and_one_metric(span_name: str) -> TelemetryHandle:
    """``setup()`` as the environment says, a span with a counter added inside it, then shut down."""
    handle = _quiet_setup()
    with trace.get_tracer("test").start_as_current_span(span_name):
        metrics.get_meter("test").create_counter("things").add(1)
    handle.shutdown()
    return handle


async def test_resource_attributes_from_the_environment_name_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,deployment.environment.name=ci")
        handle = _quiet_setup()
        assert handle.service_name == "from-attrs"
        with trace.get_tracer("test").start_as_current_span("hello"):
            pass
        handle.shutdown()
        resource = receiver.trace_resource()
    assert resource["service.name"] == "from-attrs" and resource["deployment.environment.name"] == "ci"


def test_otel_service_name_beats_the_resource_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    handle = setup(metrics_port=None, configure_logging=False, default_service_name="fallback")
    try:
        assert handle.service_name == "from-env"
        assert handle.tracer_provider is not None
        assert handle.tracer_provider.resource.attributes["service.name"] == "from-env"
    finally:
        handle.shutdown()


async def test_traces_exporter_none_turns_span_export_off(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
        handle = _one_span_and_one_metric("not exported")
        assert receiver.spans() == [], "OTEL_TRACES_EXPORTER=none"
        assert receiver.metrics, "metrics are still exported"
        assert handle.otlp_endpoint == receiver.url  # the metrics' endpoint
    # Still an SDK provider, so that log lines carry trace ids; it just exports nothing.
    assert handle.traces == "recorded" and handle.traces_off == "OTEL_TRACES_EXPORTER=none"


async def test_metrics_exporter_none_turns_metric_export_off(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        handle = _one_span_and_one_metric("exported")
        assert not receiver.metrics and handle.meter_provider is None
        assert [span.name for span in receiver.spans()] == ["exported"]


def test_an_exporter_setup_cannot_provide_is_named_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with caplog.at_level(logging.WARNING, "axio_transport_anthropic"):
        handle = setup(metrics_port=None, configure_logging=False)
    handle.shutdown()
    assert handle.traces == "recorded" and handle.traces_off == "OTEL_TRACES_EXPORTER=zipkin"
    assert any("zipkin" in record.getMessage() for record in caplog.records)


async def test_sdk_disabled_installs_no_provider_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
        out = io.StringIO()
        assert await run_demo(out=out) == 0, out.getvalue()
        assert not receiver.spans() and not receiver.metrics
    assert "[traces: off (OTEL_SDK_DISABLED=true)]" in out.getvalue(), out.getvalue()
    assert "exported" not in out.getvalue()
    handle = setup(metrics_port=None, configure_logging=False)
    try:
        assert handle.tracer_provider is None and handle.meter_provider is None and handle.otlp_endpoint is None
        assert handle.traces == "off" and handle.traces_off == "OTEL_SDK_DISABLED=true"
        assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    finally:
        handle.shutdown()


def test_sdk_disabled_in_a_core_install_is_no_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter"))]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk", None)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "TRUE")
    handle = setup(metrics_port=None, configure_logging=False)
    handle.shutdown()
    assert handle.traces_off == "OTEL_SDK_DISABLED=true"
