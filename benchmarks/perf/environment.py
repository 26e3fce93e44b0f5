"""What the counts depend on besides this code: the interpreter, the platform, valgrind, the dependencies.

``python -m perf.environment`` prints the interpreter's side as JSON (it runs in the counted
interpreter, with the child's environment); ``fingerprint()`` adds valgrind's version and the hash
of ``benchmarks/perf/constraints.txt``. A baseline is only compared with counts made under an equal
fingerprint: the same code measures differently under another CPython build or another aiohttp, and
such a difference is neither a regression nor a gain of this project's.

The CPU model is recorded but not compared: glibc picks its string functions by CPU feature, and
switching them off entirely (``GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-AVX,-ERMS,-FSRM,...``) moved
the counts by 0.1 %, far inside the tolerance, so refusing on every machine type would be noise.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from .count import BENCHMARKS, ROOT, CountError, child_env, valgrind_version

__all__ = ["COMPARED", "CONSTRAINTS", "describe", "differences", "fingerprint"]

CONSTRAINTS: Final = BENCHMARKS / "perf" / "constraints.txt"
#: Fields that must be equal for counts to be compared (the rest are for the record).
COMPARED: Final = ("python", "platform", "valgrind", "constraints_sha256", "packages")
#: Installed but never imported by the workloads; the project itself is what is measured.
_IGNORED: Final = frozenset({"pip", "setuptools", "wheel", "axio-transport-anthropic"})


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> dict[str, Any]:
    """The running interpreter, its platform and the distributions it can import."""
    packages = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name and name not in _IGNORED:
            packages[name] = dist.version
    libc = " ".join(platform.libc_ver()).strip() or "unknown libc"
    return {
        "python": f"{platform.python_implementation()} {sys.version}",
        "platform": f"{platform.system()} {platform.machine()} {libc}",
        "cpu": _cpu(),
        "packages": dict(sorted(packages.items())),
    }


def _constraints_hash() -> str:
    """Of the pins alone, so that editing the file's comments does not refuse every baseline."""
    try:
        lines = CONSTRAINTS.read_text().splitlines()
    except OSError:
        return "missing"
    pins = sorted(line.split("#", 1)[0].strip() for line in lines)
    return hashlib.sha256("\n".join(pin for pin in pins if pin).encode()).hexdigest()


def fingerprint(python: Path, pythonpath: Path | None = None) -> dict[str, Any]:
    """The whole fingerprint of counting with ``python``; raises ``CountError`` without valgrind."""
    done = subprocess.run(
        [str(python), "-m", "perf.environment"],
        cwd=ROOT,
        env=child_env(pythonpath),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CountError(f"{python} could not describe itself:\n{done.stderr.strip()[-2000:]}")
    described: dict[str, Any] = json.loads(done.stdout)
    return {**described, "valgrind": valgrind_version(), "constraints_sha256": _constraints_hash()}


def differences(baseline: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Why counts made under ``now`` cannot be compared with ``baseline``: one line per field."""
    lines = []
    for field in COMPARED:
        was, is_ = baseline.get(field), now.get(field)
        if was == is_:
            continue
        if field == "packages" and isinstance(was, dict) and isinstance(is_, dict):
            changed = [
                f"{name} {was.get(name, '(absent)')} -> {is_.get(name, '(absent)')}"
                for name in sorted(set(was) | set(is_))
                if was.get(name) != is_.get(name)
            ]
            lines.append(f"packages: {', '.join(changed)}")
        else:
            lines.append(f"{field}: {was!r} in the baseline, {is_!r} now")
    return lines


if __name__ == "__main__":
    print(json.dumps(describe()))
