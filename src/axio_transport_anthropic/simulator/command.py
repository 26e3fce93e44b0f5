"""`axio-anthropic simulate`: run the simulator from a shell until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

import click

from ..providers import SIMULATOR_PROJECT, Provider, connection_hints, provider_option
from .chunking import CHUNKINGS, Chunking
from .faults import FaultProfile
from .options import simulator_options
from .ratelimit import DEFAULT_RATE_LIMITS
from .server import Simulator

__all__ = ["simulate"]

#: Long-running servers keep only recent requests so memory stays flat under load.
_KEEP_REQUESTS = 1000
#: Each bucket's default, spelled as the option takes it (underscores, like the metrics' ``resource``).
_DEFAULT_LIMITS: Final = {name.replace("-", "_"): limit for name, limit in DEFAULT_RATE_LIMITS.items()}
_LIMIT_NAMES: Final = tuple(_DEFAULT_LIMITS)
_LIMITS_HELP: Final = ", ".join(f"{name} ({limit:,})" for name, limit in _DEFAULT_LIMITS.items())
_WHOLE_NUMBER: Final = re.compile(r"[+-]?[0-9]+")
_ROUTES: Final = {
    "vertex": "Vertex AI (streamRawPredict, OAuth at /token, any project and region) at",
    "bedrock": "Amazon Bedrock (invoke-with-response-stream, SigV4 checked, any region) at",
}


def _rate_limits(ctx: click.Context, param: click.Parameter, given: Sequence[str]) -> dict[str, int]:
    """``--rate-limit NAME=COUNT[,NAME=COUNT...]``, repeatable: per-minute limits, positive whole numbers."""
    limits: dict[str, int] = {}
    for value in given:
        for part in value.split(","):
            part = part.strip()
            if not part:
                raise click.BadParameter(f"an empty entry in {value!r}", ctx, param)
            name, sep, count = (piece.strip() for piece in part.partition("="))
            if not sep or not name or not count:
                raise click.BadParameter(f"{part!r} is not NAME=COUNT (e.g. requests=60)", ctx, param)
            key = name.replace("-", "_")
            if key not in _LIMIT_NAMES:
                known = ", ".join(_LIMIT_NAMES)
                raise click.BadParameter(f"unknown rate limit {name!r} in {part!r}; known: {known}", ctx, param)
            if key in limits:
                raise click.BadParameter(f"{key!r} is given more than once", ctx, param)
            if not _WHOLE_NUMBER.fullmatch(count):
                raise click.BadParameter(f"{count!r} in {part!r} is not a whole number", ctx, param)
            if int(count) < 1:
                raise click.BadParameter(f"{part!r}: a limit must be a positive whole number (per minute)", ctx, param)
            limits[key] = int(count)
    return limits


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free port.")
@click.option("--api-key", default=None, help="Require this x-api-key (default: accept any non-empty key).")
@simulator_options(
    profile="Fault preset.",
    seed="Seed for faults, ids and chunking.",
    first_byte_delay="Seconds before each response's first byte.",
    token_delay="Seconds between deltas.",
)
@click.option(
    "--chunking",
    type=click.Choice(CHUNKINGS),
    default="event",
    show_default=True,
    help="Socket writes of the stream: one per SSE event, or cut at seeded random byte offsets (tests parsers).",
)
@click.option(
    "--rate-limit",
    "rate_limits",
    multiple=True,
    metavar="NAME=COUNT",
    callback=_rate_limits,
    help=(
        "Per-minute rate limit of one bucket, as NAME=COUNT; repeat it or separate with commas "
        f"(requests=60,input_tokens=40000). Buckets and defaults: {_LIMITS_HELP}. Answered requests "
        "drain the buckets, anthropic-ratelimit-* headers report them and a request that does not "
        "fit gets a 429 with retry-after."
    ),
)
@provider_option(
    "Whose route the printed hints point at: Anthropic's Messages API, Vertex AI (with a service-account "
    "key made for the run, its tokens from the simulator's OAuth endpoint) or Amazon Bedrock (SigV4 with "
    "the simulator's test keys). The simulator serves all three either way.",
    serving=True,
)
@click.option("--quiet", is_flag=True, help="Do not log each request.")
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
    help="Request log lines on stderr: timestamped text, or one JSON object each.",
)
def simulate(
    host: str,
    port: int,
    profile: str,
    seed: int,
    api_key: str | None,
    first_byte_delay: float,
    token_delay: float,
    chunking: Chunking,
    rate_limits: dict[str, int],
    provider: Provider,
    quiet: bool,
    log_format: Literal["console", "json"],
) -> None:
    """Serve an Anthropic-compatible Messages API with scripted faults."""
    if not quiet:
        _log_requests(log_format)
    simulator = Simulator(
        api_key=api_key,
        profile=FaultProfile.named(profile, seed),
        seed=seed,
        first_byte_delay=first_byte_delay,
        token_delay=token_delay,
        chunking=chunking,
        host=host,
        port=port,
        rate_limits=rate_limits,
        keep_requests=_KEEP_REQUESTS,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(simulator, profile, api_key, rate_limits, provider))


def _log_requests(log_format: Literal["console", "json"]) -> None:
    if log_format == "console":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
        return
    from ..telemetry.log_setup import install_logging

    # The same JSON lines as setup()'s; nothing to undo, the process ends with the server.
    install_logging("json", logging.INFO, sys.stderr, [])


async def _serve(
    simulator: Simulator, profile: str, api_key: str | None, limits: Mapping[str, int], provider: Provider
) -> None:
    try:
        await simulator.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc}") from exc
    # The Vertex AI key file lives as long as the simulator that trusts it.
    with tempfile.TemporaryDirectory(prefix="axio-simulate-") as workdir:
        try:
            await _announce(simulator, profile, api_key, limits, provider, Path(workdir))
            await _until_signalled()
        finally:
            await simulator.stop()
            click.echo("Simulator stopped.")


async def _announce(
    simulator: Simulator,
    profile: str,
    api_key: str | None,
    limits: Mapping[str, int],
    provider: Provider,
    workdir: Path,
) -> None:
    credentials = None
    if provider == "vertex":
        path = workdir / "vertex-sa.json"
        credentials = await asyncio.to_thread(simulator.vertex.service_account, path, project=SIMULATOR_PROJECT)
    click.echo(f"Anthropic simulator listening on {simulator.base_url} (profile: {profile})")
    if provider != "anthropic":
        click.echo(f"{_ROUTES[provider]} {simulator.base_url.removesuffix('/v1')}")
    for line in connection_hints(provider, simulator, api_key, credentials):
        click.echo(f"  {line}")
    if limits:
        shown = ", ".join(f"{name} {count:,}" for name, count in {**_DEFAULT_LIMITS, **limits}.items())
        click.echo(f"Rate limits per minute: {shown}")
    click.echo("Press Ctrl-C to stop.")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows event loops have no signal handlers; Ctrl-C then arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
