"""Client CPU per streamed event: this transport against the floors, the published 0.12.2 and the SDK.

Run (from the repository root, with the project's venv)::

    .venv/bin/python benchmarks/compare.py --setup   # first time: makes the two extra venvs, then runs
    .venv/bin/python benchmarks/compare.py           # the full run, ~15 min (replay ~9); writes benchmarks/results.json
    .venv/bin/python benchmarks/compare.py --quick   # smoke run, < 1 min; writes benchmarks/results-quick.json
    .venv/bin/python benchmarks/compare.py --profile ours-off:text-10k   # cProfile of one client, one workload

``--setup`` creates, when missing, ``/tmp/bench-published`` (``axio-transport-anthropic==0.12.2``, which
has the same import name as this project, pinned to the project venv's aiohttp and axio) and
``/tmp/bench-sdk`` (the official ``anthropic`` SDK), both from the interpreter the project's venv was
made from, so every client runs on the same Python. ``--venv-root`` puts them elsewhere. Without
``--setup`` a missing venv stops the run before anything is measured.

Clients: ``raw-read`` (aiohttp, body bytes only: the floor), ``parse-floor`` (aiohttp, SSE line split,
``json.loads`` of each data line), ``published`` (0.12.2's ``AnthropicTransport.stream()``),
``sdk-create`` (``messages.create(stream=True)``), ``sdk-stream`` (``messages.stream()``), ``ours-off``
(``telemetry=None``) and ``ours-full`` (SDK tracer with a batch processor into an exporter that drops,
Prometheus on a fresh registry, structlog JSON at INFO into /dev/null). ``--clients`` picks a subset.

How it measures:

* One simulator process (``compare_sim.py``) hosts the project's ``Simulator`` (``token_delay=0``,
  ``chunking="event"``, no faults, no rate limits) and serves it two ways. **live**: the simulator
  answers each request itself. **replay**: each answer is recorded once from the simulator and then
  written byte for byte, whole, on every request for it. The live simulator costs ~15 µs of CPU per
  event, more than the fast clients need to read one: they wait on it, read in small pieces and
  their CPU per event mostly says how often they woke up (raw read, parse floor and this project
  all land on ~12 µs). Replayed, every client reads as fast as it can, so the CPU is the client's
  own cost; that is the regime the ratios are meant for. The default runs both, replay first.
* The reply's size is chosen by the request, so every client receives the same answers.
* One process per client (``compare_client.py``), started once; imports, start-up, connecting
  and a warm-up run are outside the measurement. CPU is ``time.process_time()`` in the client
  process around the measured streams (all its threads: the span exporter's included).
* Repeats are interleaved: round r runs every client once, in an order rotated each round, so
  drift on a shared machine lands on all clients alike. Median and min–max are over the repeats.
  "waits / 1k events" are voluntary context switches: how often the client blocked for data.
* Every stream is checked: each client must report the same text and tool-argument characters
  that the simulator sent.
* Memory: ``tracemalloc`` peak in fresh processes around consuming one stream of 1,000, 10,000 and
  100,000 deltas from the live simulator: this transport (telemetry off) keeping the text
  (``text += delta``) or dropping it, and the raw read for reference.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
ROOT: Final = HERE.parent
sys.path.insert(0, str(HERE))

from compare_sim import TOOL_INTRO, ask, text_of, tool_json_chars  # noqa: E402

PUBLISHED_VERSION: Final = "0.12.2"
SDK_VERSION: Final = "2.14.0"
#: Parse floor and raw read are always measured: every ratio is to them.
FLOORS: Final = ("raw-read", "parse-floor")
CLIENT_ORDER: Final = ("raw-read", "parse-floor", "published", "sdk-create", "sdk-stream", "ours-off", "ours-full")
LABELS: Final = {
    "raw-read": "aiohttp body read (floor)",
    "parse-floor": "aiohttp + SSE split + json.loads (parse floor)",
    "published": f"axio-transport-anthropic {PUBLISHED_VERSION} (PyPI)",
    "sdk-create": "anthropic SDK messages.create(stream=True)",
    "sdk-stream": "anthropic SDK messages.stream()",
    "ours-off": "this project, telemetry=None",
    "ours-full": "this project, full telemetry",
}
REGIMES: Final = ("replay", "live")
REGIME_NOTES: Final = {
    "replay": "the simulator's recorded answers written at wire speed: every client reads as fast as it can",
    "live": "the simulator answering each request itself (token_delay 0, chunking event): fast clients wait on it",
}
#: Stream lengths of the memory measurement; the longest is past aiohttp's read window many times over.
MEMORY_DELTAS: Final = (1000, 10_000, 100_000)
QUICK_MEMORY_DELTAS: Final = (1000, 10_000)
#: At wire speed a long answer outruns the client and arrives in 256 KiB socket reads; at a pace
#: (far faster than any model's) every read is small. Memory is measured both ways.
PACED_DELAY: Final = 0.0002
PACED_DELTAS: Final = (1000, 10_000)


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    label: str
    shape: str
    deltas: int
    streams: int = 1
    #: Streams (or rounds of concurrent streams) per measured repeat: short streams are timed in a loop.
    loops: int = 1
    repeats: int = 7
    #: The warm-up run opens the pool: concurrent warm-ups use short answers, the connects are what matter.
    warm_deltas: int | None = None
    warm_loops: int = 2
    #: Clients left out of this workload, to keep the whole run near fifteen minutes.
    skip: tuple[str, ...] = ()
    #: Against the live simulator, fast clients wait on the server (~16 s a round at 1,000 streams):
    #: these are left out there too, and ``live_repeats`` replaces ``repeats``.
    skip_live: tuple[str, ...] = ()
    live_repeats: int | None = None

    def in_regime(self, regime: str) -> Workload:
        if regime != "live":
            return self
        return replace(self, skip=(*self.skip, *self.skip_live), repeats=self.live_repeats or self.repeats)


#: Against the live simulator the published package and the SDK are slower than the server, so their
#: CPU is the same live or replayed (compare the single-stream rows): the concurrent live rounds,
#: where every client waits ~1.5 s (100 streams) or ~16 s (1,000) on the server, keep to the floors
#: and this project, which is what keeps the whole run near ten minutes.
_SLOW_CLIENTS: Final = ("published", "sdk-create", "sdk-stream")
FULL: Final = (
    # Many short rounds: on a shared machine a round's CPU time can be off by a third (a neighbour
    # contending for caches), so each target is the median of 31 same-round ratios.
    Workload("text-1k", "1 stream × 1,000 text deltas", "text", 1000, loops=10, repeats=31),
    Workload("text-10k", "1 stream × 10,000 text deltas", "text", 10_000, loops=1, repeats=31, warm_loops=1),
    Workload("tool-2k", "1 tool-use stream × 2,000 argument chunks", "tool", 2000, loops=5, repeats=31),
    Workload(
        "conc-100",
        "100 concurrent × 1,000 text deltas",
        "text",
        1000,
        streams=100,
        repeats=9,
        warm_deltas=100,
        skip_live=_SLOW_CLIENTS,
    ),
    Workload(
        "conc-1000",
        "1,000 concurrent × 1,000 text deltas",
        "text",
        1000,
        streams=1000,
        repeats=5,
        warm_deltas=10,
        warm_loops=1,
        # ~65 s a round on its own; the SDK is measured here through messages.create. Live, the
        # server paces every client (~16 s a round each): two rounds there, as a cross-check.
        skip=("sdk-stream",),
        skip_live=_SLOW_CLIENTS,
        live_repeats=2,
    ),
)
QUICK: Final = (
    Workload("text-1k", "1 stream × 1,000 text deltas", "text", 1000, loops=3, repeats=3, warm_loops=1),
    Workload("text-10k", "1 stream × 10,000 text deltas", "text", 10_000, loops=1, repeats=3, warm_loops=1),
    Workload("tool-2k", "1 tool-use stream × 2,000 argument chunks", "tool", 2000, loops=2, repeats=3, warm_loops=1),
    Workload(
        "conc-100",
        "100 concurrent × 100 text deltas",
        "text",
        100,
        streams=100,
        repeats=3,
        warm_deltas=10,
        warm_loops=1,
    ),
    Workload(
        "conc-1000",
        "1,000 concurrent × 10 text deltas",
        "text",
        10,
        streams=1000,
        repeats=3,
        warm_loops=1,
        # The SDK's pool of 1,000 connections costs it ~7 s a round even on 10-delta answers.
        skip=("sdk-create", "sdk-stream"),
    ),
)


# ── venvs ────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Venv:
    path: Path
    requirements: tuple[str, ...]

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def stamp(self) -> Path:
        return self.path / ".bench-requirements"

    def ready(self) -> bool:
        return self.python.exists() and self.stamp.exists() and self.stamp.read_text() == "\n".join(self.requirements)

    def create(self) -> None:
        base = Path(sys.base_prefix) / "bin" / "python3"
        print(f"setup: {self.path} <- {' '.join(self.requirements)} (Python {platform.python_version()})", flush=True)
        if self.path.exists():
            shutil.rmtree(self.path)
        subprocess.run([str(base), "-m", "venv", str(self.path)], check=True)
        pip = [str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *self.requirements], check=True)
        self.stamp.write_text("\n".join(self.requirements))


def venvs(root: Path) -> dict[str, Venv]:
    """Same aiohttp (and axio) as the project's venv, so the comparison is of the clients alone."""
    aiohttp, axio = metadata.version("aiohttp"), metadata.version("axio")
    published = Venv(
        root / "bench-published",
        (f"axio-transport-anthropic=={PUBLISHED_VERSION}", f"aiohttp=={aiohttp}", f"axio=={axio}"),
    )
    return {"published": published, "sdk": Venv(root / "bench-sdk", (f"anthropic=={SDK_VERSION}",))}


