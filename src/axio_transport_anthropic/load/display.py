"""What ``axio-anthropic load`` prints: header lines, progress, the summary table, the exports."""

from __future__ import annotations

from typing import TextIO

import click
from rich.console import Console

from ..providers import located
from ..telemetry.exports import ExportReport
from .observer import LiveStats, StartInfo
from .progress import Progress
from .summary import Summary
from .table import summary_table

__all__ = ["Display"]


class Display:
    """The command's ``LoadObserver``. ``out`` carries the lines and the table (stderr with
    ``--json -``); ``progress`` is the bar or the plain lines (``None`` with ``--quiet``)."""

    def __init__(self, out: TextIO, console: Console, progress: Progress | None) -> None:
        self._out = out
        self._console = console
        self._progress = progress

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def started(self, info: StartInfo) -> None:
        where = f"built-in simulator at {info.target} (profile {info.profile})" if info.simulator else info.target
        where = located(info.provider, where, info.simulator)
        bound = " and ".join(
            part
            for part in (
                f"{info.runs:,} agent runs" if info.runs is not None else "",
                f"{info.duration:g} s" if info.duration is not None else "",
            )
            if part
        )
        self._echo(f"target: {where}")
        self._echo(f"load: {info.concurrency:,} concurrent agents on {info.model}, up to {bound}")
        if info.metrics_url:
            self._echo(f"metrics: {info.metrics_url}")
        if info.otlp_endpoint:
            self._echo(f"traces: exporting over OTLP to {info.otlp_endpoint}")
        if self._progress is not None:
            self._progress.start(info)

    def tick(self, stats: LiveStats) -> None:
        if self._progress is not None:
            self._progress.update(stats)

    def finished(self, summary: Summary) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._console.print(summary_table(summary))

    def lingering(self, seconds: float, metrics_url: str) -> None:
        self._echo(f"lingering {seconds:g} s: {metrics_url} still served (Ctrl-C ends it)")

    def exported(self, reports: tuple[ExportReport, ...]) -> None:
        for report in reports:
            label = "traces" if report.signal == "traces" else "OTLP metrics"
            self._echo(f"{label}: {report.describe()}")

    def _echo(self, line: str) -> None:
        click.echo(line, file=self._out)
