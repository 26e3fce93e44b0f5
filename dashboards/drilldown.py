"""Drill-down: one repeated row per selected model, then one per selected instance.

Latency targets ask for exemplars. Clicking one opens its trace only if the Prometheus datasource maps
the exemplar label `trace_id` to the Jaeger datasource (`jsonData.exemplarTraceIdDestinations`, set in
datasource provisioning, not here).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries

from dashboards.common import (
    EVENTS_PER_S,
    NUMBER,
    RATIO,
    REQUESTS_PER_S,
    RETRIES_PER_S,
    SECONDS,
    TOKENS,
    TOKENS_PER_S,
    USD,
    add_row,
    new_dashboard,
    quantile_targets,
    target,
    timeseries_panel,
)
from dashboards.links import ROW_MODEL, PanelLinks
from dashboards.promql import quantile, sel, sum_rate

UID = "axio-anthropic-drilldown"

TRACE_HELP = " Exemplar dots link to the call's trace in Jaeger."
RETRY_ALERTS = ("AxioAnthropicRateLimited", "AxioAnthropicOverloaded")


def _of_model(*alerts: str) -> PanelLinks:
    """A panel of the row's one model: its trace link searches that model."""
    return PanelLinks(alerts=alerts, model=ROW_MODEL)


def _model_row() -> list[timeseries.Panel]:
    headroom = f"min by (resource) ({sel('ratelimit_remaining')} / {sel('ratelimit_limit')})"
    return [
        timeseries_panel(
            "Requests by outcome · $model",
            "Calls of this model finishing per second by outcome. Errors here but not for other models: check the "
            "model id, your access to it and its rate limits.",
            REQUESTS_PER_S,
            [target(sum_rate("requests_total", "outcome"), "{{outcome}}")],
            width=8,
            links=_of_model("AxioAnthropicHighErrorRatio"),
            stacked=True,
        ),
        timeseries_panel(
            "Request duration · $model",
            "Whole-call duration quantiles for this model, retries included. A p99 far above p95 means a few calls "
            "retried or streamed very long answers: compare with retries and output tokens." + TRACE_HELP,
            SECONDS,
            quantile_targets("request_duration_seconds"),
            width=8,
            links=_of_model(),
        ),
        timeseries_panel(
            "Time to first token · $model",
            "Time until the first content reached the caller. High: long prompts, thinking, or a cold cache; "
            "check the cache hit ratio on the Overview." + TRACE_HELP,
            SECONDS,
            quantile_targets("time_to_first_token_seconds"),
            width=8,
            links=_of_model("AxioAnthropicTTFTBudgetBurnFast", "AxioAnthropicTTFTBudgetBurnSlow"),
        ),
        timeseries_panel(
            "Time per output token · $model",
            "Generation speed after the first token. Rising for one model while the others are steady: Anthropic "
            "is loaded; consider another model for latency-sensitive calls." + TRACE_HELP,
            SECONDS,
            quantile_targets("time_per_output_token_seconds", quantiles=(0.5, 0.95)),
            width=8,
            links=_of_model(),
        ),
        timeseries_panel(
            "Output tokens per answer · $model",
            "Output tokens per completed answer. Answers pinned at max_tokens (see stop reasons) are cut off: raise "
            "max_tokens or ask for shorter answers.",
            TOKENS,
            quantile_targets("output_tokens", quantiles=(0.5, 0.95)),
            width=8,
            links=_of_model(),
        ),
        timeseries_panel(
            "Tokens per second by type · $model",
            "Billed tokens per second of this model by type; they add up. cache_creation ≫ cache_read: the prompt "
            "prefix is written but not reused.",
            TOKENS_PER_S,
            [target(sum_rate("tokens_total", "type"), "{{type}}")],
            width=8,
            links=_of_model(),
            stacked=True,
        ),
        timeseries_panel(
            "Stop reasons · $model",
            "Responses per second by Anthropic's stop reason. Many max_tokens: answers are truncated, raise "
            "max_tokens; refusal: review the prompt; tool_use is normal for agents.",
            REQUESTS_PER_S,
            [target(sum_rate("stop_reasons_total", "reason"), "{{reason}}")],
            width=8,
            links=_of_model(),
            stacked=True,
        ),
        timeseries_panel(
            "Retries and errors · $model",
            "Retries per second by reason and failed calls per second by error type for this model. Retries "
            "without errors: the retry policy copes; errors too: lower concurrency (429) or fall back to another "
            "model (529).",
            EVENTS_PER_S,
            [
                target(sum_rate("retries_total", "reason"), "retry {{reason}}"),
                target(sum_rate("errors_total", "type"), "error {{type}}", "B"),
            ],
            width=8,
            links=_of_model(*RETRY_ALERTS, "AxioAnthropicHighErrorRatio"),
        ),
        timeseries_panel(
            "Cost per hour · $model",
            "List-price spend rate of this model in USD per hour. Too high: cap max_tokens, cache the prompt "
            "prefix, or route simple calls to a smaller model.",
            USD,
            [target(f"{sum_rate('cost_usd_total', 'model')} * 3600", "{{model}}")],
            width=8,
            links=_of_model("AxioAnthropicCostSpike", "AxioAnthropicCostHigh"),
        ),
        timeseries_panel(
            "Rate-limit headroom · $model",
            "remaining / limit per resource from this model's latest response. Near 0: the next calls get 429s; "
            "lower concurrency or ask Anthropic for a higher tier.",
            RATIO,
            [target(headroom, "{{resource}}")],
            width=8,
            links=_of_model("AxioAnthropicRateLimitHeadroomLow"),
            max_value=1,
        ),
        timeseries_panel(
            "In-flight requests · $model",
            "Calls of this model under way. Stuck above 0 with no traffic: streams hang, check the timeouts.",
            NUMBER,
            [target(f"sum by (model) ({sel('in_flight_requests')})", "{{model}}")],
            width=8,
            links=_of_model(),
        ),
        timeseries_panel(
            "Prompt-cache hits and misses · $model",
            "Responses per second that read from the prompt cache (hits) or read nothing (misses). Misses on "
            "repeated prompts: the cached prefix changes between calls or calls are further apart than the TTL.",
            REQUESTS_PER_S,
            [
                target(sum_rate("cache_hits_total"), "hits"),
                target(sum_rate("cache_misses_total"), "misses", "B"),
            ],
            width=8,
            links=_of_model(),
            stacked=True,
        ),
    ]


