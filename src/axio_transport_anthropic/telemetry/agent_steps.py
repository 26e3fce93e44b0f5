"""The steps of an agent run: axio's generator driven one event at a time under the run's context.

Parenting without making anything current across a yield: the host iterates the run one step at a
time (``__anext__``). Each step attaches the run's context (its span under the host's parent),
awaits the agent's own generator, and detaches before the event reaches the host. Everything the
agent does inside a step sees the run's span: ``transport.stream()`` capturing its parent, the hooks,
the context store, and the tasks ``asyncio.gather`` makes for tool calls (each copies the context
it is created in). Between two steps the host's context is exactly its own.

This runs once per event of every run (about 2.5 k instructions a step, benchmarks/agents.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Protocol

from axio.events import StreamEvent, TextDelta
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

from .agent_run import AgentRun

__all__ = ["Events", "attach", "detach", "traced"]

logger = logging.getLogger("axio_transport_anthropic.telemetry")


def _step_context() -> tuple[Callable[[Context], Token[Context]], Callable[[Token[Context]], None]]:
    """Attach and detach for a step, once per event of every run: with OpenTelemetry's default
    runtime context, its ContextVar's own set and reset (what ``attach``/``detach`` call, without
    four Python calls around them); with another runtime context, ``attach``/``detach``."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and isinstance(var, ContextVar):
        return var.set, var.reset
    return otel_context.attach, otel_context.detach


attach, detach = _step_context()


class Events(Protocol):
    """axio's own event generator, or the ``AgentStream`` around it."""

    def __anext__(self) -> Awaitable[StreamEvent]: ...

    def aclose(self) -> Awaitable[None]: ...


async def traced(stream: Events, run: AgentRun) -> AsyncGenerator[StreamEvent, None]:
    """``stream``'s events, each step under the run's context (attached and detached within the
    step), the run ended once when the stream ends, fails, is cancelled or is closed."""
    context = run.begin()
    raised: BaseException | None = None
    step, observe = stream.__anext__, run.observe  # looked up once: this loop runs per event
    # The most frequent event changes nothing unless the answer's text is kept: not even a call.
    skipped = None if run.keeps_text else TextDelta
    try:
        while True:
            if context is None:  # nothing to attach (no SDK): the step as it is
                try:
                    event = await step()
                except StopAsyncIteration:
                    return
            else:
                token = attach(context)
                try:
                    event = await step()
                except StopAsyncIteration:
                    return
                finally:
                    detach(token)
            if type(event) is not skipped:
                try:
                    observe(event)
                except Exception:
                    logger.warning("Could not observe an agent event", exc_info=True)
            yield event
    except BaseException as exc:  # GeneratorExit (closed, or left with break) and cancellation too
        raised = exc
        raise
    finally:
        try:
            closing = attach(context) if context is not None else None
            try:
                await stream.aclose()
            finally:
                if closing is not None:
                    detach(closing)
        finally:
            run.end(raised)
            raised = None  # its traceback holds this frame: no cycle left for the collector
