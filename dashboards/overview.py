"""Overview: traffic, errors, latency, tokens, cost, prompt cache and concurrency at a glance, then
cost and tokens by the call labels (tenant, agent)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import agents, attribution
from dashboards.alerts import alert_condition, scoped
from dashboards.common import (
    NUMBER,
    RATIO,
    REQUESTS_PER_S,
    SECONDS,
    TOKENS_PER_S,
    USD,
    add_panels,
    add_row,
    new_dashboard,
    quantile_targets,
    stat_panel,
    target,
    timeseries_panel,
)
from dashboards.links import PanelLinks
from dashboards.promql import quantile, sel, sum_rate

UID = "axio-anthropic-overview"

#: AxioAnthropicHighErrorRatio's own expression (failed ÷ finished calls over 5 minutes, cancelled
#: calls on neither side), by job and model, narrowed by the dashboard's variables.
ERROR_ALERT = "AxioAnthropicHighErrorRatio"
ERROR_CONDITION = alert_condition(ERROR_ALERT)
ERROR_RATIO_BY_MODEL = scoped(ERROR_CONDITION.expression)
ERROR_RATIO = f"max({ERROR_RATIO_BY_MODEL})"
ERROR_LINKS = PanelLinks(alerts=(ERROR_ALERT,), errors=True)
COST_LINKS = PanelLinks(alerts=("AxioAnthropicCostSpike", "AxioAnthropicCostHigh"))
COST_PER_HOUR = f"{sum_rate('cost_usd_total')} * 3600"
HITS, MISSES = sum_rate("cache_hits_total"), sum_rate("cache_misses_total")
CACHE_HIT_RATIO = f"{HITS} / ({HITS} + {MISSES})"
HITS_BY_MODEL, MISSES_BY_MODEL = sum_rate("cache_hits_total", "model"), sum_rate("cache_misses_total", "model")
CACHE_HIT_RATIO_BY_MODEL = f"{HITS_BY_MODEL} / ({HITS_BY_MODEL} + {MISSES_BY_MODEL})"
CACHE_READ_BY_MODEL = sum_rate("tokens_total", "model", 'type="cache_read"')
PROMPT_BY_MODEL = sum_rate("tokens_total", "model", 'type=~"input|cache_read|cache_creation"')
CACHED_SHARE_BY_MODEL = f"{CACHE_READ_BY_MODEL} / {PROMPT_BY_MODEL}"

LATENCY_HELP = (
    " Dots are exemplars: click one for its trace in Jaeger, which shows each attempt and the backoff between them."
)


def build() -> db.Dashboard:
    dashboard = new_dashboard(
        UID,
        "Axio Anthropic / Overview",
        "Anthropic Claude calls made through axio-transport-anthropic: traffic, errors, latency, tokens, cost, cache.",
    )
    stats = [
        stat_panel(
            "Requests per second",
            "stream() calls finishing per second, all outcomes. A drop to 0 while the agent should be busy means "
            "calls hang or the process stopped: check in-flight requests and the scrape target.",
            REQUESTS_PER_S,
            sum_rate("requests_total"),
            "requests/s",
            links=PanelLinks(alerts=("AxioAnthropicTargetDown", "AxioAnthropicTargetMissing")),
        ),
        stat_panel(
            "Error ratio",
            "Share of calls that ended in an error after all retries, for the worst model: what "
            "AxioAnthropicHighErrorRatio computes (5 minutes, cancelled calls left out); red at its threshold. "
            "Above 1 %: open 'Failed requests by error type' and the Retries dashboard; rate_limit_error means "
            "lower concurrency or a higher tier.",
            RATIO,
            ERROR_RATIO,
            "worst model",
            ((None, "green"), (0.01, "orange"), (ERROR_CONDITION.threshold, "red")),
            links=ERROR_LINKS,
        ),
        stat_panel(
            "p95 request duration",
            "95th percentile of a whole call, retries and backoff included. If it climbs, compare time to first "
            "token (prompt size, thinking) with the Retries dashboard (time spent in backoff).",
            SECONDS,
            quantile(0.95, "request_duration_seconds"),
            "p95",
            ((None, "green"), (30, "orange"), (120, "red")),
        ),
        stat_panel(
            "Cost per hour",
            "List-price spend rate in USD per hour, cache discounts included. If it jumps, check tokens by type "
            "(long outputs, cache writes) and the cache hit ratio.",
            USD,
            COST_PER_HOUR,
            "USD/h",
            decimals=2,
            links=COST_LINKS,
        ),
        stat_panel(
            "Prompt-cache hit ratio",
            "Share of responses that read from the prompt cache. Low with repeated prompts: the cached prefix "
            "changes between calls (timestamps, tool order) or cache_control breakpoints are missing.",
            RATIO,
            CACHE_HIT_RATIO,
            "hit ratio",
            ((None, "orange"), (0.5, "green")),
        ),
        stat_panel(
            "In-flight requests",
            "Calls under way now. Growing without bound means callers start more calls than finish: lower "
            "concurrency; a constant value with no traffic means stuck streams (check timeouts).",
            NUMBER,
            f"sum({sel('in_flight_requests')})",
            "in flight",
        ),
    ]
    dashboard = add_panels(dashboard, stats)

    dashboard = add_row(
        dashboard,
        db.Row("Traffic and errors"),
        [
            timeseries_panel(
                "Requests by outcome",
                "Calls finishing per second by outcome (ok, error, cancelled). Many cancelled calls mean callers give "
                "up early (client timeouts, user aborts); errors are broken down in the next panel.",
                REQUESTS_PER_S,
                [target(sum_rate("requests_total", "outcome"), "{{outcome}}")],
                stacked=True,
                links=PanelLinks(alerts=(ERROR_ALERT,)),
            ),
            timeseries_panel(
                "Error ratio by model",
                "Share of calls per model that failed after all retries: AxioAnthropicHighErrorRatio's own expression "
                "(5 minutes, cancelled calls left out), its threshold dashed. One model alone: check its name and "
                "access; all models: check the API key, network and status.anthropic.com.",
                RATIO,
                [target(ERROR_RATIO_BY_MODEL, "{{model}} ({{job}})")],
                max_value=1,
                links=ERROR_LINKS,
                threshold_line=((None, "green"), (ERROR_CONDITION.threshold, "red")),
            ),
            timeseries_panel(
                "Failed requests by error type",
                "Final errors per second by Anthropic error type or transport error. rate_limit_error or "
                "overloaded_error: see the Retries dashboard; invalid_request_error or authentication_error are "
                "bugs or configuration, not load.",
                REQUESTS_PER_S,
                [target(sum_rate("errors_total", "type"), "{{type}}")],
                stacked=True,
                links=ERROR_LINKS,
            ),
            timeseries_panel(
                "In-flight requests by model",
                "Calls under way per model. Compare with the rate limits: concurrency near the requests limit "
                "produces 429s; lower it or spread calls over time.",
                NUMBER,
                [target(f"sum by (model) ({sel('in_flight_requests')})", "{{model}}")],
            ),
        ],
    )

    dashboard = add_row(
        dashboard,
        db.Row("Latency"),
        [
            timeseries_panel(
                "Request duration p50 / p95 / p99",
                "Whole-call duration quantiles, retries and backoff included. If p99 ≫ p95, a few calls retry or "
                "stream very long answers: check the Retries dashboard and output tokens per answer." + LATENCY_HELP,
                SECONDS,
                quantile_targets("request_duration_seconds"),
            ),
            timeseries_panel(
                "Time to first token p50 / p95 / p99",
                "Time from the call to the first content reaching the caller. High with low retries: long prompts, "
                "extended thinking or a cold prompt cache; check the cache hit ratio." + LATENCY_HELP,
                SECONDS,
                quantile_targets("time_to_first_token_seconds"),
                links=PanelLinks(alerts=("AxioAnthropicTTFTBudgetBurnFast", "AxioAnthropicTTFTBudgetBurnSlow")),
            ),
        ],
    )

    dashboard = add_row(
        dashboard,
        db.Row("Tokens, cost and prompt cache"),
        [
            timeseries_panel(
                "Tokens per second by type",
                "Billed tokens per second: input (uncached), output, cache_read, cache_creation; they add up. "
                "cache_creation ≫ cache_read means the cache is written but not reused: stabilise the prompt prefix.",
                TOKENS_PER_S,
                [target(sum_rate("tokens_total", "type"), "{{type}}")],
                stacked=True,
            ),
            timeseries_panel(
                "Cost per hour by model",
                "List-price spend rate per model in USD per hour. If a model costs more than expected, move simple "
                "calls to a smaller model, cap max_tokens, or improve prompt caching.",
                USD,
                [target(f"{sum_rate('cost_usd_total', 'model')} * 3600", "{{model}}")],
                stacked=True,
                links=COST_LINKS,
            ),
            timeseries_panel(
                "Prompt-cache hit ratio by model",
                "Share of responses per model that read from the prompt cache. Falling: the cached prefix changed "
                "(system prompt, tools) or calls are more than the cache TTL apart.",
                RATIO,
                [target(CACHE_HIT_RATIO_BY_MODEL, "{{model}}")],
                max_value=1,
            ),
            timeseries_panel(
                "Cached-token share by model",
                "cache_read / (input + cache_read + cache_creation): how much of the prompt came from the cache "
                "(billed at 0.1×). Low while the hit ratio is high: only a small prefix is cached; move the "
                "cache_control breakpoint later.",
                RATIO,
                [target(CACHED_SHARE_BY_MODEL, "{{model}}")],
                max_value=1,
            ),
        ],
    )
    return attribution.with_row(agents.with_row(dashboard))
