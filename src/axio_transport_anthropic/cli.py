"""The ``axio-anthropic`` command line."""

from __future__ import annotations

import asyncio

import click

from .load.command import load
from .simulator.command import simulate


@click.group()
@click.version_option(package_name="axio-transport-anthropic")
def main() -> None:
    """Claude for axio agents: demo, simulator and operations tools."""


@main.command()
@click.option("--question", default=None, help="What to ask the agent.")
def demo(question: str | None) -> None:
    """Run an axio agent with tools, streaming (simulator unless ANTHROPIC_API_KEY is set)."""
    from .demo import QUESTION, run_demo

    raise SystemExit(asyncio.run(run_demo(question or QUESTION)))


main.add_command(simulate)
main.add_command(load)
