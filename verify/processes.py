"""Child processes that cannot outlive the verification, nor their own time limit.

Every process gets its own session (so its whole group can be signalled), a deadline enforced
by a watchdog thread, and on Linux ``PR_SET_PDEATHSIG`` so the kernel kills it if the
verification itself is killed outright. ``Supervisor.__exit__`` stops whatever is still running.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

__all__ = ["Proc", "ProcessError", "Supervisor"]

_PR_SET_PDEATHSIG: Final = 1
_GRACE_SECONDS: Final = 5.0


class ProcessError(RuntimeError):
    """A child exited, or did not say what was expected of it in time."""


def _pdeathsig() -> Callable[[], None] | None:
    """A preexec function asking the kernel to SIGKILL the child when its parent thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        prctl = ctypes.CDLL(name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        # Between fork and exec: a plain syscall, no locks taken.
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return preexec


_PREEXEC: Final = _pdeathsig()


class Proc:
    """One started process: its log (stdout and stderr together) and its deadline."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
        self.name = name
        self.popen = popen
        self.log = log
        self.deadline = deadline

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, chars: int = 2000) -> str:
        return self.output()[-chars:]

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first match of ``pattern`` in the log; raises if the process exits or time runs out."""
        regex = re.compile(pattern, re.MULTILINE)
        end = time.monotonic() + timeout
        while True:
            found = regex.search(self.output())
            if found is not None:
                return found
            if not self.running():
                raise ProcessError(f"{self.name} exited with {self.popen.returncode} before printing /{pattern}/")
            if time.monotonic() > end:
                raise ProcessError(f"{self.name} printed no /{pattern}/ within {timeout:g} s")
            time.sleep(0.1)


def _signal_group(proc: Proc, sig: signal.Signals) -> None:
    # The child leads its own session, so its process group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


class Supervisor:
    """Starts processes and guarantees they end: by ``stop()``, their deadline, or ``__exit__``."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._procs: list[Proc] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="verify-watchdog", daemon=True)
        self.expired: list[str] = []

    def __enter__(self) -> Self:
        self._watchdog.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()
        self._closing.set()
        self._watchdog.join(5)

    @property
    def procs(self) -> list[Proc]:
        with self._lock:
            return list(self._procs)

    def start(self, name: str, argv: Sequence[str], *, lifetime: float, env: Mapping[str, str] | None = None) -> Proc:
        """Start ``argv``; it is killed ``lifetime`` seconds from now at the latest."""
        log = self._log_dir / f"{name}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=_PREEXEC,  # only a prctl() call: safe between fork and exec
            )
        proc = Proc(name, popen, log, time.monotonic() + lifetime)
        with self._lock:
            self._procs.append(proc)
        return proc

    def stop(self, proc: Proc, grace: float = _GRACE_SECONDS, *, signalled: bool = False) -> int:
        """SIGTERM (unless ``signalled`` already: a second one may kill before the first is handled),
        then SIGKILL after ``grace`` seconds; the exit code."""
        if proc.running():
            if not signalled:
                _signal_group(proc, signal.SIGTERM)
            try:
                proc.popen.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.popen.wait()
        # The leader may be gone while something it started lingers in its group.
        _signal_group(proc, signal.SIGKILL)
        return proc.popen.wait()

    def stop_many(self, procs: Sequence[Proc], grace: float = _GRACE_SECONDS) -> list[int]:
        """SIGTERM to all of ``procs`` at once, then wait for each; SIGKILL whatever outlives ``grace``."""
        for proc in procs:
            if proc.running():
                _signal_group(proc, signal.SIGTERM)
        end = time.monotonic() + grace
        return [self.stop(proc, grace=max(0.0, end - time.monotonic()), signalled=True) for proc in procs]

    def stop_all(self) -> None:
        """Everything still running, newest first."""
        self.stop_many(list(reversed(self.procs)))

    def _watch(self) -> None:
        while not self._closing.wait(0.5):
            now = time.monotonic()
            for proc in self.procs:
                if proc.running() and now > proc.deadline:
                    self.expired.append(proc.name)
                    _signal_group(proc, signal.SIGKILL)
