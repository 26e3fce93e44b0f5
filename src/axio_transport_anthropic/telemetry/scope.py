"""The instrumentation scope the transport reports under, what is made once per provider, and the
global providers read per request."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import metadata
from types import ModuleType
from typing import Final

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_internal

__all__ = ["SCOPE", "PerProvider", "global_meter_provider", "global_tracer_provider", "scope_version"]

SCOPE: Final = "axio_transport_anthropic"


@cache
def scope_version() -> str:
    """The installed package's version, read once per process (a metadata lookup costs ~1 ms)."""
    try:
        return metadata.version("axio-transport-anthropic")
    except metadata.PackageNotFoundError:
        return ""


class PerProvider[P, T]:
    """What ``make`` gave for the provider in effect, made again only when the host installs
    another (``setup()`` after ``shutdown()``): an identity check per request, nothing kept per call."""

    __slots__ = ("_cached", "_make")

    def __init__(self, make: Callable[[P], T]) -> None:
        self._make = make
        self._cached: tuple[P, T] | None = None

    def __call__(self, provider: P) -> T:
        cached = self._cached
        if cached is None or cached[0] is not provider:
            # A race only makes it twice; both are equally good.
            cached = self._cached = (provider, self._make(provider))
        return cached[1]


def _global_reader[P](module: ModuleType, name: str, public: Callable[[], P]) -> Callable[[], P]:
    """``public()`` (``trace.get_tracer_provider``, ``metrics.get_meter_provider``) at a fraction
    of its cost while no provider is set, as in most hosts: it then looks its
    ``OTEL_PYTHON_*_PROVIDER`` variable up in the environment on every call (~9 k instructions,
    per request and per agent run). The API's global ``name`` is read instead; unset, the answer
    is ``public()``'s, asked once: the proxy, unless the variable named a provider, which that
    call sets as the global. Another API version without ``name``: ``public`` itself."""
    if not hasattr(module, name):
        return public
    proxy: P | None = None

    def read() -> P:
        nonlocal proxy
        found: P | None = getattr(module, name)
        if found is not None:
            return found
        if proxy is None:
            answer = public()
            if getattr(module, name) is not None:  # loaded from the environment, and set
                return answer
            proxy = answer
        return proxy

    return read


global_tracer_provider: Final = _global_reader(trace, "_TRACER_PROVIDER", trace.get_tracer_provider)
global_meter_provider: Final = _global_reader(metrics_internal, "_METER_PROVIDER", otel_metrics.get_meter_provider)
