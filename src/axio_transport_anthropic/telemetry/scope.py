"""The instrumentation scope the transport's spans and metrics are reported under."""

from __future__ import annotations

from functools import cache
from importlib import metadata
from typing import Final

__all__ = ["SCOPE", "scope_version"]

SCOPE: Final = "axio_transport_anthropic"


@cache
def scope_version() -> str:
    """The installed package's version, read once per process (a metadata lookup costs ~1 ms)."""
    try:
        return metadata.version("axio-transport-anthropic")
    except metadata.PackageNotFoundError:
        return ""
