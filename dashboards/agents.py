"""The "Agents" row: what ``AxioInstrumentor`` counts per agent run and per tool call (README "Agent traces").

Its series (``axio_anthropic_agent_*``) belong to runs, not to one model call: they carry no
``model`` (a run may switch models) nor provider label, so these panels follow the job and
instance variables only (``promql.RUN_FILTER``). With a model or provider chosen they still show
every run of the selected processes.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, timeseries

from dashboards import promql
from dashboards.common import NUMBER, SECONDS, add_row, target, timeseries_panel
from dashboards.promql import QUANTILES

TITLE = "Agents"
RUNS_PER_S = "count:runs/s"
CALLS_PER_S = "count:calls/s"
#: Every metric the row queries, for the tests' metric contract.
METRICS = (
    "agent_runs_total",
    "agent_run_duration_seconds_bucket",
    "agent_turns_bucket",
    "agent_turns_sum",
    "agent_turns_count",
    "agent_tool_calls_total",
    "agent_tool_duration_seconds_bucket",
)

_TRACES = (
    " Each run is one trace (invoke_agent → chat → POST, execute_tool): search Jaeger for "
    "gen_ai.operation.name=invoke_agent, or for error=true among them."
)


def sum_rate(metric: str, by: str = "", extra: str = "") -> str:
    return promql.sum_rate(metric, by, extra, filtered=promql.RUN_FILTER)


def quantile(q: float, histogram: str, by: str = "") -> str:
    return promql.quantile(q, histogram, by, filtered=promql.RUN_FILTER)


RUNS_BY_OUTCOME = sum_rate("agent_runs_total", "outcome")
MEAN_TURNS = f"{sum_rate('agent_turns_sum')} / {sum_rate('agent_turns_count')}"
TOOL_CALLS_BY_TOOL = sum_rate("agent_tool_calls_total", "tool")
TOOL_ERRORS_BY_TOOL = sum_rate("agent_tool_calls_total", "tool", 'outcome="error"')


def _quantiles(histogram: str, by: str = "", quantiles: tuple[float, ...] = QUANTILES) -> list[prometheus.Dataquery]:
    suffix = " {{" + by + "}}" if by else ""
    return [
        target(quantile(q, histogram, by), f"p{round(q * 100)}{suffix}", chr(ord("A") + i), exemplar=i == 0)
        for i, q in enumerate(quantiles)
    ]


def panels() -> list[timeseries.Panel]:
    return [
        timeseries_panel(
            "Agent runs by outcome",
            "Agent runs (Agent.run / run_stream) ending per second: ok, error (an Error event, or the run "
            "ended on an error), cancelled (the task cancelled, or the host left the stream before "
            "its end). Errors here and none in Requests by outcome: the runs fail outside the model calls "
            "(tools, hooks, the context store)." + _TRACES,
            RUNS_PER_S,
            [target(RUNS_BY_OUTCOME, "{{outcome}}")],
            width=8,
            stacked=True,
        ),
        timeseries_panel(
            "Agent run duration p50 / p95 / p99",
            "A whole run, first step to its end: every model turn, the tools between them, retries and "
            "backoff included (cancelled runs left out). Compare with Request duration: the gap is tool time "
            "and turns per run." + _TRACES,
            SECONDS,
            _quantiles("agent_run_duration_seconds"),
            width=8,
        ),
        timeseries_panel(
            "Turns per run",
            "Model turns per agent run: the mean, and the p95 (interpolated within the buckets 1, 2, 3, …: "
            "1.95 means at most 2). Climbing: the model calls tools more often before it answers, or loops "
            "until max_iterations.",
            NUMBER,
            [
                target(MEAN_TURNS, "mean"),
                target(quantile(0.95, "agent_turns"), "p95", "B"),
            ],
            width=8,
        ),
        timeseries_panel(
            "Tool calls by tool",
            "Tool calls the agents ran per second, by tool (at most 50 names per process, later ones as "
            "_OTHER). Each is an execute_tool span in its run's trace.",
            CALLS_PER_S,
            [target(TOOL_CALLS_BY_TOOL, "{{tool}}")],
            width=8,
            stacked=True,
        ),
        timeseries_panel(
            "Tool errors by tool",
            "Tool calls that raised (or returned an error result) per second, by tool. The model sees the "
            "error and usually tries again, so each costs a turn: the failing execute_tool span carries the "
            "error type and message.",
            CALLS_PER_S,
            [target(TOOL_ERRORS_BY_TOOL, "{{tool}}")],
            width=8,
            stacked=True,
        ),
        timeseries_panel(
            "Tool duration p95 by tool",
            "95th percentile of a tool call, by tool (cancelled calls left out). A slow tool holds the whole "
            "run: its turn waits for every tool call of the batch.",
            SECONDS,
            _quantiles("agent_tool_duration_seconds", "tool", (0.95,)),
            width=8,
        ),
    ]


def with_row(dashboard: db.Dashboard) -> db.Dashboard:
    """``dashboard`` with the "Agents" row: runs, their duration and turns; tool calls, errors, duration."""
    return add_row(dashboard, db.Row(TITLE), panels())