def python_for(client: str, envs: dict[str, Venv]) -> Path:
    if client == "published":
        return envs["published"].python
    if client.startswith("sdk-"):
        return envs["sdk"].python
    return Path(sys.executable)


# ── processes ────────────────────────────────────────────────────────────────────────────────


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


# ── measuring ────────────────────────────────────────────────────────────────────────────────


@dataclass(slots=True)
class Cell:
    """One client on one workload."""

    cpu_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)
    preempted: list[int] = field(default_factory=list)
    gc_s: list[float] = field(default_factory=list)
    gc_full_passes: list[int] = field(default_factory=list)
    streams_per_repeat: int = 0
    per_stream: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def cpu_per_stream(self) -> list[float]:
        return [c / self.streams_per_repeat for c in self.cpu_s]


def expected(workload: Workload, deltas: int | None = None) -> dict[str, int]:
    n = workload.deltas if deltas is None else deltas
    if workload.shape == "text":
        return {"text_chars": len(text_of(n)), "json_chars": 0}
    return {"text_chars": len(TOOL_INTRO), "json_chars": tool_json_chars(n)}


def check(client: str, workload: Workload, answer: dict[str, Any], deltas: int | None = None) -> str | None:
    """Why this run's answers are not the whole reply, or None."""
    if not answer.get("ok"):
        return str(answer.get("error"))
    if not answer["all_same"]:
        return "streams differ from each other"
    got = answer["per_stream"]
    if client in FLOORS:
        return None if got["body_bytes"] > 0 else "empty body"
    want = expected(workload, deltas)
    if (got["text_chars"], got["json_chars"]) != (want["text_chars"], want["json_chars"]):
        return f"received {got['text_chars']} text / {got['json_chars']} json chars, expected {want}"
    return None


