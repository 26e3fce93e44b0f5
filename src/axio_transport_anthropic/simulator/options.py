"""The click options that shape the simulator's behaviour, taken by ``axio-anthropic simulate`` and by
``axio-anthropic load`` (which runs the built-in simulator unless given ``--base-url``): one name,
type and default for each, so the two commands cannot drift apart. Each command words the help its
own way (load says the options are for its simulator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import click

from .faults import FaultProfile

__all__ = ["SIMULATOR_OPTIONS", "simulator_options"]

#: The parameter names the options below bind, in the order they are listed.
SIMULATOR_OPTIONS: Final = ("profile", "seed", "first_byte_delay", "token_delay")

_F = TypeVar("_F", bound=Callable[..., object])


def simulator_options(*, profile: str, seed: str, first_byte_delay: str, token_delay: str) -> Callable[[_F], _F]:
    """``--profile``, ``--seed``, ``--first-byte-delay`` and ``--token-delay``, with these help texts."""
    options = (
        click.option(
            "--profile", type=click.Choice(FaultProfile.names()), default="none", show_default=True, help=profile
        ),
        click.option("--seed", type=int, default=0, show_default=True, help=seed),
        click.option(
            "--first-byte-delay", type=click.FloatRange(min=0), default=0.0, show_default=True, help=first_byte_delay
        ),
        click.option("--token-delay", type=click.FloatRange(min=0), default=0.0, show_default=True, help=token_delay),
    )

    def add(command: _F) -> _F:
        for option in reversed(options):  # as stacked decorators apply: the first listed ends up first
            command = option(command)
        return command

    return add
