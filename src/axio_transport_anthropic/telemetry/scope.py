"""The instrumentation scope the transport reports under, and what is made once per provider."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Final

__all__ = ["SCOPE", "PerProvider", "scope_version"]

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
