"""The counted process: ``python -m perf.child [--jobs N] WORKLOAD...``, run under callgrind by ``perf.count``.

It imports what every workload needs once, then forks one process per workload (``--jobs`` at a
time), so each workload starts from the same state, whatever else is on the list, and the imports
are paid once rather than per workload. Callgrind follows a fork by itself and writes the child's
counts to files named by its pid. The imports (~2 G instructions) are not even instrumented:
``perf.count`` starts callgrind with ``--instr-atstart=no`` and ``--instrument`` has this process
turn instrumentation on (through ``vgdb``) only once they are done, which makes the whole count
about twice as fast: instrumented, CPython runs ~50 times slower than natively, uninstrumented ~5.

In each forked process the counted regions are marked by calls to ``os.getppid()``, which nothing
else in the process makes: callgrind runs with ``--dump-before=getppid``, so each call ends one part
of the count and starts the next. The parts, in order: what came before (imports, building the
answers, opening, warming up), ``run(0)``, a gap (a full garbage collection, so both counted runs
start from the same collector state), ``run(size)``, then the exit. ``perf.count`` reads parts 2 and
4. Counting only these regions keeps start-up, imports and ``.pyc`` compilation out of the figures
altogether; subtracting ``run(0)`` removes what a region costs by itself (the marker calls, an empty
loop). Each fork prints ``<pid> <workload>`` when done; exits non-zero if any workload failed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import subprocess
import sys
import traceback
from collections.abc import Iterable
from typing import NoReturn

from .workloads import AGENT_LONG, PEERS, WORKLOADS, Workload, named

__all__ = ["MARKERS", "instrument", "main", "preload"]

#: ``os.getppid()`` calls per workload process: two per counted run.
MARKERS = 4


def preload(workloads: Iterable[Workload]) -> None:
    """Every module the workloads need, imported before the forks."""
    for workload in workloads:
        for module in workload.needs:
            importlib.import_module(module)


async def _measure(workload: Workload) -> None:
    async with workload.open(workload.size) as run:
        await run(workload.warm)
        for k in (0, workload.size):
            gc.collect()
            os.getppid()
            await run(k)
            os.getppid()


def _forked(workload: Workload) -> NoReturn:
    """Runs in the forked process: counts, prints ``<pid> <workload>`` (or the traceback), exits."""
    status = 0
    try:
        asyncio.run(_measure(workload))
        print(os.getpid(), workload.name)
    except BaseException:
        print(f"perf.child: {workload.name} failed:", file=sys.stderr)
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def instrument() -> None:
    """Turns callgrind's instrumentation on in this process, and waits until it is on."""
    vgdb = subprocess.Popen(
        ["vgdb", f"--pid={os.getpid()}", "instrumentation", "on"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Valgrind reads the command when this process next polls for one (every 5,000 basic blocks):
    # a process blocked waiting for vgdb would never take it, so spin.
    while vgdb.poll() is None:
        pass
    if vgdb.returncode != 0:
        raise RuntimeError(
            f"vgdb could not turn callgrind's instrumentation on: {vgdb.stderr.read() if vgdb.stderr else ''}"
        )


def _reaped() -> int:
    """Waits for one forked process: 1 if it failed, else 0."""
    return 0 if os.waitstatus_to_exitcode(os.wait()[1]) == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.child")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--instrument", action="store_true", help="under callgrind --instr-atstart=no: see above")
    parser.add_argument("workloads", nargs="+")
    args = parser.parse_args(argv)
    workloads = tuple(w for name in args.workloads for w in named(name, (*WORKLOADS, *AGENT_LONG, *PEERS)))
    jobs = max(1, args.jobs)
    preload(workloads)
    sys.stdout.flush()
    # Every process is forked from this one, so whatever it allocates between forks is in the next
    # one's heap, and the counts would depend on the order of the list and on pids. So nothing is
    # kept between forks: no list of pids, no names (each process prints its own), small ints only;
    # what os.fork() and os.wait() return is freed again, leaving the heap as it was.
    if args.instrument:
        instrument()
    gc.collect()
    gc.freeze()
    running = failed = 0
    for workload in workloads:
        if running == jobs:
            failed += _reaped()
            running -= 1
        if os.fork() == 0:
            _forked(workload)
        running += 1
    while running:
        failed += _reaped()
        running -= 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
