"""``axio-anthropic load``: the click command around ``run_load()``.

stdout carries the ``target:``/``metrics:`` lines (printed before the first request, so a script
can scrape while the load runs) and the summary table; with ``--json -`` stdout is the JSON alone
and the rest moves to stderr. The progress bar is always on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click
from click.core import ParameterSource
from rich.console import Console

from ..models import ANTHROPIC_MODELS, DEFAULT_MODEL
from ..simulator import FaultProfile
from .config import LoadConfig, LoadError, url_problem
from .observer import LiveStats, StartInfo
from .progress import LiveProgress
from .run import run_load
from .summary import Summary
from .table import summary_table

__all__ = ["load"]

_SIMULATOR_ONLY = ("profile", "seed", "first_byte_delay", "token_delay")
#: The shell's code for a run ended by Ctrl-C; the partial summary is still printed.
_INTERRUPTED_EXIT = 130


def _base_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (problem := url_problem(value)):
        raise click.BadParameter(problem)
    return value


def _json_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value not in (None, "-") and not Path(value).parent.is_dir():
        raise click.BadParameter(f"directory {str(Path(value).parent)!r} does not exist")
    return value


@click.command("load")
@click.option("-n", "--requests", type=click.IntRange(min=1), help="Agent runs to complete (each: 2+ API requests).")
@click.option("-d", "--duration", type=click.FloatRange(min=0, min_open=True), help="Seconds to keep starting runs.")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Agents at once.")
@click.option("--model", type=click.Choice(list(ANTHROPIC_MODELS.keys())), default=DEFAULT_MODEL, show_default=True)
@click.option(
    "--base-url", callback=_base_url, help="A real endpoint instead of the simulator (key: ANTHROPIC_API_KEY)."
)
@click.option(
    "--profile",
    type=click.Choice(FaultProfile.names()),
    default="none",
    show_default=True,
    help="Simulator fault preset.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option(
    "--first-byte-delay", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Simulator; seconds."
)
@click.option("--token-delay", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Simulator; seconds.")
@click.option("--max-retries", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--retry-base-delay", type=click.FloatRange(min=0), default=0.05, show_default=True, help="Seconds.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="First-byte and idle timeout per attempt, seconds (default: 5 on the simulator, 120 on a real URL).",
)
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="Serve /metrics here (0: a free port).")
@click.option(
    "--metrics-addr", default="127.0.0.1", show_default=True, help="Listen address of /metrics (0.0.0.0 in containers)."
)
@click.option(
    "--linger", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Keep /metrics up this long after."
)
@click.option("--json", "json_path", callback=_json_path, metavar="PATH", help="Summary as JSON ('-': stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
    default="error",
    show_default=True,
    help="Transport log events shown on stderr.",
)
@click.pass_context
def load(ctx: click.Context, /, json_path: str | None, quiet: bool, **options: Any) -> None:
    """Run concurrent axio agents (tool loops) against the simulator or an API; summarize from the metrics.

    Bounded by --requests agent runs or --duration seconds, whichever ends first (100 runs when
    neither is given). Exits 0 when the run completed, even if requests failed under faults.
    """
    if options["base_url"] is not None:
        given = [name for name in _SIMULATOR_ONLY if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise click.UsageError(f"{flags}: for the built-in simulator only, not with --base-url")
    level: str = options.pop("log_level")
    config = LoadConfig(**options, log_level=level.upper())
    out = sys.stderr if json_path == "-" else sys.stdout
    bar = Console(stderr=True)
    # Off a terminal a bar only prints its last frame, which the summary already says better.
    display = _Display(out, Console(file=out), LiveProgress(bar) if bar.is_terminal and not quiet else None)
    try:
        summary = asyncio.run(_main(config, display))
    except LoadError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        raise click.ClickException("interrupted") from None
    if json_path is not None:
        _write_json(summary, json_path)
    if summary.context.interrupted:
        ctx.exit(_INTERRUPTED_EXIT)


async def _main(config: LoadConfig, display: _Display) -> Summary:
    stop = asyncio.Event()
    # What start-up made (imports, mostly) lives as long as the process: full GC passes, which
    # hold the event loop, need not walk it again and again (see the README on many streams).
    gc.collect()
    gc.freeze()
    try:
        with _signals(stop), display:
            return await run_load(config, observer=display, stop=stop)
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def _signals(stop: asyncio.Event) -> Iterator[None]:
    """Ctrl-C (or SIGTERM) once: stop (the runs, or the linger) and summarize; twice: the default."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def stopping(sig: signal.Signals) -> None:
        stop.set()
        with contextlib.suppress(ValueError, RuntimeError):
            loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        # No signal handlers on Windows loops (Ctrl-C then ends the run without a summary).
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stopping, sig)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(sig)


def _write_json(summary: Summary, path: str) -> None:
    text = json.dumps(summary.to_json(), indent=2) + "\n"
    if path == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None


class _Display:
    """The ``LoadObserver`` of the command: header lines, progress bar, summary table."""

    def __init__(self, out: TextIO, console: Console, progress: LiveProgress | None) -> None:
        self._out = out
        self._console = console
        self._progress = progress

    def __enter__(self) -> _Display:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def started(self, info: StartInfo) -> None:
        where = f"built-in simulator at {info.target} (profile {info.profile})" if info.simulator else info.target
        bound = " and ".join(
            part
            for part in (
                f"{info.runs} agent runs" if info.runs is not None else "",
                f"{info.duration:g} s" if info.duration is not None else "",
            )
            if part
        )
        self._echo(f"target: {where}")
        self._echo(f"load: {info.concurrency} concurrent agents on {info.model}, up to {bound}")
        if info.metrics_url:
            self._echo(f"metrics: {info.metrics_url}")
        if info.otlp_endpoint:
            self._echo(f"traces: {info.otlp_endpoint}")
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

    def _echo(self, line: str) -> None:
        click.echo(line, file=self._out)
