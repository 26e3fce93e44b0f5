"""The host side of the matrix: what a host embedding the transport does and what it knows.

The host keeps its own record of which of its spans is current (``_HOST``, set only by
``Host.span``) so that it can tell when the transport changed its OpenTelemetry context, and it
notes for every ``stream()`` call the host span it was made under, the response id it got and the
output tokens it was told: the checks compare those with what the telemetry says."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from axio.blocks import TextBlock
from axio.events import IterationEnd, IterationStart, StreamEvent, TextDelta
from axio.messages import Message
from axio.tool import Tool
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, Tracer

from axio_transport_anthropic import AnthropicTransport

__all__ = ["AgentRecord", "Call", "Host", "HostSpan", "LogCapture", "Tap"]

_HOST: ContextVar[SpanContext] = ContextVar("embedding_host_span", default=INVALID_SPAN_CONTEXT)


@dataclass(slots=True)
class Call:
    """One ``stream()`` call as the host saw it."""

    label: str
    parent: SpanContext
    """The host span current (by the host's own record) when ``stream()`` was called."""
    response_id: str | None = None
    output_tokens: int | None = None
    text_seen: bool = False
    whole: bool = False
    stepped: bool = False

    def note(self, event: StreamEvent) -> None:
        if isinstance(event, IterationStart):
            self.response_id = event.id
        elif isinstance(event, TextDelta):
            self.text_seen = True
        elif isinstance(event, IterationEnd):
            self.output_tokens = event.usage.output_tokens
            self.whole = True


@dataclass(frozen=True, slots=True)
class HostSpan:
    """A span the host opened while consuming a stream, and the host span it must be a child of."""

    span: SpanContext
    expected_parent: SpanContext


@dataclass(slots=True)
class AgentRecord:
    """One instrumented agent run as the host saw it: how it was ended, the host span it started
    under, and the OpenTelemetry span current at each ``stream()`` and inside each tool call."""

    mode: str
    host: SpanContext = INVALID_SPAN_CONTEXT
    streams: list[SpanContext] = field(default_factory=list)
    tools: list[SpanContext] = field(default_factory=list)


@dataclass
class Host:
    tracer: Tracer
    calls: list[Call] = field(default_factory=list)
    spans: list[HostSpan] = field(default_factory=list)
    agent_runs: list[AgentRecord] = field(default_factory=list)
    #: ``axio_anthropic_agent_runs_total`` by outcome before the instrumented runs began.
    runs_before: dict[str, float] = field(default_factory=dict)
    #: What went wrong as the host saw it (its current span not its own, a scenario not doing
    #: what it meant to), by kind.
    anomalies: Counter[tuple[str, str]] = field(default_factory=Counter)
    _asked: int = 0

    @contextmanager
    def span(self, name: str, *, kept: bool = False, under: SpanContext | None = None) -> Iterator[SpanContext]:
        """A host span, current in the host's context, noted as the host's own; ``kept``: its
        parent is checked (a span opened while consuming a stream) to be ``under``, by default the
        host's own current span."""
        expected = _HOST.get() if under is None else under
        with self.tracer.start_as_current_span(name) as span:
            context = span.get_span_context()
            if kept:
                self.spans.append(HostSpan(context, expected))
            token = _HOST.set(context)
            try:
                yield context
            finally:
                _HOST.reset(token)

    def check_context(self, where: str) -> None:
        """The current OpenTelemetry span is the host's own (the transport never changes it)."""
        if trace.get_current_span().get_span_context() != _HOST.get():
            self.anomalies["the host's current span was not its own", where] += 1

    def question(self) -> list[Message]:
        # Replies echo the question, so their length (and output tokens) varies with it: an
        # exemplar or log line paired with the wrong request shows.
        self._asked += 1
        text = f"q{self._asked} " + "x" * (self._asked * 7 % 57)
        return [Message(role="user", content=[TextBlock(text=text)])]

    def current(self) -> SpanContext:
        """The host's own current span, by its own record."""
        return _HOST.get()

    def call(self, label: str, run: AgentRecord | None = None) -> Call:
        """``run``: an instrumented agent's call, whose parent is what is current (its run's span)."""
        if run is None:
            self.check_context(f"{label}: stream() called")
            call = Call(label, _HOST.get())
        else:
            call = Call(label, trace.get_current_span().get_span_context())
            run.streams.append(call.parent)
        self.calls.append(call)
        return call

    def open(self, transport: AnthropicTransport, label: str) -> tuple[Call, AsyncIterator[StreamEvent]]:
        call = self.call(label)
        return call, transport.stream(self.question(), [], "")

    async def full(self, transport: AnthropicTransport, label: str) -> Call:
        """One stream read to its end, with a host span opened at its first text."""
        call, stream = self.open(transport, label)
        async for event in stream:
            call.note(event)
            if isinstance(event, TextDelta) and not call.stepped:
                await self.step(call, label)
        self.check_context(f"{label}: after the stream")
        return call

    async def step(self, call: Call, label: str) -> None:
        """What a host does with a piece of the answer: its own span, while the stream is open."""
        call.stepped = True
        self.check_context(f"{label}: inside the loop")
        with self.span("host.step", kept=True):
            await asyncio.sleep(0)

    def reset(self) -> None:
        self.calls.clear()
        self.spans.clear()
        self.anomalies.clear()
        self.agent_runs.clear()
        self.runs_before.clear()


@dataclass
class Tap:
    """What an axio ``Agent`` gets as its transport: the host's own record of each call, in front
    of the real transport (the agent sees the same stream)."""

    transport: AnthropicTransport
    host: Host
    run: AgentRecord | None = None

    def stream(self, messages: list[Message], tools: list[Tool[Any]], system: str) -> AsyncIterator[StreamEvent]:
        call = self.host.call("agent", self.run)
        return _noted(call, self.transport.stream(messages, tools, system))


async def _noted(call: Call, stream: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
    async for event in stream:
        call.note(event)
        yield event


class LogCapture(logging.Handler):
    """The transport's log records, reduced as they arrive (keeping records would grow the heap
    the matrix measures): each request end's ids, event counts, and anything logged as a problem."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.ends: list[tuple[str | None, str | None, str | None]] = []
        self.events: Counter[str] = Counter()
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "anthropic", None)
        if isinstance(fields, dict):
            self.events[str(fields.get("event"))] += 1
            if fields.get("event") == "anthropic.request.end":
                self.ends.append((fields.get("response_id"), fields.get("trace_id"), fields.get("span_id")))
        elif record.levelno >= logging.WARNING:
            # Telemetry observer failures, asyncio's "Task exception was never retrieved",
            # unclosed sessions: none is expected anywhere in the matrix.
            self.problems.append(f"{record.name}: {record.getMessage()[:300]}".replace("\n", " "))

    def reset(self) -> None:
        self.ends.clear()
        self.events.clear()
        self.problems.clear()

    @contextmanager
    def installed(self) -> Iterator[LogCapture]:
        # opentelemetry: the SDK says "Calling end() on an ended span" (and hands processors nothing).
        names = ("axio_transport_anthropic", "asyncio", "aiohttp", "opentelemetry")
        loggers = [logging.getLogger(name) for name in names]
        levels = [logger.level for logger in loggers]
        loggers[0].setLevel(logging.INFO)
        # The simulator's own request lines are not the transport's.
        simulator = logging.getLogger("axio_transport_anthropic.simulator")
        simulator_level = simulator.level
        simulator.setLevel(logging.WARNING)
        for logger in loggers:
            logger.addHandler(self)
        try:
            yield self
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(self)
                logger.setLevel(level)
            simulator.setLevel(simulator_level)
