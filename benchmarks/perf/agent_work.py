"""axio ``Agent`` runs against the replay: what ``AxioInstrumentor`` costs per model turn.

One unit is one agent run of the two turns ``axio-anthropic load`` drives: a turn that calls
``write_file`` (``TOOL_DELTAS`` argument deltas), the call, and a turn that answers in ``short``
(5 text deltas, the cheapest turn there is, where the instrumentor's per-run work weighs most) or
``long`` (150 deltas of distinct words; repeated ones would trip axio's repetition stop). Settings:

* ``default``: nothing configured, what most hosts run: the transport's default ``TelemetryConfig``,
  no SDK, and ``AxioInstrumentor().instrument()`` with no options (its Prometheus series only);
* ``sdk``: what a host that set up tracing runs: ``transport_work``'s full telemetry (SDK
  ``TracerProvider``, Prometheus, JSON logs) for the transport and the instrumentor.

States: ``off`` (axio as it is), ``on`` (instrumented), and, with the SDK, ``floor``: not
instrumented, but each run makes the spans the instrumentor would, with their attributes, straight
through the SDK: what the spans themselves cost the SDK, which any instrumentor making them pays.
They are recorded once, from an instrumented run, before counting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

from .replay import Replay
from .streams import http_200
from .transport_work import HOUR_MS, KEY, full_telemetry

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

    from .workloads import AgentAnswer, AgentSetting, AgentState, Run

__all__ = ["ANSWERS", "TOOL_DELTAS", "agent_running"]

ANSWERS: Final[dict[AgentAnswer, int]] = {"short": 5, "long": 150}
TOOL_DELTAS: Final = 3
QUESTION: Final = "Save a note about streaming parsers."


def _respond(answer_deltas: int) -> Any:
    """The replay's answer to a request: a ``write_file`` call, or the answer once a tool result is in."""
    call, answer = http_200("tool", TOOL_DELTAS), http_200("words", answer_deltas)
    return lambda body: answer if b'"tool_result"' in body else call


async def write_file(path: str, content: str) -> str:
    """Write a file."""
    return f"wrote {len(content)} characters to {path}"


@asynccontextmanager
async def agent_running(setting: AgentSetting, state: AgentState, answer: AgentAnswer) -> AsyncIterator[Run]:
    """The opener of one agent workload (see ``workloads.Workload.open``)."""
    import aiohttp
    from axio import Agent
    from axio.context import MemoryContextStore
    from axio.tool import Tool

    from axio_transport_anthropic import AnthropicTransport
    from axio_transport_anthropic.telemetry import AxioInstrumentor

    async with AsyncExitStack() as stack:
        replay = await stack.enter_async_context(Replay(_respond(ANSWERS[answer])))
        connector = aiohttp.TCPConnector(keepalive_timeout=HOUR_MS / 1000)
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
        settings: dict[str, Any] = {"api_key": KEY, "base_url": replay.base_url, "session": session}
        options: dict[str, Any] = {}
        if setting == "sdk":
            config = settings["telemetry"] = full_telemetry(stack)
            options = {"tracer_provider": config.tracer_provider, "registry": config.registry}
        agent = Agent(
            system="You keep notes.",
            transport=AnthropicTransport(**settings),
            tools=[Tool(name="write_file", handler=write_file)],
        )

        async def one() -> None:
            served = replay.served
            answer_text = await agent.run(QUESTION, MemoryContextStore())
            if not answer_text or replay.served - served != 2:
                raise AssertionError(f"{setting}-{state}: {replay.served - served} requests, answer {answer_text!r}")

        instrumentor = AxioInstrumentor()
        if state == "floor":
            one = _with_spans(one, await _recorded(instrumentor, one), options["tracer_provider"])
        elif state == "on":
            instrumentor.instrument(**options)
            stack.callback(instrumentor.uninstrument)

        async def run(k: int) -> None:
            for _ in range(k):
                await one()

        yield run


async def _recorded(instrumentor: Any, one: Any) -> Sequence[ReadableSpan]:
    """The instrumentor's spans of one run, in the order they started."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from axio_transport_anthropic.telemetry.agent_metrics import AGENT_SCOPE

    kept = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    instrumentor.instrument(tracer_provider=provider, metrics=False)
    try:
        await one()
    finally:
        instrumentor.uninstrument()
    spans = [s for s in kept.get_finished_spans() if getattr(s.instrumentation_scope, "name", None) == AGENT_SCOPE]
    if not spans:
        raise AssertionError("the instrumentor made no spans to replay")
    return sorted(spans, key=lambda span: span.start_time or 0)


def _with_spans(one: Any, spans: Sequence[ReadableSpan], provider: TracerProvider) -> Any:
    """``one`` with ``spans`` made around it: the first (``invoke_agent``) the parent of the rest."""
    from opentelemetry import trace

    from axio_transport_anthropic.telemetry.agent_metrics import AGENT_SCOPE

    tracer = provider.get_tracer(AGENT_SCOPE)
    root, *children = spans

    async def spanned() -> None:
        span = tracer.start_span(root.name, kind=root.kind, attributes=root.attributes)
        await one()
        inside = trace.set_span_in_context(span)
        for child in children:
            tracer.start_span(child.name, context=inside, kind=child.kind, attributes=child.attributes).end()
        span.end()

    return spanned
