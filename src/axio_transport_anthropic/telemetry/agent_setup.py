"""``agents_traced()``: ``AxioInstrumentor`` on while a command's agents run, with the telemetry
``setup()`` gave it, so ``axio-anthropic demo`` and ``load`` show one trace per agent run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from .agents import AxioInstrumentor

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from .setup import TelemetryHandle

__all__ = ["agents_traced"]

logger = logging.getLogger("axio_transport_anthropic.telemetry")

_LOCK: Final = threading.Lock()
#: Blocks under way that turned the instrumentor on (it is one per process): the last one out
#: turns it off. Zero while the host's own ``instrument()`` is in charge.
_holders = 0


@contextmanager
def agents_traced(handle: TelemetryHandle | None, registry: CollectorRegistry | None = None) -> Iterator[bool]:
    """Agent runs traced for the block when telemetry is set up (``handle``): spans to its tracer
    provider (the global one when it set none), OTLP metrics to its meter provider, the
    ``axio_anthropic_agent_*`` series to ``registry`` (default its registry). An instrumentor the
    host turned on itself is left as it is. Blocks that overlap share the first one's settings, and
    the last to end turns it off. Yields whether runs are traced."""
    global _holders
    instrumentor = AxioInstrumentor()
    if handle is None:
        yield instrumentor.is_instrumented_by_opentelemetry
        return
    with _LOCK:
        ours = _holders > 0 or not instrumentor.is_instrumented_by_opentelemetry
        if ours and _holders == 0:
            try:
                instrumentor.instrument(
                    tracer_provider=handle.tracer_provider,
                    meter_provider=handle.meter_provider,
                    registry=registry if registry is not None else handle.registry,
                )
            except Exception:  # the command runs untraced rather than not at all
                logger.warning("Could not instrument axio's agents", exc_info=True)
                ours = False
        if ours:
            _holders += 1
    try:
        yield instrumentor.is_instrumented_by_opentelemetry
    finally:
        if ours:
            with _LOCK:
                _holders -= 1
                if _holders == 0 and instrumentor.is_instrumented_by_opentelemetry:
                    instrumentor.uninstrument()