def run_workload(workload: Workload, procs: dict[str, Proc], url: str, versions: dict[str, Any]) -> dict[str, Cell]:
    procs = {name: proc for name, proc in procs.items() if name not in workload.skip}
    cells = {name: Cell(streams_per_repeat=workload.streams * workload.loops) for name in procs}
    pool = max(100, workload.streams)
    live = []
    for name, proc in procs.items():
        answer = proc.ask("open", url=url, pool=pool)
        versions.setdefault(name, {"python": proc.hello.get("python"), **answer.get("versions", {})})
        warm = workload.warm_deltas or workload.deltas
        if answer.get("ok"):
            answer = proc.ask(
                "run", shape=workload.shape, deltas=warm, streams=workload.streams, loops=workload.warm_loops
            )
        problem = check(name, workload, answer, warm)
        if problem is not None:
            cells[name].error = f"warm-up: {problem}"
            print(f"  {name}: {cells[name].error}", file=sys.stderr)
        else:
            live.append(name)
    for repeat in range(workload.repeats):
        shift = repeat % len(live) if live else 0
        for name in live[shift:] + live[:shift]:
            cell = cells[name]
            if cell.error is not None:
                continue
            answer = procs[name].ask(
                "run", shape=workload.shape, deltas=workload.deltas, streams=workload.streams, loops=workload.loops
            )
            problem = check(name, workload, answer)
            if problem is not None:
                cell.error = problem
                print(f"  {name}: {problem}", file=sys.stderr)
                continue
            cell.cpu_s.append(answer["cpu_s"])
            cell.wall_s.append(answer["wall_s"])
            cell.waits.append(answer["waits"])
            cell.preempted.append(answer["preempted"])
            cell.gc_s.append(answer.get("gc_s", 0.0))
            cell.gc_full_passes.append(answer.get("gc_full_passes", 0))
            cell.per_stream = answer["per_stream"]
        done = ", ".join(
            f"{n} {cells[n].cpu_s[-1] / cells[n].streams_per_repeat * 1e3:.1f}"
            f" (gc {cells[n].gc_s[-1] / cells[n].streams_per_repeat * 1e3:.2f})"
            for n in live
            if cells[n].cpu_s
        )
        print(f"  round {repeat + 1}/{workload.repeats} (CPU ms/stream, of which GC): {done}", flush=True)
    for proc in procs.values():
        proc.ask("close")
    return cells


