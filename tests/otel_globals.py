"""A fixture for tests of ``setup()``: no global providers, no structlog configuration and none of
the ``OTEL_*`` / ``ANTHROPIC_*`` variables, before and after each test.

Use it with ``pytestmark = pytest.mark.usefixtures("clean_globals")`` after importing it. Also here: a
collector that refuses connections (``dead_endpoint``; one that hangs is the ``hung_endpoint``
fixture in conftest.py) and ``shutdown_threads``, which records where ``TelemetryHandle.shutdown()``
ran.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.util._once import Once

from axio_transport_anthropic.telemetry.setup import ExportReport, TelemetryHandle, current


@pytest.fixture
def clean_globals(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "ANTHROPIC_")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", None)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER_SET_ONCE", Once())
    structlog.reset_defaults()
    yield
    if (handle := current()) is not None:
        handle.shutdown()
        pytest.fail("a test left setup() in effect")
    structlog.reset_defaults()


def dead_endpoint() -> str:
    """An OTLP endpoint nobody listens on: every export is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def shutdown_threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread of each ``TelemetryHandle.shutdown()`` from now on (the real one still runs): one on
    the event loop's thread would stall the loop while a dead collector is waited for."""
    threads: list[int] = []
    shutdown = TelemetryHandle.shutdown

    def spy(handle: TelemetryHandle, *args: Any, **kwargs: Any) -> tuple[ExportReport, ...]:
        threads.append(threading.get_ident())
        return shutdown(handle, *args, **kwargs)

    monkeypatch.setattr(TelemetryHandle, "shutdown", spy)
    return threads
