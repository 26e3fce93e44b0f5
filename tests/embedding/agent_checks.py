"""The matrix's checks of instrumented agent runs: each run has one agent span, current at each of
its ``stream()`` calls (never for the host) and the parent of its tool spans, shared with no other
run, ended once with the outcome the host gave the run, and counted so."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from opentelemetry.trace import SpanContext, StatusCode

from .agent_runs import OUTCOME_OF, runs_by_outcome
from .host import AgentRecord, Host

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from .checks import Problems
    from .recorder import Recorder

__all__ = ["agent_runs_settled", "check_agent_runs"]


def _grown(host: Host) -> dict[str, float]:
    now = runs_by_outcome()
    return {outcome: now[outcome] - host.runs_before.get(outcome, 0.0) for outcome in now}


def agent_runs_settled(host: Host) -> bool:
    """Every instrumented run has been counted (a run left with ``break`` ends when the loop's
    finalizer closes it, some turns after the scenario)."""
    return not host.runs_before or sum(_grown(host).values()) >= len(host.agent_runs)


def check_agent_runs(problems: Problems, host: Host, recorder: Recorder | None) -> None:
    if not host.agent_runs:
        return
    want = Counter(OUTCOME_OF[run.mode] for run in host.agent_runs)
    for outcome, grown in _grown(host).items():
        if grown != want[outcome]:
            problems.add("agent runs counted under the wrong outcome", f"{outcome}: {grown:g}, not {want[outcome]}")
    if recorder is None:
        for run in host.agent_runs:
            if any(seen != run.host for seen in (*run.streams, *run.tools)):
                problems.add("with no tracer recording, an agent run changed what is current", run.mode)
        return
    exported = {span.context.span_id: span for span in recorder.spans() if span.context is not None}
    shared: Counter[tuple[int, int]] = Counter()
    for run in host.agent_runs:
        seen = {_ids(context) for context in run.streams}
        if len(seen) != 1:
            problems.add("an agent run's model calls saw other than one current span", f"{run.mode}: {len(seen)}")
            continue
        agent = run.streams[0]
        shared[_ids(agent)] += 1
        _check_run(problems, run, agent, exported, recorder)
    if any(count > 1 for count in shared.values()):
        problems.add("two agent runs had the same agent span current")
    _check_kinds(problems, exported, recorder)


def _ids(context: SpanContext) -> tuple[int, int]:
    return context.trace_id, context.span_id  # a SpanContext's trace state makes it unhashable


def _check_run(
    problems: Problems, run: AgentRecord, agent: SpanContext, exported: dict[int, ReadableSpan], recorder: Recorder
) -> None:
    from .recorder import TOOL

    if agent == run.host or not agent.is_valid:
        problems.add("the agent span was not current at stream()", run.mode)
        return
    if run.host.is_valid and agent.trace_id != run.host.trace_id:
        problems.add("an agent span is in another trace than the host span its run started under", run.mode)
    if not agent.trace_flags.sampled:
        return  # dropped with its trace, as are its children
    span = exported.get(agent.span_id)
    if span is None:
        problems.add("a sampled agent span was not exported", run.mode)
        return
    parent = span.parent.span_id if span.parent is not None else None
    if parent != (run.host.span_id if run.host.is_valid else None):
        problems.add("an agent span's parent is not the host span current where its run started", run.mode)
    _check_status(problems, run.mode, span, "agent")
    for tool in run.tools:
        found = exported.get(tool.span_id)
        if found is None or recorder.kinds.get(tool.span_id) != TOOL:
            problems.add("the span current inside a tool call is not an exported execute_tool span", run.mode)
        elif found.parent is None or found.parent.span_id != agent.span_id:
            problems.add("an execute_tool span is not a child of its own run's agent span", run.mode)
        elif run.mode == "cancel":
            _check_status(problems, run.mode, found, "tool")


def _check_status(problems: Problems, mode: str, span: ReadableSpan, what: str) -> None:
    code = span.status.status_code
    cancelled = code is StatusCode.ERROR and (span.attributes or {}).get("error.type") == "cancelled"
    if cancelled if mode == "whole" else not cancelled:
        problems.add(f"a {what} span's status is not what its run's end says", f"{mode}: {code.name}")
    if mode == "whole" and code is not StatusCode.UNSET:
        problems.add(f"a whole run's {what} span is not successful", code.name)


def _check_kinds(problems: Problems, exported: dict[int, ReadableSpan], recorder: Recorder) -> None:
    from .recorder import AGENT, HOST, TOOL

    for span_id, span in exported.items():
        kind = recorder.kinds.get(span_id)
        parent = recorder.kinds.get(span.parent.span_id) if span.parent is not None else None
        if kind == TOOL and parent != AGENT:
            problems.add("an execute_tool span is not under an agent span", span.name)
        elif kind == AGENT and span.parent is not None and parent != HOST:
            problems.add("an agent span is under a request, attempt or tool span", span.name)
