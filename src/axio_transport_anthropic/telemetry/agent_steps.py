"""The steps of an agent run: axio's own ``AgentStream``, each step under the run's context.

Parenting without making anything current across a yield: the host iterates the run one step at a
time (``__anext__``). Each step attaches the run's context (its span under the host's parent),
awaits the agent's own generator, and detaches before the event reaches the host. Everything the
agent does inside a step sees the run's span: ``transport.stream()`` capturing its parent, the hooks,
the context store, and the tasks ``asyncio.gather`` makes for tool calls (each copies the context
it is created in). Between two steps the host's context is exactly its own.

This runs once per event of every run, so it is axio's own per-step method overridden (a subclass
of ``AgentStream``), not a generator around the generator: no frame or coroutine of its own per
event, and no attach at all when there is nothing to attach (benchmarks/agents.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, Protocol

from axio.events import StreamEvent
from axio.stream import AgentStream
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

from .agent_run import AgentRun, Observers

__all__ = ["Events", "TracedStream", "attach", "detach"]

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
    """axio's own event generator, or the stream around it when it is not found there."""

    def __anext__(self) -> Awaitable[StreamEvent]: ...

    def aclose(self) -> Awaitable[None]: ...


class TracedStream(AgentStream):
    """An ``AgentStream`` over ``events`` whose run begins at its first step and ends exactly once:
    when the events end or fail, when the host closes it, or, left with ``break``, when it is
    collected (closed on its loop then, as asyncio closes an abandoned generator)."""

    def __init__(self, events: Events, run: AgentRun) -> None:
        super().__init__(events)  # type: ignore[arg-type]  # only __anext__ and aclose are used
        self._run = run
        self._context: Context | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set at the first step: the run began
        self._observers: Observers = {}
        self._stepping = False

    def _begin(self) -> None:
        run = self._run
        self._context = run.begin()
        self._observers = run.observers
        self._loop = asyncio.get_running_loop()

    async def __anext__(self) -> StreamEvent:
        if self._closed:
            raise StopAsyncIteration
        if self._stepping:  # refused as an async generator refuses it, and the run left alone
            raise RuntimeError("anext(): the agent run is already being iterated")
        if self._loop is None:
            self._begin()
        context = self._context
        self._stepping = True
        try:
            if context is None:  # nothing to attach (no SDK): the step as it is
                event: StreamEvent = await self._generator.__anext__()
            else:
                token = attach(context)
                try:
                    event = await self._generator.__anext__()
                finally:
                    detach(token)
        except StopAsyncIteration:
            self._closed = True
            self._run.end(None)
            raise
        except BaseException as exc:  # cancellation too
            self._closed = True
            await _close(self._generator, context, self._run, exc)
            raise
        finally:
            self._stepping = False
        # By exact type: most events, text deltas above all, change nothing and cost one lookup.
        observe = self._observers.get(type(event))
        if observe is not None:
            try:
                observe(self._run, event)
            except Exception:
                logger.warning("Could not observe an agent event", exc_info=True)
        return event

    async def aclose(self) -> None:
        if self._closed:
            return
        if self._stepping:
            raise RuntimeError("aclose(): the agent run is being iterated")
        self._closed = True
        if self._loop is None:  # never iterated: no run to end
            await self._generator.aclose()
            return
        await _close(self._generator, self._context, self._run, GeneratorExit())

    def __del__(self) -> None:
        # Left unclosed after its first step (a host's ``break``): close it on its loop, as asyncio
        # closes an abandoned async generator, so the agent's own clean-up runs under the run.
        loop = self.__dict__.get("_loop")
        if loop is None or self._closed:
            return
        self._closed = True
        closing = _close(self._generator, self._context, self._run, GeneratorExit())
        try:
            loop.call_soon_threadsafe(loop.create_task, closing)
        except RuntimeError:  # the loop is closed: end the run here; the generator is the loop's
            closing.close()
            self._run.end(GeneratorExit())


async def _close(events: Any, context: Context | None, run: AgentRun, raised: BaseException) -> None:
    """Close ``events`` under the run's context (a finished generator: nothing to do), then end the
    run by ``raised`` (``GeneratorExit``: closed early), or by what closing raised."""
    token = attach(context) if context is not None else None
    try:
        await events.aclose()
    except BaseException as exc:
        raised = exc
        raise
    finally:
        if token is not None:
            detach(token)
        run.end(raised)
        del raised  # its traceback holds this frame: no cycle left for the collector
