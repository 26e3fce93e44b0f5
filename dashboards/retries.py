"""Retries and rate limits: why attempts are repeated, how long calls wait, how close the limits are."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards.common import (
    BACKOFF_PER_S,
    NUMBER,
    RATIO,
    REQUESTS,
    REQUESTS_PER_S,
    RETRIES_PER_S,
    TOKENS,
    add_panels,
    add_row,
    dashed,
    gauge_panel,
    new_dashboard,
    stat_panel,
    target,
    timeseries_panel,
)
from dashboards.links import PanelLinks
from dashboards.promql import sel, sum_rate

UID = "axio-anthropic-retries"

ATTEMPTS_PER_REQUEST = f"{sum_rate('attempts_total')} / {sum_rate('requests_total')}"
ATTEMPTS_PER_REQUEST_BY_MODEL = f"{sum_rate('attempts_total', 'model')} / {sum_rate('requests_total', 'model')}"
# Backoff is counted as it starts, duration only when the request ends: clamp the early overshoot.
BACKOFF_SHARE = f"clamp_max({sum_rate('backoff_seconds_total')} / {sum_rate('request_duration_seconds_sum')}, 1)"
BACKOFF_SHARE_BY_MODEL = (
    f"clamp_max({sum_rate('backoff_seconds_total', 'model')} / {sum_rate('request_duration_seconds_sum', 'model')}, 1)"
)
# Both gauges carry the same labels, so they divide one to one; min over instances is the worst case.
HEADROOM = f"{sel('ratelimit_remaining')} / {sel('ratelimit_limit')}"
TOKEN_RESOURCES = 'resource=~"tokens|input_tokens|output_tokens"'
REQUESTS_RESOURCE = 'resource="requests"'

REASONS_HELP = (
    " rate_limited (429): lower concurrency or ask Anthropic for a higher tier, and check rate-limit remaining;"
    " overloaded (529): Anthropic is short of capacity, check status.anthropic.com or fall back to another model;"
    " server_error (5xx) and timeout: check status and the timeout settings; connection_error: network, proxy or DNS."
)
HEADROOM_THRESHOLDS = ((None, "red"), (0.1, "orange"), (0.25, "green"))
RETRY_LINKS = PanelLinks(alerts=("AxioAnthropicRateLimited", "AxioAnthropicOverloaded"))
HEADROOM_LINKS = PanelLinks(alerts=("AxioAnthropicRateLimitHeadroomLow",))


def build() -> db.Dashboard:
    dashboard = new_dashboard(
        UID,
        "Axio Anthropic / Retries and rate limits",
        "Why attempts are retried, how long calls wait in backoff and how much of the Anthropic rate limits is left.",
    )
    dashboard = add_row(
        dashboard,
        db.Row("Retries"),
        [
            stat_panel(
                "Retries per second",
                "Attempts repeated per second, all reasons. Anything above a trickle costs latency: see 'Retries by "
                "reason' for the cause.",
                RETRIES_PER_S,
                sum_rate("retries_total"),
                "retries/s",
                ((None, "green"), (0.1, "orange"), (1, "red")),
                width=6,
                links=RETRY_LINKS,
            ).no_value("0"),
            stat_panel(
                "Attempts per request",
                "HTTP attempts per finished call; 1.00 means no retries. Above ~1.2 retries dominate latency: check "
                "the reasons below and the rate-limit headroom.",
                NUMBER,
                ATTEMPTS_PER_REQUEST,
                "attempts/request",
                ((None, "green"), (1.2, "orange"), (2, "red")),
                width=6,
                decimals=2,
            ),
            stat_panel(
                "Share of request time in backoff",
                "Backoff seconds / request seconds: how much of the calls' wall time is spent waiting to retry. Above "
                "a few percent, reduce the cause (usually 429s) rather than shortening the backoff.",
                RATIO,
                BACKOFF_SHARE,
                "in backoff",
                ((None, "green"), (0.05, "orange"), (0.2, "red")),
                width=6,
            ).no_value("0"),
            gauge_panel(
                "Lowest rate-limit headroom",
                "remaining / limit of each Anthropic rate limit from the latest response. Near 0 the next calls get "
                "429s: lower concurrency, spread the load, or ask Anthropic for a higher tier.",
                RATIO,
                f"min by (resource) ({HEADROOM})",
                "{{resource}}",
                HEADROOM_THRESHOLDS,
                links=HEADROOM_LINKS,
            ),
        ],
    )

    dashboard = add_panels(
        dashboard,
        [
            timeseries_panel(
                "Retries by reason",
                "Retries per second by the reason the attempt before failed." + REASONS_HELP,
                RETRIES_PER_S,
                [target(sum_rate("retries_total", "reason"), "{{reason}}")],
                stacked=True,
                links=RETRY_LINKS,
            ),
            timeseries_panel(
                "Backoff time by reason",
                "Seconds waited before retries per second of wall time (s/s), by reason: 0.5 s/s = calls spent half "
                "a second waiting each second, or half a call waiting at any moment. Long waits with rate_limited "
                "follow the server's retry-after: the limit is the problem, not the backoff settings.",
                BACKOFF_PER_S,
                [target(sum_rate("backoff_seconds_total", "reason"), "{{reason}}")],
                stacked=True,
            ),
            timeseries_panel(
                "Attempts by result",
                "HTTP attempts per second by result: 200 is a whole turn, else the HTTP status, timeout, "
                "connection_error, protocol_error or cancelled. 429s point at rate limits, 529s at Anthropic capacity.",
                REQUESTS_PER_S,
                [target(sum_rate("attempts_total", "status"), "{{status}}")],
                stacked=True,
                links=RETRY_LINKS,
            ),
            timeseries_panel(
                "Attempts per request by model",
                "HTTP attempts per finished call, per model (1 = no retries). One model high: its limits or capacity; "
                "all models high: the organisation's limits or the network.",
                NUMBER,
                [target(ATTEMPTS_PER_REQUEST_BY_MODEL, "{{model}}")],
            ),
            timeseries_panel(
                "Share of request time spent in backoff by model",
                "Backoff seconds / request-duration seconds per model: the share of the calls' wall time spent waiting "
                "to retry. Rising with 429s: lower concurrency or get a higher tier; with 529s: try another model.",
                RATIO,
                [target(BACKOFF_SHARE_BY_MODEL, "{{model}}")],
                max_value=1,
            ),
            timeseries_panel(
                "Rate-limited and overloaded attempts",
                "429 (rate limited) and 529 (overloaded) attempts per second. 429s with little headroom left: lower "
                "concurrency or ask Anthropic for a higher tier; 529s with headroom left: Anthropic's capacity, not "
                "your limits.",
                REQUESTS_PER_S,
                [target(sum_rate("attempts_total", "status", 'status=~"429|529"'), "{{status}}")],
                links=RETRY_LINKS,
            ),
        ],
    )

    dashboard = add_row(
        dashboard,
        db.Row("Rate limits"),
        [
            timeseries_panel(
                "Rate-limit headroom by resource",
                "remaining / limit per model and resource (requests, tokens, input_tokens, output_tokens) from the "
                "latest response. The resource that reaches 0 first is the one to raise or to spend less of.",
                RATIO,
                [target(f"min by (model, resource) ({HEADROOM})", "{{model}} {{resource}}")],
                width=8,
                max_value=1,
                links=HEADROOM_LINKS,
            ),
            dashed(
                timeseries_panel(
                    "Requests limit: remaining vs limit",
                    "Requests left in the current window (solid) against the limit (dashed), per model. Remaining "
                    "near 0 before the window resets: spread calls out or ask for a higher tier.",
                    REQUESTS,
                    [
                        target(
                            f"min by (model) ({sel('ratelimit_remaining', REQUESTS_RESOURCE)})", "{{model}} remaining"
                        ),
                        target(f"max by (model) ({sel('ratelimit_limit', REQUESTS_RESOURCE)})", "{{model}} limit", "B"),
                    ],
                    width=8,
                    links=HEADROOM_LINKS,
                ),
                "B",
            ),
            dashed(
                timeseries_panel(
                    "Token limits: remaining vs limit",
                    "Tokens left (solid) against the limit (dashed) per model and resource. Input tokens running out: "
                    "cache more of the prompt (cache reads do not count toward the input limit on most current models) "
                    "or trim context; output tokens: lower max_tokens.",
                    TOKENS,
                    [
                        target(
                            f"min by (model, resource) ({sel('ratelimit_remaining', TOKEN_RESOURCES)})",
                            "{{model}} {{resource}} remaining",
                        ),
                        target(
                            f"max by (model, resource) ({sel('ratelimit_limit', TOKEN_RESOURCES)})",
                            "{{model}} {{resource}} limit",
                            "B",
                        ),
                    ],
                    width=8,
                    links=HEADROOM_LINKS,
                ),
                "B",
            ),
        ],
    )
    return dashboard
