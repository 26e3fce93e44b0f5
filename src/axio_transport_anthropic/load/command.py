"""``axio-anthropic load``: the click command around ``run_load()``.

stdout carries the ``target:``/``metrics:`` lines (printed before the first request, so a script
can scrape while the load runs), the summary table and what became of the exported traces; with
``--json -`` stdout is the JSON alone and the rest moves to stderr. Progress is always on stderr:
a live bar on a terminal, else a plain line every ``--progress-interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console

from ..errors import ConfigurationError
from ..models import ANTHROPIC_MODELS, DEFAULT_MODEL
from ..providers import provider_option
from ..simulator.options import SIMULATOR_OPTIONS, simulator_options
from ..telemetry.call_labels import check_label_names
from ..telemetry.setup import DEFAULT_METRICS_PORT
from .config import LoadConfig, LoadError, url_problem
from .display import Display
from .progress import LiveProgress, Progress, ProgressLines
from .run import run_load
from .summary import Summary

__all__ = ["load"]

#: The shell's code for a run ended by Ctrl-C; the partial summary is still printed.
_INTERRUPTED_EXIT = 130


def _base_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (problem := url_problem(value)):
        raise click.BadParameter(problem)
    return value


def _json_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Checked before the run, which may take hours: a path that cannot be written fails now."""
    if value in (None, "-"):
        return value
    path = Path(value)
    if path.is_dir():
        raise click.BadParameter(f"{value!r} is a directory")
    if not path.parent.is_dir():
        raise click.BadParameter(f"directory {str(path.parent)!r} does not exist")
    try:
        if path.exists():
            with path.open("a", encoding="utf-8"):  # appends nothing; the run overwrites it
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".axio-load-"):
                pass
    except OSError as exc:
        raise click.BadParameter(f"cannot write {value!r}: {exc.strerror or exc}") from None
    return value


def _labels(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    found: dict[str, tuple[str, ...]] = {}
    for item in value:
        name, equals, listed = item.partition("=")
        values = tuple(part.strip() for part in listed.split(","))
        if not equals or not all(values):
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE[,VALUE...], values not empty")
        if name in found:
            raise click.BadParameter(f"{name!r} given twice: list its values in one --label")
        found[name] = values
    try:
        check_label_names(tuple(found))
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc)) from None
    return tuple(found.items())


@click.command("load")
@click.option("-n", "--requests", type=click.IntRange(min=1), help="Agent runs to complete (each: 2+ API requests).")
@click.option("-d", "--duration", type=click.FloatRange(min=0, min_open=True), help="Seconds to keep starting runs.")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Agents at once.")
@click.option(
    "--model",
    type=click.Choice(list(ANTHROPIC_MODELS.keys())),
    default=DEFAULT_MODEL,
    show_default=True,
    help="Model the agents ask.",
)
@click.option(
    "--base-url",
    callback=_base_url,
    help="A real endpoint instead of the simulator (Anthropic's API: key in ANTHROPIC_API_KEY; Vertex AI and "
    "Bedrock: the credentials their transports find).",
)
@provider_option(
    "Whose wire and credentials: Anthropic's API, Vertex AI (the [vertex] extra) or Amazon Bedrock (the [bedrock] "
    "extra); on the simulator, its route for that provider, fault profiles included."
)
@simulator_options(
    profile="Simulator fault preset.",
    seed="Simulator seed (faults, ids, chunking).",
    first_byte_delay="Simulator: seconds before each response's first byte.",
    token_delay="Simulator: seconds between streamed deltas.",
)
@click.option(
    "--max-retries", type=click.IntRange(min=0), default=3, show_default=True, help="Transport retries per request."
)
@click.option(
    "--retry-base-delay",
    type=click.FloatRange(min=0),
    default=0.05,
    show_default=True,
    help="Transport's first backoff in seconds (doubles per retry).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="First-byte and idle timeout per attempt, seconds (default: 5 on the simulator, 120 on a real URL).",
)
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="Serve /metrics here (0: a free port).")
@click.option(
    "--metrics-addr",
    default="127.0.0.1",
    show_default=True,
    help=f"Listen address of /metrics (0.0.0.0 in containers); alone, it serves on port {DEFAULT_METRICS_PORT}.",
)
@click.option(
    "--linger", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Keep /metrics up this long after."
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    callback=_labels,
    metavar="NAME=V1[,V2...]",
    help="Attach call label NAME to the agent runs, cycling through the values run by run; repeatable "
    "(--label tenant=acme,globex --label agent=support). Recorded on the token, cost and request metrics, "
    "spans (axio.label.NAME) and log lines.",
)
@click.option("--json", "json_path", callback=_json_path, metavar="PATH", help="Summary as JSON ('-': stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or progress lines.")
@click.option(
    "--progress-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds between progress lines when stderr is not a terminal (CI, containers).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
    default="error",
    show_default=True,
    help="Transport log events shown on stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
    help="Log lines as key=value text or as one JSON object each.",
)
@click.pass_context
def load(ctx: click.Context, /, json_path: str | None, quiet: bool, progress_interval: float, **options: Any) -> None:
    """Run concurrent axio agents (tool loops) against the simulator or an API, then summarize.

    Bounded by --requests agent runs or --duration seconds, whichever ends first (100 runs when
    neither is given). Exits 0 when the run completed, even if requests failed under faults.
    """
    if options["base_url"] is not None:
        given = [name for name in SIMULATOR_OPTIONS if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise click.UsageError(f"{flags}: for the built-in simulator only, not with --base-url")
    if options["metrics_port"] is None and ctx.get_parameter_source("metrics_addr") == ParameterSource.COMMANDLINE:
        # An address alone asks for /metrics as clearly as a port does: the conventional one.
        options["metrics_port"] = DEFAULT_METRICS_PORT
    level: str = options.pop("log_level")
    config = LoadConfig(**options, log_level=level.upper())
    out = sys.stderr if json_path == "-" else sys.stdout
    display = Display(out, Console(file=out), None if quiet else _progress(progress_interval))
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


def _progress(interval: float) -> Progress:
    bar = Console(stderr=True)
    # Off a terminal a bar shows nothing until its last frame: plain lines instead.
    return LiveProgress(bar) if bar.is_terminal else ProgressLines(sys.stderr, interval)


async def _main(config: LoadConfig, display: Display) -> Summary:
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
