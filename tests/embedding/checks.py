"""The matrix's assertions. Each collects what it finds into ``Problems`` (a count and the first
few examples per check), so one run shows every way a scenario went wrong."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanContext
from prometheus_client import REGISTRY

from axio_transport_anthropic.telemetry.instruments import OUTPUT_TOKEN_BUCKETS

from .agent_checks import check_agent_runs
from .host import Call, Host, LogCapture

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from .recorder import Recorder

__all__ = ["ExemplarWatch", "Problems", "check_exemplars", "check_scenario", "in_flight", "settle"]

_EXAMPLES = 3


class Problems:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, check: str, example: str = "", count: int = 1) -> None:
        self.counts[check] += count
        kept = self.examples.setdefault(check, [])
        if example and len(kept) < _EXAMPLES:
            kept.append(example if count == 1 else f"{example} ({count}x)")

    def __bool__(self) -> bool:
        return bool(self.counts)

    def lines(self) -> list[str]:
        return [
            f"{check} ({count}x){': ' if self.examples[check] else ''}{'; '.join(self.examples[check])}"
            for check, count in self.counts.items()
        ]


def _hex(context: SpanContext) -> tuple[str, str]:
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def in_flight(model: str) -> float:
    return REGISTRY.get_sample_value("axio_anthropic_in_flight_requests", {"model": model}) or 0.0


async def settle(done: Callable[[], bool], within: float = 5.0) -> None:
    """Give abandoned streams (closed by the loop's finalizer) time to end."""
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    # Polled: the loop finalizing an abandoned stream signals nothing to wait on.
    while not done() and loop.time() < until:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def check_scenario(
    problems: Problems, host: Host, logs: LogCapture, model: str, writing: int, recorder: Recorder | None
) -> None:
    """``writing``: bodies the simulators were still writing once the scenario had settled."""
    if (flying := in_flight(model)) != 0:
        problems.add("axio_anthropic_in_flight_requests not back to 0", f"{flying:g}")
    if writing:
        problems.add("the simulator still writes bodies nobody reads (a connection was kept)", str(writing))
    for (what, where), count in host.anomalies.items():
        problems.add(what, where, count)
    for line in logs.problems:
        problems.add("something logged a warning or error", line)
    whole = {call.response_id: call for call in host.calls if call.whole and call.response_id}
    if len(logs.ends) != len(whole):
        problems.add("anthropic.request.end lines != streams read whole", f"{len(logs.ends)} vs {len(whole)}")
    for response_id, _, _ in logs.ends:
        if response_id not in whole:
            problems.add("an anthropic.request.end line for no stream the host read whole", str(response_id))
    if recorder is not None:
        _check_spans(problems, host, recorder)
        _check_log_ids(problems, whole, logs, recorder)
    check_agent_runs(problems, host, recorder)


def _check_spans(problems: Problems, host: Host, recorder: Recorder) -> None:
    from .recorder import CHAT, POST

    if recorder.open_spans():
        problems.add("request or attempt spans never ended", ", ".join(recorder.open_spans()[:3]))
    if recorder.ended_twice():
        problems.add("spans ended more than once", ", ".join(recorder.ended_twice()[:3]))
    exported = recorder.spans()
    for span in exported:
        assert span.context is not None
        kind, parent = recorder.kinds.get(span.context.span_id), span.parent
        parent_kind = recorder.kinds.get(parent.span_id) if parent is not None else None
        if kind == POST:
            if parent is None or parent_kind != CHAT or parent.trace_id != span.context.trace_id:
                problems.add("an attempt span is not the child of a request span", f"parent kind {parent_kind}")
        elif parent is not None and parent_kind is None:
            problems.add("a span was exported whose parent was dropped (unsampled)", span.name)
        elif parent_kind in (CHAT, POST):
            what = "a request span" if kind == CHAT else "a host span"
            problems.add(f"{what} is the child of a request or attempt span", span.name)
    _check_attempts_are_their_own(problems, exported, recorder)
    for call in host.calls:
        _check_request_parent(problems, call, recorder)
    by_id = {span.context.span_id: span for span in exported if span.context is not None}
    for opened in host.spans:
        found = by_id.get(opened.span.span_id)
        if found is None:
            continue  # dropped with its trace
        want = opened.expected_parent.span_id if opened.expected_parent.is_valid else None
        got = found.parent.span_id if found.parent is not None else None
        if got != want:
            problems.add(
                "a span the host opened while consuming a stream is not a child of the host's span",
                f"{found.name} under a {_kind_name(recorder.kinds.get(got or 0))} span",
            )


def _check_attempts_are_their_own(problems: Problems, exported: Sequence[ReadableSpan], recorder: Recorder) -> None:
    """The attempt that got a request's answer is a child of that request's span: both carry the
    server's request id (no scenario retries, so the request span's is its only attempt's)."""
    from .recorder import CHAT, POST

    children: dict[int, set[object]] = {}
    for span in exported:
        if recorder.kinds.get(span.context.span_id if span.context else 0) == POST and span.parent is not None:
            children.setdefault(span.parent.span_id, set()).add((span.attributes or {}).get("anthropic.request_id"))
    for span in exported:
        if span.context is None or recorder.kinds.get(span.context.span_id) != CHAT:
            continue
        request_id = (span.attributes or {}).get("anthropic.request_id")
        if request_id is not None and request_id not in children.get(span.context.span_id, set()):
            problems.add("a request span's attempt is not its child", str(request_id))


def _kind_name(kind: int | None) -> str:
    return {None: "dropped or missing", 0: "host", 1: "request", 2: "attempt", 3: "agent", 4: "tool"}[kind]


def _check_request_parent(problems: Problems, call: Call, recorder: Recorder) -> None:
    if call.response_id is None:
        return  # cancelled before the response began: no id to find its span by
    span = recorder.by_response.get(call.response_id)
    parent = call.parent
    if parent.is_valid and parent.trace_flags.sampled:
        if span is None:
            problems.add("a request under a sampled host span was not exported", call.label)
        elif span.parent is None or span.parent.span_id != parent.span_id:
            problems.add("a request span's parent is not the host span current at stream()", call.label)
    elif parent.is_valid:
        if span is not None:
            problems.add("a request under a dropped host span was exported (an orphan root)", call.label)
    elif span is not None and span.parent is not None:
        problems.add("a request made under no host span has a parent", call.label)


def _check_log_ids(problems: Problems, whole: dict[str, Call], logs: LogCapture, recorder: Recorder) -> None:
    for response_id, trace_id, span_id in logs.ends:
        span = recorder.by_response.get(str(response_id))
        if span is not None and span.context is not None:
            if (trace_id, span_id) != _hex(span.context):
                problems.add("a log line does not carry its own request span's ids", str(response_id))
            continue
        call = whole.get(response_id or "")
        # Dropped: its span is nowhere, but it belongs to the trace of the host span it was made in.
        if call is not None and call.parent.is_valid:
            host_trace, host_span = _hex(call.parent)
            if trace_id != host_trace or span_id == host_span:
                problems.add("a log line of a dropped request carries another span's ids", str(response_id))


def _exemplars(model: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for family in REGISTRY.collect():
        if family.name != "axio_anthropic_output_tokens":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("model") == model and sample.exemplar:
                found[sample.labels["le"]] = sample.exemplar
    return found


def _bucket(tokens: int) -> str:
    """The ``le`` label of the bucket ``tokens`` falls in, as prometheus-client writes it."""
    bound = next((b for b in OUTPUT_TOKEN_BUCKETS if tokens <= b), None)
    return "+Inf" if bound is None else repr(float(bound))


def check_exemplars(problems: Problems, model: str, recorder: Recorder | None) -> None:
    """Every output-tokens exemplar points at a request span that reported that many tokens."""
    for le, exemplar in _exemplars(model).items():
        if recorder is None:
            problems.add("an exemplar with no tracing configured (it points at nothing)", f"le={le}")
            continue
        span_id = int(exemplar.labels.get("span_id", "0"), 16)
        trace_id = int(exemplar.labels.get("trace_id", "0"), 16)
        found = recorder.tokens.get(span_id)
        if found is None:
            problems.add("an exemplar points at no exported request span", f"le={le} {recorder.kinds.get(span_id)}")
        elif found != (trace_id, int(exemplar.value)):
            problems.add(
                "an exemplar's value is not its span's output tokens", f"le={le} {exemplar.value:g} vs {found[1]}"
            )


class ExemplarWatch:
    """For requests made one at a time: the exemplar of the bucket each lands in is that
    request's own span (or, when its trace was dropped, no bucket's exemplar changed)."""

    def __init__(self, problems: Problems, model: str, recorder: Recorder) -> None:
        self._problems = problems
        self._model = model
        self._recorder = recorder
        self._before = _exemplars(model)

    def __call__(self, call: Call) -> None:
        now = _exemplars(self._model)
        before, self._before = self._before, now
        if not call.whole or call.output_tokens is None or call.response_id is None:
            return
        span = self._recorder.by_response.get(call.response_id)
        le = _bucket(call.output_tokens)
        if span is None or span.context is None:
            if now != before:
                self._problems.add("an unsampled request changed an exemplar", call.label)
            return
        got = now.get(le)
        want = _hex(span.context)
        if got is None or (got.labels.get("trace_id"), got.labels.get("span_id")) != want:
            self._problems.add("the latest exemplar is not the latest request's span", f"{call.label} le={le}")
        elif int(got.value) != call.output_tokens:
            self._problems.add("the latest exemplar's value is not the latest request's output tokens", call.label)
        if {k: v for k, v in now.items() if k != le} != {k: v for k, v in before.items() if k != le}:
            self._problems.add("a request changed the exemplar of a bucket it does not fall in", call.label)