def measure_memory(url: str, logs: Path, sizes: Sequence[int], regime: str = "live") -> dict[str, Any]:
    """tracemalloc peaks: this transport (telemetry off) keeping or dropping the text, and the raw read.

    Each in a fresh process; ``max_tokens`` is raised so that the longest answer is not cut at the
    model's output limit.
    """
    runs: dict[str, Any] = {}
    for client, keeps in (("ours-off", (True, False)), ("raw-read", (False,))):
        proc = Proc(client, Path(sys.executable), logs)
        try:
            proc.ask("open", url=url, pool=100, max_tokens=10**8)
            for deltas in sizes:
                for keep in keeps:
                    answer = proc.ask("memory", shape="text", deltas=deltas, keep=keep)
                    if not answer.get("ok"):
                        raise RuntimeError(f"memory run of {client} failed: {answer.get('error')}")
                    if client != "raw-read" and answer["received"]["text_chars"] != len(text_of(deltas)):
                        raise RuntimeError(f"memory run of {client}: incomplete text {answer['received']}")
                    runs[f"{client}/{deltas}/{'keep' if keep else 'drop'}"] = answer
            proc.ask("close")
        finally:
            proc.stop()
    return {"sizes": list(sizes), "runs": runs, "checks": memory_checks(runs, sizes, regime)}


def memory_checks(runs: dict[str, Any], sizes: Sequence[int], regime: str = "live") -> list[dict[str, Any]]:
    """The target as stated (10k ≤ 1k + its text), and the same from 10k to each longer stream."""
    checks = []
    for small, large in itertools.pairwise(sizes):
        low, high = runs[f"ours-off/{small}/keep"], runs[f"ours-off/{large}/keep"]
        bound = low["peak_bytes"] + high["text_bytes"]
        checks.append(
            {
                "regime": regime,
                "workload": "memory",
                "target": f"peak({large:,} deltas) ≤ peak({small:,} deltas) + the {large:,}-delta text",
                "value": f"{high['peak_bytes'] / 1024:,.0f} KiB vs {bound / 1024:,.0f} KiB",
                "pass": high["peak_bytes"] <= bound,
            }
        )
    return checks


