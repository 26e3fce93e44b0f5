"""The verification's scenarios: which simulators run, and which load processes call them.

- `faults`: three simulators (`rate-limited`, `overloaded`, `chaos`), one load process each, two
  models; every panel must have data and the 429 and 529 alerts must be pending or firing.
- `clean`: one simulator with profile `none`, three load processes; no alert may be active.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from verify import attribution

__all__ = ["CONCURRENCY", "RATE_LIMITS", "LoadSpec", "Scenario", "SimulatorSpec", "scenarios"]

CONCURRENCY: Final = 4
#: Per-minute limits of the `rate-limited` simulator. Its load process asks for about 145 answered
#: requests, 8,000 input and 2,500 output tokens a minute, so every bucket drains: over a full run
#: request headroom falls from 100 % to about 0 (the last seconds meet real 429s) and token
#: headroom to about 60 %. The injected 429s (30 % of requests) still drive the 429 alert.
RATE_LIMITS: Final = (("requests", 80), ("tokens", 8000), ("input_tokens", 6000), ("output_tokens", 2000))
#: The models of the three load processes of each scenario: two, so the $model variable has a choice.
_LOAD_MODELS: Final = ("claude-sonnet-4-6", "claude-sonnet-4-6", "claude-haiku-4-5")


@dataclass(frozen=True, slots=True)
class SimulatorSpec:
    profile: str
    seed: int
    rate_limits: tuple[tuple[str, int], ...] = ()
    """``axio-anthropic simulate --rate-limit`` values; none: the simulator's generous defaults."""


@dataclass(frozen=True, slots=True)
class LoadSpec:
    name: str
    profile: str
    """The ``SimulatorSpec.profile`` of the simulator this load process calls."""
    model: str
    concurrency: int = CONCURRENCY
    labels: attribution.Labels = attribution.LABELS
    """``--label`` values: the call labels the agent runs cycle through."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    simulators: tuple[SimulatorSpec, ...]
    loads: tuple[LoadSpec, ...]
    duration: float
    faults: bool
    """True: every panel must have data and the 429/529 alerts must be active; False: no alert."""


def _three_loads(*profiles: str) -> tuple[LoadSpec, ...]:
    """Load processes agent-1..3 on the simulators of these profiles, with ``_LOAD_MODELS``."""
    pairs = zip(profiles, _LOAD_MODELS, strict=True)
    return tuple(LoadSpec(f"agent-{number}", profile, model) for number, (profile, model) in enumerate(pairs, 1))


def scenarios(quick: bool = False) -> tuple[Scenario, ...]:
    """The fault scenario lasts long enough for `for: 1m` alerts to fire (pending takes seconds)."""
    faults = Scenario(
        name="faults",
        description=(
            "429s, 529s and every other fault: one load process each on simulators with profiles "
            "rate-limited, overloaded and chaos; two models"
        ),
        simulators=(
            SimulatorSpec("rate-limited", 11, RATE_LIMITS),
            SimulatorSpec("overloaded", 12),
            SimulatorSpec("chaos", 13),
        ),
        loads=_three_loads("rate-limited", "overloaded", "chaos"),
        duration=25.0 if quick else 70.0,
        faults=True,
    )
    clean = Scenario(
        name="clean",
        description="no faults: three load processes on one simulator with profile none; two models",
        simulators=(SimulatorSpec("none", 21),),
        loads=_three_loads("none", "none", "none"),
        duration=12.0 if quick else 30.0,
        faults=False,
    )
    return (faults, clean)
