"""A fixture for tests of ``setup()``: no global providers, no structlog configuration and none of
the ``OTEL_*`` / ``ANTHROPIC_*`` variables, before and after each test.

Use it with ``pytestmark = pytest.mark.usefixtures("clean_globals")`` after importing it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.util._once import Once

from axio_transport_anthropic.telemetry.setup import current


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
