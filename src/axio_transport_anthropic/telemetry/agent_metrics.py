"""Agent metrics: Prometheus ``axio_anthropic_agent_*`` series and the GenAI agent and tool histograms.

Families are registered once per registry, like the transport's (``instruments.py``); the tool
label is bounded by a ``Vocabulary``, so an agent with hundreds of generated tool names cannot grow
the series without limit.
"""

from __future__ import annotations

import contextlib
import re
import threading
import weakref
from collections.abc import Mapping
from typing import Final

from opentelemetry.metrics import Histogram as OtelHistogram
from opentelemetry.metrics import Meter, MeterProvider
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry, Counter, Histogram

from .labels import Vocabulary
from .scope import scope_version

__all__ = [
    "AGENT_SCOPE",
    "OUTCOMES",
    "RUN_DURATION_BUCKETS",
    "TOOL_DURATION_BUCKETS",
    "TURN_BUCKETS",
    "AgentOtel",
    "AgentSeries",
    "agent_otel",
    "agent_series",
]

#: The instrumentation scope of the agent and tool spans and metrics.
AGENT_SCOPE: Final = "axio_transport_anthropic.agents"
OUTCOMES: Final = ("ok", "error", "cancelled")
#: A whole run: one quick turn, up to a long tool loop with retries.
RUN_DURATION_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
TURN_BUCKETS: Final = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)
#: A lookup in memory to a shell command or a sub-agent.
TOOL_DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0, 600.0)
#: Distinct tool names per registry; later ones are counted as ``_OTHER``.
TOOL_NAMES: Final = 50
#: Tool names as the providers allow them (Anthropic: ``^[a-zA-Z0-9_-]{1,64}$``), dots and colons too.
_TOOL_NAME: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

#: The advised boundaries of the GenAI agent and tool histograms.
_AGENT_SECONDS: Final = tuple(round(0.1 * 2**i, 1) for i in range(13))  # 0.1 ... 409.6
_CALLS: Final = tuple(2**i for i in range(8))  # 1 ... 128
_TOOL_SECONDS: Final = tuple(round(0.01 * 2**i, 2) for i in range(14))  # 0.01 ... 81.92


class AgentSeries:
    """The ``axio_anthropic_agent_*`` families on one registry. Get them with ``agent_series()``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "axio_anthropic_agent_runs",
            "Agent runs (Agent.run / run_stream) by how they ended: ok, error, cancelled (or left early).",
            ("outcome",),
            registry=registry,
        )
        self.run_duration = Histogram(
            "axio_anthropic_agent_run_duration_seconds",
            "Agent run duration, first step to the end, tools included (cancelled runs excluded).",
            unit="seconds",
            registry=registry,
            buckets=RUN_DURATION_BUCKETS,
        )
        self.turns = Histogram(
            "axio_anthropic_agent_turns",
            "Model turns per agent run (cancelled runs excluded).",
            registry=registry,
            buckets=TURN_BUCKETS,
        )
        self.tool_calls = Counter(
            "axio_anthropic_agent_tool_calls",
            "Tool calls an agent ran, by tool and how they ended: ok, error, cancelled.",
            ("tool", "outcome"),
            registry=registry,
        )
        self.tool_duration = Histogram(
            "axio_anthropic_agent_tool_duration_seconds",
            "Tool call duration, by tool (cancelled calls excluded).",
            ("tool",),
            unit="seconds",
            registry=registry,
            buckets=TOOL_DURATION_BUCKETS,
        )
        # At 0 from the start: a panel shows 0, and rate() counts the first failure.
        self._runs = {outcome: self.runs.labels(outcome) for outcome in OUTCOMES}
        self._names = Vocabulary((), extra=TOOL_NAMES, pattern=_TOOL_NAME)
        self._tools: dict[str, tuple[Mapping[str, Counter], Histogram]] = {}

    def tool_label(self, name: str) -> str:
        return self._names(name)

    def run_ended(self, outcome: str, duration: float, turns: int, exemplar: dict[str, str] | None = None) -> None:
        """``exemplar``: the run's trace and span ids, on its duration (a dot on the panel, a link to
        the run's trace)."""
        self._runs[outcome].inc()
        if outcome != "cancelled":
            self.run_duration.observe(duration, exemplar)
            self.turns.observe(turns)

    def tool_ended(self, label: str, outcome: str, duration: float) -> None:
        found = self._tools.get(label)
        if found is None:
            # Bounded by the vocabulary; a race only asks .labels() twice for the same children.
            counters = {o: self.tool_calls.labels(label, o) for o in OUTCOMES}
            found = self._tools[label] = (counters, self.tool_duration.labels(label))
        found[0][outcome].inc()
        if outcome != "cancelled":
            found[1].observe(duration)


_BY_REGISTRY: Final[weakref.WeakKeyDictionary[CollectorRegistry, AgentSeries]] = weakref.WeakKeyDictionary()
_BY_REGISTRY_LOCK: Final = threading.Lock()


def agent_series(registry: CollectorRegistry) -> AgentSeries:
    """The families on ``registry``, registered on its first instrumentor."""
    with _BY_REGISTRY_LOCK:
        found = _BY_REGISTRY.get(registry)
        if found is None:
            found = _BY_REGISTRY[registry] = AgentSeries(registry)
        return found


class AgentOtel:
    """The GenAI agent histograms (``gen_ai.invoke_agent.*``, ``gen_ai.execute_tool.duration``)."""

    __slots__ = ("duration", "inference_calls", "tool_calls", "tool_duration")

    def __init__(self, meter: Meter) -> None:
        self.duration: OtelHistogram = meter.create_histogram(
            "gen_ai.invoke_agent.duration",
            unit="s",
            description="GenAI agent invocation duration.",
            explicit_bucket_boundaries_advisory=_AGENT_SECONDS,
        )
        self.inference_calls: OtelHistogram = meter.create_histogram(
            "gen_ai.invoke_agent.inference_calls",
            unit="{inference_call}",
            description="Model calls per agent invocation.",
            explicit_bucket_boundaries_advisory=_CALLS,
        )
        self.tool_calls: OtelHistogram = meter.create_histogram(
            "gen_ai.invoke_agent.tool_calls",
            unit="{tool_call}",
            description="Tool calls per agent invocation.",
            explicit_bucket_boundaries_advisory=_CALLS,
        )
        self.tool_duration: OtelHistogram = meter.create_histogram(
            "gen_ai.execute_tool.duration",
            unit="s",
            description="GenAI tool execution duration.",
            explicit_bucket_boundaries_advisory=_TOOL_SECONDS,
        )

    def run_ended(self, duration: float, turns: int, tools: int, attributes: Mapping[str, AttributeValue]) -> None:
        self.duration.record(duration, attributes)
        self.inference_calls.record(turns, attributes)
        self.tool_calls.record(tools, attributes)


_BY_PROVIDER: Final[weakref.WeakKeyDictionary[MeterProvider, AgentOtel]] = weakref.WeakKeyDictionary()
_BY_PROVIDER_LOCK: Final = threading.Lock()


def agent_otel(provider: MeterProvider) -> AgentOtel:
    """The histograms on ``provider``, made once per provider (the API's proxy provider keeps each
    meter it hands out for good)."""
    found = _BY_PROVIDER.get(provider)
    if found is None:
        with _BY_PROVIDER_LOCK:
            found = _BY_PROVIDER.get(provider)
            if found is None:
                found = AgentOtel(provider.get_meter(AGENT_SCOPE, scope_version()))
                with contextlib.suppress(TypeError):  # not weakly referenceable: not kept
                    _BY_PROVIDER[provider] = found
    return found
