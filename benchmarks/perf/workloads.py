"""What the gate counts: each workload's name, unit, sizes and how to run it.

A workload opens (imports, builds its bytes, starts its replay and transport: none of it counted)
and yields ``run(k)``, which does k units of work: decodes an answer of k deltas, or makes k
requests. ``perf.child`` runs it ``warm`` units first, then counts ``run(0)`` and ``run(size)``;
the cost per unit is their difference over ``size``. Standard library only at module level: the
command line imports this to list the workloads before any venv is involved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Final, Literal

from .streams import Shape

__all__ = [
    "AGENT_LONG",
    "PEERS",
    "TARGETS",
    "WORKLOADS",
    "Opener",
    "Run",
    "Target",
    "Variant",
    "Workload",
    "agent_workload",
    "named",
]

Run = Callable[[int], Awaitable[None]]
Opener = Callable[[int], AbstractAsyncContextManager[Run]]
Variant = Literal["off", "defaults", "full", "retry"]
AgentSetting = Literal["default", "sdk"]
AgentState = Literal["off", "on", "floor"]
AgentAnswer = Literal["short", "long"]


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    unit: str
    """What one unit is, as the report says it: "text delta", "request"."""
    what: str
    size: int
    """Units in the counted run (the other counted run has none)."""
    warm: int
    """Units run before counting: connections, caches, metric series, specialised bytecode."""
    open: Opener
    needs: tuple[str, ...]
    """Modules imported once before the forks (``perf.child``): a workload's imports are never counted."""


#: What the decoder workloads import; the transport ones import everything a request can touch.
_DECODER_NEEDS: Final = ("axio.events", "axio_transport_anthropic.decoder")
_TRANSPORT_NEEDS: Final = (
    "aiohttp",
    "axio.events",
    "opentelemetry.sdk.trace.export",
    "prometheus_client",
    "axio_transport_anthropic",
    "axio_transport_anthropic.telemetry",
)


# The openers import their modules when the workload runs (in the child), not here.
def _decoder(name: str, unit: str, shape: Shape) -> Workload:
    def open_decoder(size: int) -> AbstractAsyncContextManager[Run]:
        from .decoder_work import decoding

        return decoding(shape, size)

    what = f"the decoder alone: {unit}s of one answer, read 16 KiB at a time"
    return Workload(name, unit, what, 1000, 500, open_decoder, _DECODER_NEEDS)


def _transport(name: str, variant: Variant, what: str, size: int = 2) -> Workload:
    def open_transport(size: int) -> AbstractAsyncContextManager[Run]:
        from .transport_work import requesting

        return requesting(variant, size)

    return Workload(name, "request", what, size, 1, open_transport, _TRANSPORT_NEEDS)


_AGENT_NEEDS: Final = (
    *_TRANSPORT_NEEDS,
    "axio.agent",
    "axio.context",
    "axio.tool",
    "axio_transport_anthropic.telemetry.agents",
    "axio_transport_anthropic.telemetry.agent_steps",
    "axio_transport_anthropic.telemetry.tool_spans",
    "opentelemetry.sdk.trace.export.in_memory_span_exporter",
)
_SETTINGS: Final = {"default": "nothing configured", "sdk": "an SDK, traces + metrics + logs"}
_STATES: Final = {"off": "axio as it is", "on": "AxioInstrumentor on", "floor": "its spans made alone"}


def agent_workload(setting: str, state: str, answer: str = "short") -> str:
    """The name of an agent workload: ``agent/sdk-on``, ``agent/default-off-long``."""
    return f"agent/{setting}-{state}" + ("-long" if answer == "long" else "")


def _agent(setting: AgentSetting, state: AgentState, answer: AgentAnswer = "short") -> Workload:
    def open_agent(size: int) -> AbstractAsyncContextManager[Run]:
        from .agent_work import agent_running

        return agent_running(setting, state, answer)

    what = f"two-turn tool runs, {answer} answers, {_SETTINGS[setting]}: {_STATES[state]}"
    return Workload(agent_workload(setting, state, answer), "agent run", what, 10, 3, open_agent, _AGENT_NEEDS)


_AGENT_VARIANTS: Final[tuple[tuple[AgentSetting, AgentState], ...]] = (
    ("default", "off"),
    ("default", "on"),
    ("sdk", "off"),
    ("sdk", "on"),
    ("sdk", "floor"),
)

WORKLOADS: Final = (
    _decoder("decoder/text", "text delta", "text"),
    _decoder("decoder/tool", "argument delta", "tool"),
    _decoder("decoder/thinking", "thinking delta", "thinking"),
    _transport("request/off", "off", "1,000 text deltas, telemetry=None"),
    _transport("request/defaults", "defaults", "1,000 text deltas, TelemetryConfig(), nothing configured"),
    _transport("request/full", "full", "1,000 text deltas, traces + metrics + logs"),
    _transport("retry/429-200", "retry", "429, then 200 with 10 text deltas; no backoff", size=4),
    *(_agent(setting, state) for setting, state in _AGENT_VARIANTS),
)

#: Not gated: the same runs with long answers, where per-event work shows (benchmarks/agents.py).
AGENT_LONG: Final = tuple(_agent(setting, state, "long") for setting, state in _AGENT_VARIANTS)


def _client(client: str, shape: Shape) -> Workload:
    def open_client(size: int) -> AbstractAsyncContextManager[Run]:
        from .client_work import client_streaming

        return client_streaming(client, shape, size)

    library = "anthropic" if client.startswith("sdk-") else "axio_transport_anthropic"
    what = f"{client} (benchmarks/compare_client.py) streaming {shape} deltas from the replay"
    unit = "text delta" if shape == "text" else "argument delta"
    return Workload(f"client/{client}/{shape}", unit, what, 1000, 1000, open_client, (library,))


#: Not gated: each client's cost per event, counted in its own venv by benchmarks/compare_instructions.py.
PEERS: Final = tuple(
    _client(client, shape)
    for client in ("ours-off", "ours-full", "published", "sdk-create", "sdk-stream")
    for shape in ("text", "tool")
)


@dataclass(frozen=True, slots=True)
class Target:
    """A settled cost target: ``now`` at most ``limit`` over ``over``, per unit."""

    what: str
    unit: str
    now: str
    over: str
    limit: float
    less: str | None = None
    """A workload whose extra over ``over`` is taken off ``now``'s: the SDK's own cost of the spans
    an instrumentor is asked to make, which no instrumentor can spare."""


TARGETS: Final = (
    Target("full telemetry over telemetry=None", "request", "request/full", "request/off", 0.05),
    Target("AxioInstrumentor, nothing configured", "agent run", "agent/default-on", "agent/default-off", 0.05),
    Target(
        "AxioInstrumentor's own work, with an SDK",
        "agent run",
        "agent/sdk-on",
        "agent/sdk-off",
        0.05,
        less="agent/sdk-floor",
    ),
)


def named(names: str | None, among: Sequence[Workload] = WORKLOADS) -> tuple[Workload, ...]:
    """The workloads a comma-separated list names (all of ``among`` when ``None``); unknown names
    raise ``KeyError``. The gate's commands name the gated ones; ``perf.child`` counts any."""
    if not names:
        return tuple(among)
    by_name = {w.name: w for w in among}
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise KeyError(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return tuple(by_name[name] for name in wanted)
