"""Progress on stderr: runs done, request and token rates, retries and errors.

On a terminal a live bar; elsewhere (CI logs, containers) a plain line every few seconds, since a
bar there shows nothing until its last frame. The last update shows the whole run's rates, the
earlier ones the last few seconds', so that a stall shows as a falling rate.
"""

from __future__ import annotations

from collections import deque
from typing import Final, Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, Task, TaskID, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from .observer import LiveStats, StartInfo

__all__ = ["LiveProgress", "Progress", "ProgressLines", "make_progress"]

#: Rates are over the last few seconds, so a stall shows as a falling rate rather than an average.
_WINDOW_SECONDS: Final = 3.0


class _RunsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        done, target = task.fields.get("runs", 0), task.fields.get("runs_target")
        failed = task.fields.get("runs_failed", 0)
        text = Text(_runs(done, target))
        if failed:
            text.append(f" ({failed:,} failed)", style="red")
        return text


class _RateColumn(ProgressColumn):
    def __init__(self, field: str, unit: str) -> None:
        super().__init__()
        self._field = field
        self._unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{task.fields.get(self._field, 0.0):,.1f} {self._unit}", style="cyan")


class _CountColumn(ProgressColumn):
    def __init__(self, field: str, label: str, style: str) -> None:
        super().__init__()
        self._field = field
        self._label = label
        self._style = style

    def render(self, task: Task) -> Text:
        count = task.fields.get(self._field, 0)
        return Text(f"{self._label} {count:,}", style=self._style if count else "dim")


class _Rates:
    """Requests and tokens per second over a trailing window."""

    def __init__(self) -> None:
        self._points: deque[tuple[float, int, int]] = deque()

    def update(self, elapsed: float, requests: int, tokens: int, final: bool = False) -> tuple[float, float]:
        if final:
            # The run is over: its own rate, not the trickle of its last seconds.
            return (requests / elapsed, tokens / elapsed) if elapsed > 0 else (0.0, 0.0)
        points = self._points
        points.append((elapsed, requests, tokens))
        while len(points) > 2 and elapsed - points[0][0] > _WINDOW_SECONDS:
            points.popleft()
        start, first_requests, first_tokens = points[0] if len(points) > 1 else (0.0, 0, 0)
        span = elapsed - start
        if span <= 0:
            return 0.0, 0.0
        return (requests - first_requests) / span, (tokens - first_tokens) / span


def _runs(done: int, target: int | None) -> str:
    return f"{done:,}/{target:,} runs" if target is not None else f"{done:,} runs"


class Progress(Protocol):
    """What the command drives: the bar or the lines."""

    def start(self, info: StartInfo) -> None: ...

    def update(self, stats: LiveStats) -> None: ...

    def stop(self) -> None: ...


def make_progress(console: Console) -> RichProgress:
    return RichProgress(
        BarColumn(bar_width=24),
        _RunsColumn(),
        _RateColumn("request_rate", "req/s"),
        _RateColumn("token_rate", "tok/s"),
        _CountColumn("retries", "retries", "yellow"),
        _CountColumn("errors", "errors", "bold red"),
        TimeElapsedColumn(),
        console=console,
        refresh_per_second=5,
    )


class LiveProgress:
    """Feeds ``LiveStats`` into a rich ``Progress``; use as a context manager around the run."""

    def __init__(self, console: Console) -> None:
        self._progress = make_progress(console)
        self._rates = _Rates()
        self._task: TaskID | None = None
        self._runs: int | None = None
        self._duration: float | None = None

    def __enter__(self) -> LiveProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, info: StartInfo) -> None:
        self._runs, self._duration = info.runs, info.duration
        self._task = self._progress.add_task("load", total=1.0, runs_target=info.runs)
        self._progress.start()

    def update(self, stats: LiveStats) -> None:
        if self._task is None:
            return
        totals = stats.totals
        request_rate, token_rate = self._rates.update(stats.elapsed, totals.requests, totals.tokens, stats.final)
        self._progress.update(
            self._task,
            completed=self._fraction(stats),
            runs=stats.runs.completed + stats.runs.failed,
            runs_failed=stats.runs.failed,
            request_rate=request_rate,
            token_rate=token_rate,
            retries=totals.retries,
            errors=totals.errors,
        )

    def stop(self) -> None:
        self._progress.stop()

    def _fraction(self, stats: LiveStats) -> float:
        """How far along: by runs or by time, whichever bound is nearer."""
        parts = []
        if self._runs:
            parts.append((stats.runs.completed + stats.runs.failed) / self._runs)
        if self._duration:
            parts.append(stats.elapsed / self._duration)
        return min(1.0, max(parts, default=0.0))


class ProgressLines:
    """A plain line every ``interval`` seconds, and one at the end with the run's rates."""

    def __init__(self, stream: TextIO, interval: float) -> None:
        self._stream = stream
        self._interval = interval
        self._rates = _Rates()
        self._runs: int | None = None
        self._last = 0.0

    def start(self, info: StartInfo) -> None:
        self._runs = info.runs

    def update(self, stats: LiveStats) -> None:
        totals = stats.totals
        # Fed every tick, so that the trailing window is there when a line is due.
        request_rate, token_rate = self._rates.update(stats.elapsed, totals.requests, totals.tokens, stats.final)
        if not stats.final and stats.elapsed - self._last < self._interval:
            return
        self._last = stats.elapsed
        runs = stats.runs
        failed = f" ({runs.failed:,} failed)" if runs.failed else ""
        line = (
            f"progress: {stats.elapsed:,.0f} s, {_runs(runs.completed + runs.failed, self._runs)}{failed}, "
            f"{request_rate:,.1f} req/s, {token_rate:,.0f} tok/s, retries {totals.retries:,}, errors {totals.errors:,}"
        )
        if stats.final:
            line += " (whole run)"
        self._stream.write(line + "\n")
        self._stream.flush()

    def stop(self) -> None:
        pass
