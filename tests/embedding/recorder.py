"""The ``recording`` environment's SDK tracer provider: a ratio sampler (so some traces are
dropped), a span ledger and an in-memory exporter. Imported only there: the SDK may be absent."""

from __future__ import annotations

import random
from collections import Counter
from typing import Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

__all__ = ["AGENT", "CHAT", "HOST", "POST", "TOOL", "Recorder", "kind_of"]

HOST: Final = 0
CHAT: Final = 1
POST: Final = 2
AGENT: Final = 3
TOOL: Final = 4


def kind_of(name: str) -> int:
    if name.startswith("chat "):
        return CHAT
    if name.startswith("invoke_agent"):
        return AGENT
    if name.startswith("execute_tool "):
        return TOOL
    return POST if name == "POST" else HOST


class SeededIds(IdGenerator):
    """Trace and span ids from a seeded generator: which traces the ratio sampler drops (it
    decides on the trace id) is then the same from run to run."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1


class Recorder(SpanProcessor):
    """Every recorded span's start and ends, and the spans exported since the last ``reset``.

    Only recorded (sampled) spans reach a processor: a span id the ledger never saw started
    belongs to a dropped span. ``kinds`` and ``tokens`` outlive ``reset`` (ints only, so they add
    no objects for the collector to count): a parent or an exemplar may point at an earlier span."""

    def __init__(self, ratio: float) -> None:
        sampler = ParentBased(TraceIdRatioBased(ratio))
        self.provider = TracerProvider(sampler=sampler, id_generator=SeededIds(0), shutdown_on_exit=False)
        self.exporter = InMemorySpanExporter()
        self.provider.add_span_processor(self)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.started: dict[int, str] = {}
        self.ended: Counter[int] = Counter()
        self.kinds: dict[int, int] = {}
        #: Request span id -> (trace id, output tokens it reported).
        self.tokens: dict[int, tuple[int, int]] = {}
        #: Request spans ended since the last reset, by ``gen_ai.response.id``.
        self.by_response: dict[str, ReadableSpan] = {}

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        span_id = span.get_span_context().span_id
        self.started[span_id] = span.name
        self.kinds[span_id] = kind_of(span.name)

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.ended[span.context.span_id] += 1
        if kind_of(span.name) != CHAT:
            return
        attributes = span.attributes or {}
        response_id = attributes.get("gen_ai.response.id")
        if isinstance(response_id, str):
            self.by_response[response_id] = span
        tokens = attributes.get("gen_ai.usage.output_tokens")
        self.tokens[span.context.span_id] = (span.context.trace_id, tokens if isinstance(tokens, int) else -1)

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def open_spans(self) -> list[str]:
        return [name for span_id, name in self.started.items() if not self.ended[span_id] and kind_of(name) != HOST]

    def ended_twice(self) -> list[str]:
        return [self.started.get(span_id, "?") for span_id, count in self.ended.items() if count > 1]

    def reset(self) -> None:
        self.exporter.clear()
        self.started.clear()
        self.ended.clear()
        self.by_response.clear()
