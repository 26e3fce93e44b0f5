"""``execute_tool`` spans and tool metrics: one per tool call an axio ``Agent`` dispatches.

axio runs a turn's calls with ``asyncio.gather``, one task each, created inside the run's step and
so copying the run's context: a call's span is a child of the ``invoke_agent`` span, a sibling of
the ``chat`` spans, and calls that run at once overlap as they ran. The span is made current inside
the call's own task (axio's, never the host's), so spans the tool opens are its children.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

from axio.blocks import TextBlock, ToolResultBlock, ToolUseBlock
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from .labels import error_type

if TYPE_CHECKING:
    from axio.agent import Agent
    from axio.tool import Tool

    from .agent_telemetry import AgentTelemetry

__all__ = ["ToolCall", "wrap_call_one", "wrap_call_streaming", "wrap_dispatch_streaming", "wrap_tool_call"]

logger = logging.getLogger("axio_transport_anthropic.telemetry")

_CALL_KEY: Final = otel_context.create_key("axio.tool_call")
#: The calls of a streaming dispatch, for ``Tool.call_streaming`` (which is given no call id) to
#: find its own by name and arguments. Set inside axio's dispatch task only.
_BATCH: Final[ContextVar[list[ToolUseBlock] | None]] = ContextVar("axio_anthropic_tool_batch", default=None)

CallOne = Callable[["Agent", ToolUseBlock], Awaitable[ToolResultBlock]]
DispatchStreaming = Callable[["Agent", list[ToolUseBlock], int, "asyncio.Queue[Any]"], Awaitable[list[ToolResultBlock]]]
CallStreaming = Callable[..., AsyncGenerator[tuple[str, str], None]]
ToolCallable = Callable[..., Awaitable[Any]]


class ToolCall:
    """One ``execute_tool`` span and its measurements."""

    __slots__ = ("_ended", "_failure", "_label", "_span", "_started", "_telemetry", "capture", "context", "name")

    def __init__(self, telemetry: AgentTelemetry, name: str, call_id: str | None, arguments: Mapping[str, Any]) -> None:
        self._telemetry = telemetry
        self.name = name
        self._label = telemetry.series.tool_label(name) if telemetry.series is not None else name
        # What Tool.__call__ raised, put here by its wrapper: a cell in the context rather than
        # this object, which holds the context (a cycle only the collector would free).
        self._failure: list[BaseException | None] = [None]
        self._ended = False
        parent = otel_context.get_current()
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
        }
        if call_id:
            attributes["gen_ai.tool.call.id"] = call_id
        self._span = span = telemetry.tracer().start_span(
            f"execute_tool {name}", context=parent, kind=SpanKind.INTERNAL, attributes=attributes
        )
        self.capture = span.is_recording() and telemetry.capture_content
        if self.capture:
            span.set_attribute("gen_ai.tool.call.arguments", telemetry.dump(arguments))
        inside = trace.set_span_in_context(span, parent)
        self.context: Context = otel_context.set_value(_CALL_KEY, self._failure, inside)
        self._started = time.perf_counter()

    @property
    def failure(self) -> BaseException | None:
        return self._failure[0]

    def end(self, outcome: str, error: BaseException | None = None, result: Any = None) -> None:
        if self._ended:
            return
        self._ended = True
        self._failure[0] = None  # its traceback holds the tool's frames
        duration = time.perf_counter() - self._started
        try:
            kind = "cancelled" if outcome == "cancelled" else error_type(error) if outcome == "error" else None
            span = self._span
            if span.is_recording():
                if kind is not None:
                    span.set_attribute("error.type", kind)
                    description = "cancelled" if outcome == "cancelled" else _describe(error, result)
                    span.set_status(Status(StatusCode.ERROR, description))
                if self.capture and result is not None:
                    span.set_attribute("gen_ai.tool.call.result", self._telemetry.dump(result))
            span.end()
            telemetry = self._telemetry
            if telemetry.series is not None:
                telemetry.series.tool_ended(self._label, outcome, duration)
            attributes: dict[str, AttributeValue] = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": self._label,
            }
            if kind is not None:
                attributes["error.type"] = kind
            telemetry.otel().tool_duration.record(duration, attributes)
        except Exception:
            logger.warning("Could not record the end of a tool call", exc_info=True)

    def ended_by(self, raised: BaseException) -> None:
        self.end("cancelled" if isinstance(raised, (asyncio.CancelledError, GeneratorExit)) else "error", raised)


def _describe(error: BaseException | None, result: Any) -> str:
    if error is not None:
        return str(error) or type(error).__name__
    return result if isinstance(result, str) and result else "the tool reported an error"


def _start(telemetry: AgentTelemetry, name: str, call_id: str | None, arguments: Mapping[str, Any]) -> ToolCall | None:
    try:
        return ToolCall(telemetry, name, call_id, arguments)
    except Exception:
        logger.warning("Could not start an execute_tool span", exc_info=True)
        return None


def _result_text(result: ToolResultBlock) -> Any:
    content = result.content
    if isinstance(content, str):
        return content
    return "".join(block.text for block in content if isinstance(block, TextBlock))


def wrap_call_one(original: CallOne, telemetry: AgentTelemetry) -> CallOne:
    """``Agent._call_one(block)``: one non-streaming call, the coroutine of its own gather task."""

    async def _call_one(self: Agent, block: ToolUseBlock) -> ToolResultBlock:
        call = _start(telemetry, block.name, block.id, block.input)
        if call is None:
            return await original(self, block)
        token = otel_context.attach(call.context)  # inside the call's own task, detached before it ends
        try:
            result = await original(self, block)
        except BaseException as exc:
            call.ended_by(exc)
            raise
        finally:
            otel_context.detach(token)
        # axio turns a raised exception into an error result; the tool wrapper kept the exception.
        outcome = "error" if result.is_error else "ok"
        call.end(outcome, call.failure if result.is_error else None, _result_text(result))
        return result

    return _call_one


def wrap_tool_call(original: ToolCallable) -> ToolCallable:
    """``Tool.__call__``: keeps the exception a tool raised for its span (axio keeps only its text)."""

    async def __call__(self: Tool[Any], **kwargs: Any) -> Any:
        try:
            return await original(self, **kwargs)
        except Exception as exc:
            cell = otel_context.get_value(_CALL_KEY)
            if isinstance(cell, list):
                # HandlerError and GuardError wrap what the handler or guard raised.
                cell[0] = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
            raise

    return __call__


def wrap_dispatch_streaming(original: DispatchStreaming) -> DispatchStreaming:
    """``Agent._dispatch_tools_streaming``: its calls, for the streaming tools to find their ids."""

    async def _dispatch_tools_streaming(
        self: Agent, blocks: list[ToolUseBlock], iteration: int, queue: asyncio.Queue[Any]
    ) -> list[ToolResultBlock]:
        token = _BATCH.set(list(blocks))  # in axio's dispatch task, reset before it returns
        try:
            return await original(self, blocks, iteration, queue)
        finally:
            _BATCH.reset(token)

    return _dispatch_tools_streaming


def _claim(name: str, arguments: Mapping[str, Any]) -> str | None:
    """The id of the first unclaimed call of this tool with these arguments (tasks start in order)."""
    batch = _BATCH.get()
    if not batch:
        return None
    for at, block in enumerate(batch):
        if block.name == name and block.input == arguments:
            del batch[at]
            return block.id
    return None


def wrap_call_streaming(original: CallStreaming, telemetry: AgentTelemetry) -> CallStreaming:
    """``Tool.call_streaming``: a streaming call's span, current inside each of its steps only."""

    def call_streaming(self: Tool[Any], **kwargs: Any) -> AsyncGenerator[tuple[str, str], None]:
        call = _start(telemetry, self.name, _claim(self.name, kwargs), kwargs)
        chunks = original(self, **kwargs)
        return chunks if call is None else _traced_chunks(chunks, call)

    return call_streaming


async def _traced_chunks(
    chunks: AsyncGenerator[tuple[str, str], None], call: ToolCall
) -> AsyncGenerator[tuple[str, str], None]:
    pieces: list[str] = []
    try:
        while True:
            token = otel_context.attach(call.context)
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            finally:
                otel_context.detach(token)
            if call.capture:
                pieces.append(chunk[1])
            yield chunk
    except BaseException as exc:
        call.ended_by(exc)
        raise
    finally:
        await chunks.aclose()
    call.end("ok", result="".join(pieces) if pieces else None)
