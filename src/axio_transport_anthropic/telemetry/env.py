"""The standard ``OTEL_*`` variables ``setup()`` follows, read in one place.

- ``OTEL_SDK_DISABLED=true``: no SDK providers at all.
- ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: ``none`` turns that export off; ``otlp``
  turns it on (to ``http://localhost:4318`` when no endpoint is set); unset, a signal is exported
  when an endpoint is named. Other exporters (``console``, ``zipkin``...) are not provided here:
  they are named in a warning and that signal is not exported.
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT``: where.
- ``OTEL_SERVICE_NAME``, else ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``: the service name,
  unless the program passes one; a CLI's own name is only the fallback.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote

__all__ = ["DEFAULT_OTLP_ENDPOINT", "ExportPlan", "Target", "export_plan", "sdk_disabled", "service_name"]

#: Where OTLP/HTTP goes when ``OTEL_*_EXPORTER=otlp`` names no endpoint (the specification's default).
DEFAULT_OTLP_ENDPOINT: Final = "http://localhost:4318"
#: Exporters something else provides: Prometheus is ``setup()``'s own ``/metrics``.
_SERVED_ELSEWHERE: Final = {"METRICS": {"prometheus"}, "TRACES": set[str]()}

_log = logging.getLogger("axio_transport_anthropic")


@dataclass(slots=True, frozen=True)
class Target:
    """An OTLP endpoint and what named it (``otlp_endpoint`` or the environment variable)."""

    url: str
    asked_by: str


@dataclass(slots=True, frozen=True)
class ExportPlan:
    target: Target | None
    """Where to export; ``None``: not exported."""
    off: str | None = None
    """Why not, in a few words."""


def sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def service_name(explicit: str | None, fallback: str) -> str:
    """The argument, else ``OTEL_SERVICE_NAME``, else ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``."""
    if explicit:
        return explicit
    if named := os.environ.get("OTEL_SERVICE_NAME", "").strip():
        return named
    for pair in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip() == "service.name" and value.strip():
            return unquote(value.strip())
    return fallback


def export_plan(explicit: str | None, signal: Literal["TRACES", "METRICS"]) -> ExportPlan:
    """Whether and where ``signal`` is exported over OTLP."""
    variable = f"OTEL_{signal}_EXPORTER"
    setting = os.environ.get(variable, "").strip()
    names = {name.strip().lower() for name in setting.split(",") if name.strip()}
    endpoint = _endpoint(explicit, signal)
    if not names:
        return ExportPlan(endpoint, None if endpoint else "no OTLP endpoint is set")
    if "none" in names:
        return ExportPlan(None, f"{variable}=none")
    unsupported = sorted(names - {"otlp"} - _SERVED_ELSEWHERE[signal])
    if unsupported:
        _log.warning("%s=%s: setup() exports over OTLP only, not %s", variable, setting, ", ".join(unsupported))
    if "otlp" not in names:
        return ExportPlan(None, f"{variable}={setting}")
    return ExportPlan(endpoint or Target(DEFAULT_OTLP_ENDPOINT, variable))


def _endpoint(explicit: str | None, signal: str) -> Target | None:
    """The argument, else the standard variables."""
    if explicit:
        return Target(explicit, "otlp_endpoint")
    for name in (f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        if value := os.environ.get(name, "").strip():
            return Target(value, name)
    return None
