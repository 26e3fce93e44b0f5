"""Counting: ``perf.child`` under callgrind, and the instructions of each workload's two counted runs.

Callgrind counts every instruction a process executes (all its threads), the same on every run of
the same binary, libraries and input: there is no clock in it. What could still differ between runs
is removed here: the child gets a fixed, minimal environment (``PYTHONHASHSEED=0``, so string hashes
and set orders repeat; none of the caller's ``OTEL_*`` or ``ANTHROPIC_*`` variables) and the
repository root as its working directory. It runs once uncounted first, which compiles the ``.pyc``
files a fresh checkout lacks (only the uncounted start-up would pay for them) and lets a broken
workload fail quickly, with a plain traceback. What is left: a duration the transport measures
by the clock and hands to a metric, span or log line decides a histogram bucket and how many digits
are written, so ``request/full`` and ``retry/429-200`` move by up to ~0.05 % between counts; the
decoder and ``request/off`` count the same to the instruction.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .child import MARKERS
from .workloads import Workload

__all__ = ["BENCHMARKS", "ROOT", "Count", "CountError", "child_env", "count_all", "valgrind_version"]

#: The repository root, the counted processes' working directory.
ROOT: Final = Path(__file__).resolve().parents[2]
#: Where ``perf`` and the benchmark clients import from: on every counted process's path.
BENCHMARKS: Final = ROOT / "benchmarks"
_TOTALS: Final = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)
_TRIGGER: Final = re.compile(r"^desc: Trigger: (.*)$", re.MULTILINE)


class CountError(RuntimeError):
    """The workload or valgrind failed; the message says which and shows the end of its output."""


@dataclass(frozen=True, slots=True)
class Count:
    """Instructions of one workload's two counted runs, and what one unit costs."""

    name: str
    size: int
    empty: int
    """Instructions of ``run(0)``."""
    full: int
    """Instructions of ``run(size)``."""

    @property
    def per_unit(self) -> float:
        return (self.full - self.empty) / self.size


def child_env(pythonpath: Path | None = None) -> dict[str, str]:
    """The child's whole environment: nothing of the caller's that could change what it does."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1",
    }
    path = [str(BENCHMARKS)] if pythonpath is None else [str(pythonpath), str(BENCHMARKS)]
    env["PYTHONPATH"] = ":".join(path)
    return env


def valgrind_version() -> str:
    """``valgrind-3.19.0``; raises ``CountError`` saying how to install it when it is missing."""
    missing = [tool for tool in ("valgrind", "vgdb") if shutil.which(tool) is None]
    if missing:
        raise CountError(f"{' and '.join(missing)} not installed: apt-get install valgrind (the gate counts with it)")
    done = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _run(argv: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise CountError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done


def _parts(out: Path, pid: str) -> list[int]:
    """The instruction totals of one process's dumps, in order, its final (exit) one left out."""
    files = sorted(out.glob(f"callgrind.{pid}.*"), key=lambda p: int(p.suffix[1:]))
    totals = []
    for path in files:
        text = path.read_text()
        trigger, total = _TRIGGER.search(text), _TOTALS.search(text)
        if trigger is None or total is None or "getppid" not in trigger.group(1):
            raise CountError(f"unexpected callgrind dump {path.name}: no getppid trigger or no totals")
        totals.append(int(total.group(1)))
    return totals


def count_all(
    python: Path,
    workloads: Sequence[Workload],
    *,
    repeat: int = 1,
    jobs: int = 2,
    pythonpath: Path | None = None,
) -> dict[str, list[Count]]:
    """Each workload counted ``repeat`` times, by name; raises ``CountError``.

    One uncounted run of each first, then one process under callgrind that forks a process per
    workload and repeat, ``jobs`` at a time (see ``perf.child``).
    """
    valgrind_version()  # says how to install it, rather than a FileNotFoundError later
    env = child_env(pythonpath)
    child = [str(python), "-m", "perf.child", "--jobs", str(jobs)]
    _run([*child, *(w.name for w in workloads)], env, "the workloads (uncounted run)")
    sizes = {w.name: w.size for w in workloads}
    results: dict[str, list[Count]] = {w.name: [] for w in workloads}
    with tempfile.TemporaryDirectory(prefix="perf-") as tmp:
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--dump-before=getppid",
            f"--callgrind-out-file={tmp}/callgrind.%p",
            "--dump-line=no",
            "--compress-pos=no",
        ]
        names = [w.name for _ in range(repeat) for w in workloads]
        done = _run([*valgrind, *child, "--instrument", *names], env, "the workloads under callgrind")
        for line in done.stdout.splitlines():
            pid, name = line.split()
            parts = _parts(Path(tmp), pid)
            if len(parts) != MARKERS:
                raise CountError(f"{name}: {len(parts)} counted parts, expected {MARKERS} (another getppid call?)")
            # Parts: what came before, run(0), the gap, run(size).
            results[name].append(Count(name, sizes[name], parts[1], parts[3]))
    missing = [name for name, counts in results.items() if len(counts) != repeat]
    if missing:
        raise CountError(f"no counts for {', '.join(missing)}:\n{done.stdout}{done.stderr}")
    return results