def _instance_row() -> list[timeseries.Panel]:
    return [
        timeseries_panel(
            "Requests per second by model · $instance",
            "Calls finishing per second on this instance. One instance far from the others: the load balancer or "
            "the worker count is uneven.",
            REQUESTS_PER_S,
            [target(sum_rate("requests_total", "model"), "{{model}}")],
            width=6,
        ),
        timeseries_panel(
            "p95 request duration by model · $instance",
            "95th percentile call duration on this instance. Slower than the other instances for the same model: "
            "the host (CPU, event loop blocked) or its network path." + TRACE_HELP,
            SECONDS,
            [target(quantile(0.95, "request_duration_seconds", "model"), "p95 {{model}}", exemplar=True)],
            width=6,
        ),
        timeseries_panel(
            "Retries by reason · $instance",
            "Retries per second on this instance. Only one instance with connection_error or timeout: its "
            "network, proxy or DNS.",
            RETRIES_PER_S,
            [target(sum_rate("retries_total", "reason"), "{{reason}}")],
            width=6,
            stacked=True,
            links=PanelLinks(alerts=RETRY_ALERTS),
        ),
        timeseries_panel(
            "In-flight requests by model · $instance",
            "Calls under way on this instance. Growing here only: this instance starts more calls than finish "
            "(lower its concurrency); stuck above 0 with no traffic: hung streams, check the timeouts.",
            NUMBER,
            [target(f"sum by (model) ({sel('in_flight_requests')})", "{{model}}")],
            width=6,
        ),
    ]


def build() -> db.Dashboard:
    dashboard = new_dashboard(
        UID,
        "Axio Anthropic / Drill-down by model and instance",
        "One row per selected model and one per selected instance; pick values in the variables above.",
    )
    dashboard = add_row(dashboard, db.Row("Model: $model").repeat("model"), _model_row())
    return add_row(dashboard, db.Row("Instance: $instance").repeat("instance"), _instance_row())
