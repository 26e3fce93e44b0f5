"""The processes of a comparison: one per client (compare_client.py) and the simulator (compare_sim.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from compare_plan import Workload
from compare_sim import ask

__all__ = ["Proc", "cpu_seconds", "prepare_keys", "simulator"]

HERE: Final = Path(__file__).resolve().parent


class Proc:
    """A client process speaking compare_client.py's line protocol."""

    def __init__(self, name: str, python: Path, logs: Path) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        self._stderr = self.log.open("w")
        self._proc = subprocess.Popen(
            [str(python), str(HERE / "compare_client.py"), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=tempfile.gettempdir(),  # nothing of the work tree on sys.path but benchmarks/ itself
        )
        self._hello: dict[str, Any] | None = None

    @property
    def hello(self) -> dict[str, Any]:
        """The greeting: the process has imported what it needs and waits for commands."""
        if self._hello is None:
            self._hello = self._answer()
        return self._hello

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        _ = self.hello
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self._proc.stdin.flush()
        return self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"client {self.name} exited (code {self._proc.poll()}); see {self.log}")
            if line.startswith("@@ "):
                answer: dict[str, Any] = json.loads(line[3:])
                return answer
            print(f"[{self.name}] {line.rstrip()}", file=sys.stderr)

    def stop(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()


def prepare_keys(plan: Sequence[Workload]) -> list[str]:
    """Every answer the plan asks for, so the replay server records them all before the clock starts."""
    keys = {ask(w.shape, n) for w in plan for n in (w.deltas, w.warm_deltas or w.deltas)}
    return sorted(keys)


@contextmanager
def simulator(
    logs: Path, plan: Sequence[Workload], token_delay: float = 0.0
) -> Iterator[tuple[dict[str, str], subprocess.Popen[str]]]:
    """The simulator process; yields its base URLs by regime (``live``, ``replay``) and the process."""
    with (logs / f"simulator-{token_delay:g}.log").open("w") as stderr:
        argv = [sys.executable, str(HERE / "compare_sim.py"), "--prepare", ",".join(prepare_keys(plan))]
        proc = subprocess.Popen(
            [*argv, "--token-delay", f"{token_delay:g}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("READY "):
                raise RuntimeError(f"the simulator did not start; see {stderr.name}")
            _, live, replay = line.split()
            yield {"live": live, "replay": replay}, proc
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux), for the simulator's share of the machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
