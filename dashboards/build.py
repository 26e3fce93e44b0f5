"""Generate the Grafana dashboards as JSON: `python dashboards/build.py [--check]`.

Writes `dashboards/<uid>.json`. With `--check`, writes nothing and exits 1 when a committed file is
missing, stale, or no longer generated.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the `dashboards` package importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import drilldown, overview, retries
from dashboards.common import render

DIRECTORY = Path(__file__).resolve().parent
BUILDERS: Sequence[Callable[[], db.Dashboard]] = (overview.build, retries.build, drilldown.build)


def generate() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    files: dict[str, str] = {}
    for build in BUILDERS:
        dashboard = build()
        uid = dashboard.build().uid
        if not uid or f"{uid}.json" in files:
            raise ValueError(f"dashboard uid missing or duplicated: {uid!r}")
        files[f"{uid}.json"] = render(dashboard)
    return files


def differences(directory: Path = DIRECTORY) -> list[str]:
    """What differs between the committed JSON files and a fresh generation, one line each."""
    fresh = generate()
    found: list[str] = []
    for name, text in sorted(fresh.items()):
        path = directory / name
        if not path.exists():
            found.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"{name}: differs from the generated dashboard")
    for path in sorted(directory.glob("*.json")):
        if path.name not in fresh:
            found.append(f"{path.name}: no longer generated")
    return found


def write(directory: Path = DIRECTORY) -> list[Path]:
    written: list[Path] = []
    for name, text in generate().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed JSON is not up to date")
    args = parser.parse_args(argv)
    if args.check:
        found = differences()
        for line in found:
            print(line, file=sys.stderr)
        if found:
            print("run `python dashboards/build.py` to regenerate", file=sys.stderr)
        return 1 if found else 0
    for path in write():
        print(path.relative_to(DIRECTORY.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
