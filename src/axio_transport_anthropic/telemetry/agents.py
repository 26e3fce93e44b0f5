"""``AxioInstrumentor``: one trace per axio agent run, for any axio transport.

It follows opentelemetry-instrumentation's ``BaseInstrumentor`` convention (a singleton with
idempotent ``instrument()`` / ``uninstrument()``, ``tracer_provider=`` and ``meter_provider=``)
without depending on that package. axio's hooks run inside a run's steps (``before_turn_hooks``) or
before a batch of calls (``before_tools_hooks``): none surrounds a step, a single call or the run's
end, and they are per instance. So the instrumentor wraps, on the classes:

- ``Agent.run_stream`` (``run`` goes through it): the ``invoke_agent`` span (``agent_run.py``),
  its steps under the run's context in an ``AgentStream`` subclass (``agent_steps.py``);
- ``Agent._call_one``, ``Agent._dispatch_tools_streaming``, ``Tool.__call__`` and
  ``Tool.call_streaming``: the ``execute_tool`` spans (``tool_spans.py``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import AsyncGenerator, Collection
from typing import TYPE_CHECKING, Any, ClassVar, Final

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider
    from prometheus_client import CollectorRegistry

    from .agent_telemetry import AgentNamer

__all__ = ["AxioInstrumentor"]

logger = logging.getLogger("axio_transport_anthropic.telemetry")

#: Passed by ``opentelemetry-instrument`` (auto-instrumentation); nothing to do with them here.
_BASE_OPTIONS: Final = frozenset({"skip_dep_check", "raise_exception_on_conflict"})
_LOCK: Final = threading.Lock()


class AxioInstrumentor:
    """Traces and metrics for every axio ``Agent`` run in the process.

    ``AxioInstrumentor().instrument()`` turns it on; ``uninstrument()`` puts axio back as it was.
    Runs under way when either is called finish as they began. Options (all optional):

    - ``tracer_provider``, ``meter_provider``: default the global ones, followed as they change;
    - ``registry``: where the ``axio_anthropic_agent_*`` series go (prometheus-client's ``REGISTRY``);
      ``metrics=False``: no Prometheus series;
    - ``capture_content``: prompts, answers, tool arguments and results on spans; default
      ``$OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``; ``content_max_chars``: truncation;
    - ``agent_name``: ``agent -> name or None``; default the ``agent`` call label where the run starts.
    """

    _instance: ClassVar[AxioInstrumentor | None] = None
    _is_instrumented_by_opentelemetry: bool = False
    _patched: list[tuple[type, str, Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> AxioInstrumentor:
        if cls._instance is None:
            instance = object.__new__(cls)
            instance._patched = []
            cls._instance = instance
        return cls._instance

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        return self._is_instrumented_by_opentelemetry

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("axio >= 0.12.2",)

    def instrument(self, **kwargs: Any) -> None:
        """Wrap axio's ``Agent`` and ``Tool``; a second call warns and changes nothing."""
        with _LOCK:
            if self._is_instrumented_by_opentelemetry:
                logger.warning("Attempting to instrument while already instrumented")
                return
            try:
                self._instrument(**{key: value for key, value in kwargs.items() if key not in _BASE_OPTIONS})
            except BaseException:
                self._restore()  # all or nothing: a bad option leaves axio as it was
                raise
            self._is_instrumented_by_opentelemetry = True

    def uninstrument(self, **kwargs: Any) -> None:
        """Put back what ``instrument()`` wrapped; when not instrumented, warns and does nothing."""
        with _LOCK:
            if not self._is_instrumented_by_opentelemetry:
                logger.warning("Attempting to uninstrument while already uninstrumented")
                return
            self._restore()
            self._is_instrumented_by_opentelemetry = False

    def _restore(self) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()

    def _instrument(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        registry: CollectorRegistry | None = None,
        metrics: bool = True,
        capture_content: bool | None = None,
        content_max_chars: int = 8192,
        agent_name: AgentNamer | None = None,
    ) -> None:
        # Imported here: the telemetry package must import without axio's agent module.
        from axio.agent import Agent
        from axio.stream import AgentStream
        from axio.tool import Tool
        from prometheus_client import REGISTRY

        from . import _capture_from_env
        from .agent_metrics import agent_series
        from .agent_run import AgentRun
        from .agent_steps import TracedStream
        from .agent_telemetry import AgentTelemetry, call_label_agent
        from .tool_spans import wrap_call_one, wrap_call_streaming, wrap_dispatch_streaming, wrap_tool_call

        telemetry = AgentTelemetry(
            series=agent_series(registry if registry is not None else REGISTRY) if metrics else None,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            capture_content=_capture_from_env() if capture_content is None else capture_content,
            content_max_chars=content_max_chars,
            agent_name=agent_name or call_label_agent,
        )
        original_run_stream = Agent.__dict__["run_stream"]

        @functools.wraps(original_run_stream)
        def run_stream(self: Agent, user_message: str, context: Any) -> AgentStream:
            stream: AgentStream = original_run_stream(self, user_message, context)
            try:
                run = AgentRun(telemetry, self, user_message, context)
                # axio's own generator, when found where axio 0.12 keeps it, in a TracedStream of
                # its own; else the whole stream (a stream around the stream: a step more per event).
                return TracedStream(_fresh_generator(stream, AgentStream) or stream, run)
            except Exception:  # never cost the host its run
                logger.warning("Could not trace an agent run", exc_info=True)
                return stream

        self._patch(Agent, "run_stream", run_stream)
        self._patch(Agent, "_call_one", wrap_call_one(Agent.__dict__["_call_one"], telemetry))
        self._patch(
            Agent, "_dispatch_tools_streaming", wrap_dispatch_streaming(Agent.__dict__["_dispatch_tools_streaming"])
        )
        self._patch(Tool, "__call__", wrap_tool_call(Tool.__dict__["__call__"]))
        self._patch(Tool, "call_streaming", wrap_call_streaming(Tool.__dict__["call_streaming"], telemetry))

    def _patch(self, owner: type, name: str, wrapper: Any) -> None:
        original = owner.__dict__[name]
        functools.update_wrapper(wrapper, original)
        self._patched.append((owner, name, original))
        setattr(owner, name, wrapper)


def _fresh_generator(stream: object, agent_stream: type) -> AsyncGenerator[Any, Any] | None:
    """The not yet started async generator an ``AgentStream`` that ``run_stream`` just made
    delegates to (its ``_generator``), or ``None`` when the stream is of another type or keeps
    something else there: then the caller wraps the whole stream instead."""
    if type(stream) is not agent_stream:
        return None
    inner: Any = getattr(stream, "__dict__", {}).get("_generator")
    if not inspect.isasyncgen(inner) or inspect.getasyncgenstate(inner) != inspect.AGEN_CREATED:
        return None
    return inner