# ── reporting ────────────────────────────────────────────────────────────────────────────────


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:,.0f}" if ms >= 1000 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def summarise(workload: Workload, cells: dict[str, Cell]) -> dict[str, Any]:
    floor = cells.get("parse-floor")
    events = floor.per_stream.get("sse_events", 0) if floor is not None else 0
    floor_rounds = floor.cpu_per_stream() if floor is not None and floor.cpu_s else None
    raw = cells.get("raw-read")
    raw_median = statistics.median(raw.cpu_per_stream()) if raw is not None and raw.cpu_s else None
    rows: dict[str, Any] = {}
    for name, cell in cells.items():
        if cell.error is not None or not cell.cpu_s:
            rows[name] = {"error": cell.error or "no runs"}
            continue
        per_stream = cell.cpu_per_stream()
        median = statistics.median(per_stream)
        rows[name] = {
            "cpu_ms_per_stream": [c * 1e3 for c in per_stream],
            "median_ms": median * 1e3,
            "min_ms": min(per_stream) * 1e3,
            "max_ms": max(per_stream) * 1e3,
            "us_per_event": median / events * 1e6 if events else None,
            # Paired by round, as the targets are: steadier than a ratio of medians on a shared machine.
            "x_parse_floor": paired_ratio(per_stream, floor_rounds) if floor_rounds else None,
            "x_raw_read": median / raw_median if raw_median else None,
            "wall_ms_per_repeat_median": statistics.median(cell.wall_s) * 1e3,
            "waits_per_1k_events": statistics.median(cell.waits) / (events * cell.streams_per_repeat) * 1e3
            if events
            else None,
            "preempted_per_repeat": cell.preempted,
            "gc_ms_per_stream": [g / cell.streams_per_repeat * 1e3 for g in cell.gc_s],
            "gc_full_passes_per_repeat": cell.gc_full_passes,
            "per_stream_received": cell.per_stream,
        }
    for name in workload.skip:
        rows[name] = {"skipped": "left out of this workload to keep the whole run near fifteen minutes"}
    return {**asdict(workload), "sse_events_per_stream": events, "clients": rows}


def paired_ratio(mine: Sequence[float], theirs: Sequence[float]) -> float:
    """The median of same-round ratios; the ratio of medians if the rounds do not line up."""
    if len(mine) != len(theirs):
        return float(statistics.median(mine) / statistics.median(theirs))
    return float(statistics.median([a / b for a, b in zip(mine, theirs, strict=True)]))


