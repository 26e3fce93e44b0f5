"""The four telemetry environments a host may embed the transport in, set up as a host would.

OpenTelemetry's globals can be set once per process: one environment per process."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.trace import Tracer

if TYPE_CHECKING:
    from .recorder import Recorder

__all__ = ["ENVIRONMENTS", "RATIO", "Environment", "WrongEnvironment", "configure"]

ENVIRONMENTS = ("core", "sdk-no-provider", "sdk-disabled", "recording")
#: Half the root traces are dropped, so requests under dropped host spans occur.
RATIO = 0.5


class WrongEnvironment(Exception):
    """The process is not what the environment needs (e.g. the SDK importable in ``core``)."""


@dataclass(frozen=True)
class Environment:
    name: str
    tracer: Tracer
    """The host's own tracer, from the global provider."""
    recorder: Recorder | None = None


def _has_sdk() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:
        return False


def configure(name: str) -> Environment:
    if name not in ENVIRONMENTS:
        raise WrongEnvironment(f"unknown environment {name!r}; known: {', '.join(ENVIRONMENTS)}")
    sdk = _has_sdk()
    if name == "core" and sdk:
        raise WrongEnvironment("core: opentelemetry-sdk is importable; run in a venv made with only `pip install .`")
    if name != "core" and not sdk:
        raise WrongEnvironment(f"{name}: needs opentelemetry-sdk (the dev venv)")
    # Read by the SDK when a provider is made: set or cleared before any is.
    if name == "sdk-disabled":
        os.environ["OTEL_SDK_DISABLED"] = "true"
    else:
        os.environ.pop("OTEL_SDK_DISABLED", None)
    recorder = None
    if name == "sdk-disabled":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider

        # As a host does at start-up; disabled, the SDK hands out no-op tracers and meters.
        trace.set_tracer_provider(TracerProvider())
        metrics.set_meter_provider(MeterProvider())
    elif name == "recording":
        from .recorder import Recorder

        recorder = Recorder(RATIO)
        trace.set_tracer_provider(recorder.provider)
    tracer = trace.get_tracer("embedding-host")
    _confirm(name, tracer)
    return Environment(name, tracer, recorder)


def _confirm(name: str, tracer: Tracer) -> None:
    """The globals are what the environment says (a host's earlier setup would change them)."""
    provider = trace.get_tracer_provider()
    proxy = isinstance(provider, trace.ProxyTracerProvider)
    if name in ("core", "sdk-no-provider") and not proxy:
        raise WrongEnvironment(f"{name}: a tracer provider is already set ({type(provider).__name__})")
    if name == "sdk-disabled" and not isinstance(tracer, trace.NoOpTracer):
        raise WrongEnvironment(f"sdk-disabled: the SDK handed out a {type(tracer).__name__}, not a no-op tracer")
    if name == "recording" and proxy:
        raise WrongEnvironment("recording: no SDK tracer provider in effect")
