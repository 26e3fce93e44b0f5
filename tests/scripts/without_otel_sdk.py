"""``axio-anthropic`` as a core install (no ``[otel]`` extra) runs it, in the dev venv.

Imports of ``opentelemetry.sdk`` and ``opentelemetry.exporter`` fail as they would there; the
OpenTelemetry API, prometheus-client and structlog are core dependencies and stay importable.

``python without_otel_sdk.py demo`` / ``python without_otel_sdk.py load -d 1``
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

_BLOCKED = ("opentelemetry.sdk", "opentelemetry.exporter")


class _NotInstalled(MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if any(fullname == name or fullname.startswith(name + ".") for name in _BLOCKED):
            raise ModuleNotFoundError(f"No module named {fullname!r} (core install)", name=fullname)
        return None


def main() -> None:
    sys.meta_path.insert(0, _NotInstalled())
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the OpenTelemetry SDK was imported before it could be blocked")

    from axio_transport_anthropic.cli import main as cli

    cli(sys.argv[1:], prog_name="axio-anthropic")


if __name__ == "__main__":
    main()