def table(results: dict[str, Any]) -> str:
    lines = [
        "| workload | client | CPU ms / stream, median | min–max | µs / event | × parse floor (same round) "
        "| waits / 1k events | wall s / repeat |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for summary in results.values():
        first = True
        for name in CLIENT_ORDER:
            row = summary["clients"].get(name)
            if row is None:
                continue
            label = f"{summary['label']} ({summary['sse_events_per_stream']:,} events/stream)" if first else ""
            first = False
            if "error" in row or "skipped" in row:
                why = f"error: {row['error']}" if "error" in row else "not run (time budget)"
                lines.append(f"| {label} | {LABELS[name]} | {why} | | | | | |")
                continue
            lines.append(
                f"| {label} | {LABELS[name]} | {_ms(row['median_ms'] / 1e3)} | "
                f"{_ms(row['min_ms'] / 1e3)}–{_ms(row['max_ms'] / 1e3)} | {row['us_per_event']:.2f} | "
                f"{row['x_parse_floor']:.2f} | {row['waits_per_1k_events']:.0f} | "
                f"{row['wall_ms_per_repeat_median'] / 1e3:.2f} |"
            )
    return "\n".join(lines)


def targets(regime: str, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target as the median over rounds of the two clients' ratio within the round: a round
    runs every client once, one after the other, so a noisy neighbour slows both sides of a ratio
    and the median of ratios is steadier than the ratio of medians on a shared machine."""
    checks: list[dict[str, Any]] = []

    def ratio(summary: dict[str, Any], name: str, base: str) -> list[float] | None:
        rows = summary["clients"]
        mine, theirs = rows.get(name, {}).get("cpu_ms_per_stream"), rows.get(base, {}).get("cpu_ms_per_stream")
        if not mine or not theirs or len(mine) != len(theirs):
            return None
        return [a / b for a, b in zip(mine, theirs, strict=True)]

    for key, summary in results.items():
        if (value := ratio(summary, "ours-off", "parse-floor")) is not None:
            checks.append(_target(regime, key, "telemetry off ≤ 1.3 × parse floor", value, 1.3))
        for rival in ("published", "sdk-create", "sdk-stream"):
            if (value := ratio(summary, "ours-off", rival)) is not None:
                checks.append(_target(regime, key, f"telemetry off faster than {rival}", value, 1.0, strict=True))
        if (value := ratio(summary, "ours-full", "ours-off")) is not None:
            checks.append(_target(regime, key, "full telemetry ≤ 1.10 × telemetry off", value, 1.10))
    return checks


def _target(
    regime: str, workload: str, what: str, ratios: list[float], limit: float, *, strict: bool = False
) -> dict[str, Any]:
    ratio = float(statistics.median(ratios))
    ok = ratio < limit if strict else ratio <= limit
    return {
        "regime": regime,
        "workload": workload,
        "target": what,
        # The rounds' spread says how much one noisy round could have moved the verdict.
        "value": f"{ratio:.2f}× ({min(ratios):.2f}–{max(ratios):.2f})",
        "ratio": ratio,
        "round_ratios": ratios,
        "pass": ok,
    }


def memory_table(memory: dict[str, Any]) -> str:
    lines = [
        "| stream | text returned | this project, text kept | this project, text dropped | aiohttp body read |",
        "|---|---:|---:|---:|---:|",
    ]
    runs = memory["runs"]
    for deltas in memory["sizes"]:
        keep, drop, raw = (
            runs[f"{c}/{deltas}/{k}"] for c, k in (("ours-off", "keep"), ("ours-off", "drop"), ("raw-read", "drop"))
        )
        lines.append(
            f"| {deltas:,} deltas | {keep['text_chars']:,} chars, {keep['text_bytes'] / 1024:,.0f} KiB | "
            f"{keep['peak_bytes'] / 1024:,.0f} KiB | {drop['peak_bytes'] / 1024:,.0f} KiB | "
            f"{raw['peak_bytes'] / 1024:,.0f} KiB |"
        )
    return "\n".join(lines)


def environment(envs: dict[str, Venv], versions: dict[str, Any]) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    cpu = ""
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty_paths": git("status", "--porcelain", "--", "src").splitlines(),
        "venvs": {name: {"path": str(env.path), "requirements": env.requirements} for name, env in envs.items()},
        "client_versions": versions,
    }


# ── profile ──────────────────────────────────────────────────────────────────────────────────


def profile(spec: str, regime: str, envs: dict[str, Venv], logs: Path, top: int = 25) -> None:
    """cProfile of one client on one workload (replayed answers unless ``--server live``)."""
    client, _, name = spec.partition(":")
    workload = next((w for w in FULL if w.name == name), None)
    if workload is None or client not in CLIENT_ORDER:
        raise SystemExit(f"--profile CLIENT:WORKLOAD, clients {list(CLIENT_ORDER)}, workloads {[w.name for w in FULL]}")
    path = logs / f"{client}-{name}-{regime}.prof"
    with simulator(logs, [workload]) as (urls, _):
        proc = Proc(client, python_for(client, envs), logs)
        try:
            proc.ask("open", url=urls[regime], pool=max(100, workload.streams))
            warm = workload.warm_deltas or workload.deltas
            proc.ask("run", shape=workload.shape, deltas=warm, streams=workload.streams, loops=workload.warm_loops)
            answer = proc.ask(
                "profile",
                shape=workload.shape,
                deltas=workload.deltas,
                streams=workload.streams,
                loops=workload.loops,
                path=str(path),
            )
            if (problem := check(client, workload, answer)) is not None:
                raise SystemExit(f"profile run failed: {problem}")
        finally:
            proc.stop()
    streams = workload.loops * workload.streams
    print(f"cProfile of {client} on {workload.label} ({regime}), {streams} streams: {path}\n")
    print_profile(path, top)


def print_profile(path: Path, top: int) -> None:
    """Top functions by self time, then self time by area, built-ins charged to whoever called them."""
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    print(f"total {total * 1e3:,.0f} ms of self time under the profiler\n")
    print("| self % | self ms | cum % | calls | function |\n|---:|---:|---:|---:|---|")
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (filename, line, func), (_, calls, self_time, cumulative, _) in rows:
        where = f" {_short(filename)}:{line}" if filename != "~" else ""
        print(
            f"| {self_time / total * 100:.1f} | {self_time * 1e3:,.0f} | {cumulative / total * 100:.1f} | {calls:,} "
            f"| `{func}`{where} |"
        )
    by_area: dict[str, float] = {}
    for (filename, _, func), (_, _, self_time, _, callers) in raw.items():
        if filename == "~" and callers:
            # A built-in (dict.get, len, bytes.split, ...) is the cost of the code that called it.
            for caller, timing in callers.items():
                area = _area(caller[0], caller[2])
                by_area[area] = by_area.get(area, 0.0) + timing[2]
        else:
            area = _area(filename, func)
            by_area[area] = by_area.get(area, 0.0) + self_time
    print("\n| self % | self ms | area (built-ins charged to their caller) |\n|---:|---:|---|")
    for area, spent in sorted(by_area.items(), key=lambda item: item[1], reverse=True)[:16]:
        print(f"| {spent / total * 100:.1f} | {spent * 1e3:,.0f} | {area} |")


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    if (stdlib := re.search(r"/lib/python3\.\d+/(.*)", filename)) is not None:
        return stdlib.group(1)
    return Path(filename).name if filename.startswith("/") else filename


def _area(filename: str, func: str) -> str:
    if filename == "~":
        return "built-ins called by the interpreter"
    short = _short(filename)
    if short.startswith("axio_transport_anthropic/"):
        return short
    if "site-packages/" in filename:
        return short.split("/", 1)[0]
    if re.search(r"/lib/python3\.\d+/", filename):
        return f"stdlib {short.split('/', 1)[0].removesuffix('.py')}"
    return short


# ── main ─────────────────────────────────────────────────────────────────────────────────────


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Client CPU per streamed event, against floors and other clients.")
    parser.add_argument("--setup", action="store_true", help="create the extra venvs where missing, then run")
    parser.add_argument("--quick", action="store_true", help="small workloads, 3 repeats: a smoke run under a minute")
    parser.add_argument("--venv-root", type=Path, default=Path("/tmp"), help="where the extra venvs live")
    parser.add_argument("--clients", default=",".join(CLIENT_ORDER), help="comma-separated subset")
    parser.add_argument("--workloads", default=None, help="comma-separated subset of workload names")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc measurement")
    parser.add_argument("--profile", metavar="CLIENT:WORKLOAD", help="only profile one client on one workload")
    parser.add_argument("--json", type=Path, default=None, help="where to write results")
    parser.add_argument(
        "--server",
        choices=("both", *REGIMES),
        default=None,
        help="replayed answers, the live simulator, or both (the default; --quick: replay)",
    )
    args = parser.parse_args(argv)

    envs = venvs(args.venv_root)
    clients = [c for c in CLIENT_ORDER if c in {*args.clients.split(","), *FLOORS}]
    needed = {"published"} & set(clients) | ({"sdk"} if any(c.startswith("sdk-") for c in clients) else set())
    if args.profile:
        needed = {"published"} if args.profile.startswith("published:") else set()
        needed |= {"sdk"} if args.profile.startswith("sdk-") else set()
    missing = [name for name in sorted(needed) if not envs[name].ready()]
    if missing and not args.setup:
        raise SystemExit(f"missing venvs {[str(envs[m].path) for m in missing]}: run once with --setup")
    for name in missing:
        envs[name].create()

    logs = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    if args.profile:
        profile(args.profile, "live" if args.server == "live" else "replay", envs, logs)
        return
    plan: tuple[Workload, ...] = QUICK if args.quick else FULL
    if args.workloads:
        wanted = set(args.workloads.split(","))
        plan = tuple(w for w in plan if w.name in wanted)
    out = args.json or HERE / ("results-quick.json" if args.quick else "results.json")

    server = args.server or ("replay" if args.quick else "both")
    regimes = REGIMES if server == "both" else (server,)
    started = time.perf_counter()
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    memory: dict[str, Any] | None = None
    versions: dict[str, Any] = {}
    with simulator(logs, plan) as (urls, sim), ExitStack() as stack:
        print(f"simulator: live {urls['live']}, replay {urls['replay']}; client logs in {logs}", flush=True)
        procs: dict[str, Proc] = {}
        for name in clients:  # all start at once; each greets when its imports are done
            procs[name] = Proc(name, python_for(name, envs), logs)
            stack.callback(procs[name].stop)
        for regime in regimes:
            results[regime] = {}
            for workload in (w.in_regime(regime) for w in plan):
                print(f"[{regime}] {workload.name}: {workload.label}, {workload.repeats} repeats", flush=True)
                sim_cpu = cpu_seconds(sim.pid)
                cells = run_workload(workload, procs, urls[regime], versions)
                results[regime][workload.name] = summarise(workload, cells)
                results[regime][workload.name]["simulator_cpu_s"] = cpu_seconds(sim.pid) - sim_cpu
        stack.close()
        if "ours-off" in clients and not args.no_memory:
            sizes = QUICK_MEMORY_DELTAS if args.quick else MEMORY_DELTAS
            print(f"memory: tracemalloc around one stream of {', '.join(f'{n:,}' for n in sizes)} deltas", flush=True)
            memory = measure_memory(urls["live"], logs, sizes)
            # The same at a model's pace: the client keeps up, so no socket read piles up.
            print(f"memory, paced ({PACED_DELAY * 1e3:g} ms a delta): {', '.join(f'{n:,}' for n in PACED_DELTAS)}")
            with simulator(logs, (), token_delay=PACED_DELAY) as (paced_urls, _):
                memory["paced"] = measure_memory(paced_urls["live"], logs, PACED_DELTAS, regime="paced")
    elapsed = time.perf_counter() - started
    checks = [check for regime in regimes for check in targets(regime, results[regime])]
    checks += memory["checks"] + memory["paced"]["checks"] if memory is not None else []
    report = {
        "mode": "quick" if args.quick else "full",
        "elapsed_s": elapsed,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "environment": environment(envs, versions),
        "regimes": {regime: REGIME_NOTES[regime] for regime in regimes},
        "results": results,
        "memory": memory,
        "targets": checks,
    }
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    for regime in regimes:
        print(f"\n### {regime}: {REGIME_NOTES[regime]}\n\n{table(results[regime])}")
    if memory is not None:
        print(f"\n### memory (tracemalloc peak, live simulator)\n\n{memory_table(memory)}")
        print(f"\n### memory, paced ({PACED_DELAY * 1e3:g} ms a delta)\n\n{memory_table(memory['paced'])}")
    print("\n### targets\n\n| regime | workload | target | value | |\n|---|---|---|---:|---|")
    for item in checks:
        verdict = "pass" if item["pass"] else "MISS"
        print(f"| {item['regime']} | {item['workload']} | {item['target']} | {item['value']} | {verdict} |")
    print(
        f"\n{elapsed:.0f} s; load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"({os.cpu_count()} cores); results in {out}"
    )


if __name__ == "__main__":
    main()
