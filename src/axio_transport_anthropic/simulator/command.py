"""`axio-anthropic simulate`: run the simulator from a shell until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import click

from .chunking import CHUNKINGS, Chunking
from .faults import FaultProfile
from .server import Simulator

__all__ = ["simulate"]

#: Long-running servers keep only recent requests so memory stays flat under load.
_KEEP_REQUESTS = 1000


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free port.")
@click.option(
    "--profile", type=click.Choice(FaultProfile.names()), default="none", show_default=True, help="Fault preset."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for faults, ids and chunking.")
@click.option("--api-key", default=None, help="Require this x-api-key (default: accept any non-empty key).")
@click.option("--first-byte-delay", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Seconds.")
@click.option("--token-delay", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Seconds.")
@click.option("--chunking", type=click.Choice(CHUNKINGS), default="event", show_default=True)
@click.option("--quiet", is_flag=True, help="Do not log each request.")
def simulate(
    host: str,
    port: int,
    profile: str,
    seed: int,
    api_key: str | None,
    first_byte_delay: float,
    token_delay: float,
    chunking: Chunking,
    quiet: bool,
) -> None:
    """Serve an Anthropic-compatible Messages API with scripted faults."""
    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    simulator = Simulator(
        api_key=api_key,
        profile=FaultProfile.named(profile, seed),
        seed=seed,
        first_byte_delay=first_byte_delay,
        token_delay=token_delay,
        chunking=chunking,
        host=host,
        port=port,
        keep_requests=_KEEP_REQUESTS,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(simulator, profile, api_key))


async def _serve(simulator: Simulator, profile: str, api_key: str | None) -> None:
    try:
        await simulator.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc}") from exc
    try:
        click.echo(f"Anthropic simulator listening on {simulator.base_url} (profile: {profile})")
        click.echo(f"  export ANTHROPIC_BASE_URL={simulator.base_url}")
        click.echo(f"  export ANTHROPIC_API_KEY={api_key or 'sk-sim-any-key'}")
        click.echo("Press Ctrl-C to stop.")
        await _until_signalled()
    finally:
        await simulator.stop()
        click.echo("Simulator stopped.")


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
