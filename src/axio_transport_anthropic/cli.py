"""The ``axio-anthropic`` command line."""

from __future__ import annotations

import asyncio
import os

import click

from .load.command import load
from .load.config import url_problem
from .models import ANTHROPIC_MODELS
from .providers import Provider, provider_option
from .simulator.command import simulate


@click.group()
@click.version_option(package_name="axio-transport-anthropic")
def main() -> None:
    """Claude for axio agents: demo, simulator and operations tools."""


def _question(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty")
    return value


def _base_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if problem := url_problem(value):
        raise click.BadParameter(problem)
    return value


@main.command()
@click.option("--question", callback=_question, help="What to ask the agent (default: the time and 17 * 23).")
@click.option(
    "--model",
    type=click.Choice(list(ANTHROPIC_MODELS.keys())),
    help="Model to ask (default: the transport's, claude-sonnet-4-6).",
)
@click.option(
    "--base-url",
    callback=_base_url,
    help="The provider's API root, e.g. an `axio-anthropic simulate` (Anthropic's needs ANTHROPIC_API_KEY; "
    "Vertex AI and Bedrock use the credentials their transports find).",
)
@provider_option(
    "Whose wire and credentials: Anthropic's API, Vertex AI (the [vertex] extra) or Amazon Bedrock (the [bedrock] "
    "extra). Without --base-url or the provider's endpoint variable, its route on the built-in simulator."
)
def demo(question: str | None, model: str | None, base_url: str | None, provider: Provider) -> None:
    """Run an axio agent with two tools, streaming: on the built-in simulator (the --provider's
    route), or ANTHROPIC_BASE_URL or the Anthropic API when ANTHROPIC_API_KEY is set (Vertex AI:
    ANTHROPIC_VERTEX_BASE_URL; Bedrock: AWS_ENDPOINT_URL_BEDROCK_RUNTIME), or --base-url."""
    from .demo import QUESTION, run_demo

    if base_url is not None and provider == "anthropic" and not os.environ.get("ANTHROPIC_API_KEY", "").strip():
        raise click.BadParameter(
            f"needs ANTHROPIC_API_KEY for {base_url} (a simulator accepts any non-empty value)",
            param_hint="'--base-url'",
        )
    asked = question if question is not None else QUESTION
    raise SystemExit(asyncio.run(run_demo(asked, model=model, base_url=base_url, provider=provider)))


main.add_command(simulate)
main.add_command(load)
