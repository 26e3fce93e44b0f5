"""One agent run: its ``invoke_agent`` span, what its events add up to, its end (exactly once).

The steps that drive it, each under the run's context, are in ``agent_steps.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from axio.events import Error, IterationEnd, IterationStart, SessionEndEvent, TextDelta, ToolResult
from axio.types import StopReason, Usage
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from ..models import cost_usd
from .agent_telemetry import model_of, provider_of
from .labels import OTHER, error_type
from .metrics import _exemplar, _multiprocess, _spans_unexported

if TYPE_CHECKING:
    from axio.agent import Agent
    from axio.context import ContextStore

    from .agent_telemetry import AgentTelemetry

__all__ = ["CANCELLED", "AgentRun", "Observers"]

logger = logging.getLogger("axio_transport_anthropic.telemetry")

#: What each event type adds to a run, by exact type.
type Observers = Mapping[type, Callable[[AgentRun, Any], None]]
_NO_USAGE: Final = Usage(0, 0)
CANCELLED: Final = "cancelled"


class AgentRun:
    """The state of one ``run`` / ``run_stream``: made when it is called, started at its first step,
    ended exactly once however it ends."""

    __slots__ = (
        "_agent",
        "_attributes",
        "_ended",
        "_error",
        "_message",
        "_model",
        "_name",
        "_parent",
        "_response_model",
        "_span",
        "_started",
        "_stop",
        "_store",
        "_telemetry",
        "_text",
        "_total",
        "_turn_usage",
        "ends",
        "starts",
        "tool_results",
    )

    def __init__(self, telemetry: AgentTelemetry, agent: Agent, message: str, store: ContextStore) -> None:
        self._telemetry = telemetry
        # The host's context where run_stream() is called: the parent, as stream() takes it.
        self._parent = otel_context.get_current()
        self._name = telemetry.agent_name(agent)
        self._agent: Agent | None = agent
        self._message = message
        self._store: ContextStore | None = store
        self._model = model_of(agent.transport)
        self._span: Span = INVALID_SPAN
        self._started = 0.0
        self._ended = False
        self._text: list[str] | None = None
        self._error: BaseException | None = None
        self._stop: StopReason | None = None
        self._total: Usage | None = None
        self._turn_usage: list[Usage] = []
        self._attributes: dict[str, AttributeValue] = {}
        self._response_model: str | None = None
        self.starts = self.ends = self.tool_results = 0

    @property
    def name(self) -> str:
        return f"invoke_agent {self._name}" if self._name else "invoke_agent"

    def base_attributes(self) -> dict[str, AttributeValue]:
        agent = self._agent
        found: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": provider_of(agent.transport) if agent is not None else OTHER,
        }
        if self._name:
            found["gen_ai.agent.name"] = self._name
        if self._model is not None:
            found["gen_ai.request.model"] = self._model.id
        return found

    def begin(self) -> Context | None:
        """Start the span; the context to attach around each step, or ``None`` when attaching would
        change nothing (no SDK: the span is the parent's own span context)."""
        self._started = time.perf_counter()
        try:
            attributes = self._attributes = self.base_attributes()
            conversation = _conversation_id(self._store)
            span_attributes = {**attributes, "gen_ai.conversation.id": conversation} if conversation else attributes
            span = self._span = self._telemetry.tracer().start_span(
                self.name, context=self._parent, kind=SpanKind.INTERNAL, attributes=span_attributes
            )
            if span.is_recording() and self._telemetry.capture_content:
                self._text = []
                self._capture_input(span)
            if span.get_span_context() == trace.get_current_span(self._parent).get_span_context():
                return None
            return trace.set_span_in_context(span, self._parent)
        except Exception:
            logger.warning("Could not start the invoke_agent span", exc_info=True)
            return None

    def _capture_input(self, span: Span) -> None:
        dump = self._telemetry.dump
        message = [{"role": "user", "parts": [{"type": "text", "content": self._message}]}]
        span.set_attribute("gen_ai.input.messages", dump(message))
        if self._agent is not None and self._agent.system:
            span.set_attribute("gen_ai.system_instructions", dump([{"type": "text", "content": self._agent.system}]))

    def _on_text_delta(self, event: TextDelta) -> None:
        if self._text is not None:
            self._text.append(event.delta)

    def _on_iteration_start(self, event: IterationStart) -> None:
        self.starts += 1
        self._response_model = event.model or self._response_model
        if self._text is not None:
            self._text.clear()  # the run's answer is its last turn's text

    def _on_iteration_end(self, event: IterationEnd) -> None:
        self.ends += 1
        self._turn_usage.append(event.usage)

    def _on_tool_result(self, event: ToolResult) -> None:
        self.tool_results += 1

    def _on_error(self, event: Error) -> None:
        self._error = self._error or event.exception

    def _on_session_end(self, event: SessionEndEvent) -> None:
        self._stop = event.stop_reason
        self._total = event.total_usage

    @property
    def observers(self) -> Observers:
        """What each event type adds, by exact type (axio's own event classes): the events of
        every other type, text deltas included unless the answer is kept, cost a lookup only."""
        return _WITH_TEXT if self._text is not None else _WITHOUT_TEXT

    @property
    def turns(self) -> int:
        """Model turns that began answering (a transport without ``IterationStart``: that ended)."""
        return max(self.starts, self.ends)

    def _outcome(self, raised: BaseException | None) -> tuple[str, BaseException | None]:
        """``ok``, ``error`` or ``cancelled``, and the error to describe."""
        if self._error is not None:  # an Error event: what get_final_text() raises on, then closes
            return "error", self._error
        if isinstance(raised, (asyncio.CancelledError, GeneratorExit)):
            # axio answers a cancellation with SessionEndEvent(error) and no Error event, then
            # raises; closed after any other end (a host breaking on the last event), the run was whole.
            return (CANCELLED, raised) if self._stop in (None, StopReason.error) else ("ok", None)
        if raised is not None:
            return "error", raised
        return ("error", None) if self._stop in (None, StopReason.error) else ("ok", None)

    def end(self, raised: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        duration = time.perf_counter() - self._started
        try:
            outcome, error = self._outcome(raised)
            kind = CANCELLED if outcome == CANCELLED else error_type(error) if outcome == "error" else None
            self._end_span(outcome, kind, error)
            telemetry = self._telemetry
            if telemetry.series is not None:
                telemetry.series.run_ended(outcome, duration, self.turns, self._exemplar())
            attributes = {**self._attributes, "error.type": kind} if kind is not None else self._attributes
            telemetry.otel().run_ended(duration, self.turns, self.tool_results, attributes)
        except Exception:
            logger.warning("Could not record the end of an agent run", exc_info=True)
        finally:
            self._agent = self._store = self._error = None  # the run's references go with it

    def _exemplar(self) -> dict[str, str] | None:
        """The run's span ids (its parent's without an SDK) when an exemplar would lead to a trace,
        as the transport decides: sampled, one process (prometheus-client cannot keep exemplars
        across processes), and not ``setup()``'s spans that go nowhere, unless the instrumentor was
        given a provider of its own."""
        if _multiprocess():
            return None
        if self._telemetry.tracer_provider is None and _spans_unexported():
            return None
        return _exemplar(self._span.get_span_context())

    def _end_span(self, outcome: str, kind: str | None, error: BaseException | None) -> None:
        span = self._span
        if span.is_recording():
            span.set_attributes(self._end_attributes())
            if kind is not None:
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, CANCELLED if outcome == CANCELLED else _describe(error)))
            if outcome == "error" and error is not None:
                span.record_exception(error)
            if self._text is not None:
                part = {"type": "text", "content": "".join(self._text)}
                answer = [{"role": "assistant", "parts": [part], "finish_reason": str(self._stop or outcome)}]
                span.set_attribute("gen_ai.output.messages", self._telemetry.dump(answer))
        span.end()

    def _end_attributes(self) -> dict[str, AttributeValue]:
        found: dict[str, AttributeValue] = {"axio.agent.turns": self.turns, "axio.agent.tool_calls": self.tool_results}
        if self._stop is not None:
            found["gen_ai.response.finish_reasons"] = [str(self._stop)]
        if self._response_model:
            found["gen_ai.response.model"] = self._response_model
        usage = self._total
        if usage is None:
            if not self._turn_usage:
                return found  # no turn reported usage: zeros nobody reported
            usage = sum(self._turn_usage, _NO_USAGE)
        found["gen_ai.usage.input_tokens"] = usage.input_tokens
        found["gen_ai.usage.output_tokens"] = usage.output_tokens
        found["gen_ai.usage.cache_read.input_tokens"] = usage.cache_read_tokens
        found["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
        if usage.reasoning_tokens:
            found["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
        model = self._model
        if model is not None and (model.input_cost or model.output_cost):
            # List prices; cache writes at the 5-minute rate (axio's Usage does not split them).
            found["axio.agent.cost_usd"] = cost_usd(
                model,
                uncached_input=usage.uncached_input_tokens,
                output=usage.output_tokens,
                cache_read=usage.cache_read_tokens,
                cache_write_5m=usage.cache_write_tokens,
            )
        return found


def _describe(error: BaseException | None) -> str:
    return (str(error) or type(error).__name__) if error is not None else "error"


def _conversation_id(store: ContextStore | None) -> str | None:
    try:
        found: Any = getattr(store, "session_id", None)
    except Exception:  # a store whose property fails: no id, not no run
        return None
    return found if isinstance(found, str) and found else None


_WITHOUT_TEXT: Final[Observers] = {
    IterationStart: AgentRun._on_iteration_start,
    IterationEnd: AgentRun._on_iteration_end,
    ToolResult: AgentRun._on_tool_result,
    Error: AgentRun._on_error,
    SessionEndEvent: AgentRun._on_session_end,
}
_WITH_TEXT: Final[Observers] = {TextDelta: AgentRun._on_text_delta, **_WITHOUT_TEXT}
