"""What the instrumentor was given, and what it makes once per provider: shared by run and tool spans."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from axio.agent import Agent
from axio.models import ModelSpec
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Tracer, TracerProvider

from ..bedrock_transport import BedrockTransport
from .agent_metrics import AGENT_SCOPE, AgentOtel, AgentSeries, agent_otel
from .call_labels import current_call_labels
from .scope import PerProvider, global_meter_provider, global_tracer_provider, scope_version

__all__ = ["AgentNamer", "AgentTelemetry", "call_label_agent", "model_of", "provider_of"]

#: What names an agent's runs: ``gen_ai.agent.name`` and the span name. ``None``: no name.
AgentNamer = Callable[[Agent], str | None]
_TRANSPORT_PACKAGE: Final = "axio_transport_"
_OWN_PACKAGE: Final = "axio_transport_anthropic"


def call_label_agent(agent: Agent) -> str | None:
    """The default name: the ``agent`` call label where the run was started (``call_labels(agent=...)``)."""
    return current_call_labels().get("agent") or None


def provider_of(transport: object) -> str:
    """``gen_ai.provider.name`` by the transport: this package's own say whose cloud they call
    (``anthropic``, ``gcp.vertex_ai``, ``aws.bedrock``, as their ``chat`` spans do); another
    ``axio_transport_<name>`` package's, ``<name>``; anything else ``_OTHER``."""
    package = type(transport).__module__.partition(".")[0]
    if package == _OWN_PACKAGE:
        return _own_provider(transport)
    return package.removeprefix(_TRANSPORT_PACKAGE) if package.startswith(_TRANSPORT_PACKAGE) else "_OTHER"


def _own_provider(transport: object) -> str:
    """From the settings alone: asking the transport for its backend could load credentials."""
    if isinstance(transport, BedrockTransport):
        return "aws.bedrock"
    return "gcp.vertex_ai" if getattr(transport, "vertexai", False) is True else "anthropic"


def model_of(transport: object) -> ModelSpec | None:
    model = getattr(transport, "model", None)
    return model if isinstance(model, ModelSpec) else None


def _tracer(provider: TracerProvider) -> Tracer:
    return provider.get_tracer(AGENT_SCOPE, scope_version())


@dataclass(slots=True)
class AgentTelemetry:
    """One ``instrument()`` call's settings. Providers left ``None`` follow the global ones, looked
    up per run, so a host that sets one up later (again) is followed."""

    series: AgentSeries | None
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    capture_content: bool = False
    content_max_chars: int = 8192
    agent_name: AgentNamer = call_label_agent
    _tracers: PerProvider[TracerProvider, Tracer] = field(default_factory=lambda: PerProvider(_tracer))
    _meters: PerProvider[MeterProvider, AgentOtel] = field(default_factory=lambda: PerProvider(agent_otel))

    def tracer(self) -> Tracer:
        return self._tracers(self.tracer_provider or global_tracer_provider())

    def otel(self) -> AgentOtel:
        return self._meters(self.meter_provider or global_meter_provider())

    def dump(self, value: Any) -> str:
        """Captured content as an attribute, truncated: text as it is, anything else as JSON."""
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        return text[: self.content_max_chars]
