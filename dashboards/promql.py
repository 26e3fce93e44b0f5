"""PromQL of the panels: selectors filtered by the dashboard variables, rates and quantiles.

The conditions of the alerts come from the rules file instead (dashboards/alerts.py), so a panel
showing an alert computes what the alert computes.
"""

from __future__ import annotations

PREFIX = "axio_anthropic_"
#: The filter every series selector carries, so the four variables narrow every panel. ``provider``
#: is ``gen_ai.provider.name`` (anthropic, gcp.vertex_ai, aws.bedrock): the same model id can be
#: called on all three, and each has its own quotas, errors and prices.
FILTER = 'job=~"$job", instance=~"$instance", provider=~"$provider", model=~"$model"'
RATE_WINDOW = "$__rate_interval"
QUANTILES = (0.5, 0.95, 0.99)


def sel(metric: str, extra: str = "") -> str:
    """A selector of `axio_anthropic_<metric>` filtered by the dashboard variables."""
    matchers = f"{FILTER}, {extra}" if extra else FILTER
    return f"{PREFIX}{metric}{{{matchers}}}"


def rate(metric: str, extra: str = "") -> str:
    return f"rate({sel(metric, extra)}[{RATE_WINDOW}])"


def sum_rate(metric: str, by: str = "", extra: str = "") -> str:
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}({rate(metric, extra)})"


def quantile(q: float, histogram: str, by: str = "") -> str:
    """`histogram_quantile` over the per-second bucket rates, grouped by `le` and `by`."""
    grouping = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, {sum_rate(histogram + '_bucket', grouping)})"
