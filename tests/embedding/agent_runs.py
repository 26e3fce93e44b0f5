"""Several axio Agents at once: a round as axio runs them alone, then rounds with
``AxioInstrumentor`` on (no provider of its own: whatever the environment set up, as a host that
calls ``instrument()`` at start-up), whose runs end three ways: whole, left with ``break`` (no
``aclose()``: the loop's finalizer closes them) and cancelled while their tool runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final

from axio import Agent
from axio.context import MemoryContextStore
from axio.events import TextDelta
from axio.tool import Tool
from opentelemetry import trace
from prometheus_client import REGISTRY

from axio_transport_anthropic.telemetry import AxioInstrumentor

from .host import AgentRecord, Tap

if TYPE_CHECKING:
    from .scenarios import Stage

__all__ = ["MODES", "OUTCOME_OF", "agents", "runs_by_outcome"]

MODES: Final = ("whole", "break", "cancel")
#: The outcome each way of ending a run is counted under.
OUTCOME_OF: Final = {"whole": "ok", "break": "cancelled", "cancel": "cancelled"}


def runs_by_outcome() -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value("axio_anthropic_agent_runs_total", {"outcome": outcome}) or 0.0
        for outcome in ("ok", "error", "cancelled")
    }


async def agents(stage: Stage, width: int = 4, rounds: int = 3) -> None:
    """The first round plain, the others instrumented; each agent with a transport of its own."""
    await _round(stage, width, instrumented=False)
    if rounds < 2:
        return
    if not stage.host.runs_before:
        stage.host.runs_before.update(runs_by_outcome())
    instrumentor = AxioInstrumentor()
    instrumentor.instrument()
    try:
        for _ in range(rounds - 1):
            await _round(stage, width, instrumented=True)
    finally:
        instrumentor.uninstrument()


async def _round(stage: Stage, width: int, *, instrumented: bool) -> None:
    await asyncio.gather(*(_one(stage, i, MODES[i % len(MODES)] if instrumented else None) for i in range(width)))


def _tool(stage: Stage, run: AgentRecord | None, started: asyncio.Event) -> Callable[..., Any]:
    host = stage.host

    async def weather(city: str) -> str:
        """Current weather for a city."""
        current = trace.get_current_span().get_span_context()
        if run is not None:
            run.tools.append(current)
        # Instrumented, the tool's own span is current in its task: the host's span nests under it.
        with host.span("host.tool", kept=True, under=current if run is not None else None):
            await asyncio.sleep(0)
        started.set()
        if run is not None and run.mode == "cancel":
            await asyncio.sleep(60)  # until the host cancels the run
        return f"{city}: sunny, 21C"

    return weather


async def _one(stage: Stage, i: int, mode: str | None) -> None:
    host = stage.host
    run = AgentRecord(mode) if mode is not None else None
    started = asyncio.Event()
    async with AsyncExitStack() as stack:
        transport = stage.bare()
        if i % 2:
            await stack.enter_async_context(transport)
        tools: list[Tool[Any]] = [Tool(name="weather", handler=_tool(stage, run, started))]
        agent = Agent(system="You answer weather questions.", transport=Tap(transport, host, run), tools=tools)
        with stage.unit(i + 1, "host.agent"):
            if run is not None:
                run.host = host.current()
                host.agent_runs.append(run)
            question, context = f"Weather in city {i}?", MemoryContextStore()
            if mode == "break":
                async for event in agent.run_stream(question, context):
                    if isinstance(event, TextDelta):
                        break
                host.check_context("agents: after a break out of a run")
                return
            if mode == "cancel":
                task = asyncio.create_task(agent.run(question, context))
                await started.wait()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                host.check_context("agents: after a cancelled run")
                return
            answer = await agent.run(question, context)
            host.check_context("agents: after a run")
        if not answer:
            host.anomalies["an agent returned no answer", "agents"] += 1
