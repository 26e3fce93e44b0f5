"""The global providers, read per request and per agent run: always what the OpenTelemetry API's own
``get_tracer_provider()`` / ``get_meter_provider()`` would answer, set or unset, set up again, named
by ``OTEL_PYTHON_*_PROVIDER``, or with an API that keeps its globals elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import ModuleType

import pytest
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from axio_transport_anthropic.telemetry import scope
from axio_transport_anthropic.telemetry.scope import global_meter_provider, global_tracer_provider


def test_unset_they_answer_the_apis_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(otel_metrics._internal, "_METER_PROVIDER", None)
    assert global_tracer_provider() is trace.get_tracer_provider()
    assert global_meter_provider() is otel_metrics.get_meter_provider()
    assert global_tracer_provider() is global_tracer_provider()  # the proxy, asked for once


def test_a_provider_set_later_and_unset_again_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = trace.get_tracer_provider()
    host = TracerProvider()
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    assert global_tracer_provider() is trace.get_tracer_provider() is proxy
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", host)  # what set_tracer_provider() does
    assert global_tracer_provider() is trace.get_tracer_provider() is host
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)  # what setup()'s shutdown does
    assert global_tracer_provider() is trace.get_tracer_provider() is proxy


def test_an_api_without_the_global_gets_the_public_call() -> None:
    module = ModuleType("elsewhere")
    calls: list[int] = []

    def public() -> str:
        calls.append(1)
        return "provider"

    read = scope._global_reader(module, "_TRACER_PROVIDER", public)
    assert read is public
    assert read() == "provider" and calls == [1]


def test_a_provider_named_in_the_environment_is_loaded_and_kept(tmp_path: os.PathLike[str]) -> None:
    # A process of its own: the variable is read when the first call finds no global set.
    script = textwrap.dedent(
        """
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider

        from axio_transport_anthropic.telemetry.scope import global_meter_provider, global_tracer_provider

        tracer_provider, meter_provider = global_tracer_provider(), global_meter_provider()
        assert isinstance(tracer_provider, TracerProvider), tracer_provider
        assert isinstance(meter_provider, MeterProvider), meter_provider
        assert tracer_provider is trace.get_tracer_provider() is global_tracer_provider()
        assert meter_provider is metrics.get_meter_provider() is global_meter_provider()
        print("ok")
        """
    )
    env = {
        **os.environ,
        "OTEL_PYTHON_TRACER_PROVIDER": "sdk_tracer_provider",
        "OTEL_PYTHON_METER_PROVIDER": "sdk_meter_provider",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
