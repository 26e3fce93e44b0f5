"""The end-of-run summary as a rich table; every count with thousands separators."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text

from ..providers import located
from .summary import Latency, Summary

__all__ = ["summary_table"]


def summary_table(summary: Summary) -> Table:
    ctx = summary.context
    where = located(ctx.provider, "built-in simulator" if ctx.simulator else ctx.target, ctx.simulator)
    profile = f", profile {ctx.profile}" if ctx.profile else ""
    title = f"load: {ctx.model} via {where}{profile}, concurrency {ctx.concurrency:,}"
    table = Table(
        title=title,
        caption=_caption(summary),
        show_header=False,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column(style="bold")
    table.add_column()
    wall = f"{ctx.wall_seconds:,.2f} s"
    table.add_row("wall time", Text(f"{wall} (interrupted: partial)", style="yellow") if ctx.interrupted else wall)
    runs = ctx.runs
    table.add_row(
        "agent runs",
        _pairs({"completed": runs.completed, "failed": runs.failed, "cancelled": runs.cancelled}, bad=("failed",)),
    )
    table.add_section()
    requests = _pairs(summary.requests, bad=("error",))
    requests.append(f"  (total {summary.requests_total:,}, {summary.per_second(summary.requests_total):,.1f}/s)")
    table.add_row("requests", requests)
    table.add_row("HTTP attempts", _pairs(summary.attempts) if summary.attempts else Text("none", style="dim"))
    table.add_row("request duration", _latency(summary.duration))
    table.add_row("time to first token", _latency(summary.ttft))
    table.add_section()
    table.add_row("retries", _pairs(summary.retries, style="yellow") if summary.retries else Text("none", style="dim"))
    table.add_row("errors", _pairs(summary.errors, style="red") if summary.errors else Text("none", style="dim"))
    table.add_section()
    tokens = _pairs(summary.tokens)
    tokens.append(f"  (total {summary.tokens_total:,}, {summary.per_second(summary.tokens_total):,.0f}/s)")
    table.add_row("tokens", tokens)
    ratio = summary.cache_hit_ratio
    table.add_row(
        "cache hit ratio",
        "n/a" if ratio is None else f"{ratio:.1%} ({summary.cache_hits:,} hits, {summary.cache_misses:,} misses)",
    )
    table.add_row("cost", f"${summary.cost_usd:,.4f}")
    if ctx.metrics_url:
        table.add_row("metrics", ctx.metrics_url)
    return table


def _caption(summary: Summary) -> str:
    measured = f"latencies of the {summary.duration.count:,} requests that succeeded, as measured"
    if summary.latency_sample is not None:
        measured += f" (quantiles from a uniform sample of {summary.latency_sample:,})"
    return measured


def _pairs(counts: Mapping[str, int], *, bad: tuple[str, ...] = (), style: str = "") -> Text:
    text = Text()
    for index, (key, value) in enumerate(counts.items()):
        if index:
            text.append(" · ", style="dim")
        text.append(f"{key} ", style="dim")
        text.append(f"{value:,}", style=("red" if key in bad else style) if value else "")
    return text


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1:
        return f"{value:,.2f} s"
    ms = value * 1000
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.3g} ms"


def _latency(latency: Latency) -> Text:
    if latency.count == 0:
        return Text("no data", style="dim")
    return Text.assemble(
        ("p50 ", "dim"),
        _seconds(latency.p50),
        (" · p95 ", "dim"),
        _seconds(latency.p95),
        (" · p99 ", "dim"),
        _seconds(latency.p99),
        (" · mean ", "dim"),
        _seconds(latency.mean),
        (f" (n={latency.count:,})", "dim"),
    )
