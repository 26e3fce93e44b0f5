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
#: The filter of the agent-run series (``axio_anthropic_agent_*``, dashboards/agents.py): a run is not
#: one model call, so they carry no provider or model label, and a matcher on either would only hide
#: runs once a value is chosen.
RUN_FILTER = 'job=~"$job", instance=~"$instance"'
RATE_WINDOW = "$__rate_interval"
QUANTILES = (0.5, 0.95, 0.99)


def sel(metric: str, extra: str = "", *, filtered: str = FILTER) -> str:
    """A selector of `axio_anthropic_<metric>` filtered by the dashboard variables (``filtered``)."""
    matchers = f"{filtered}, {extra}" if extra else filtered
    return f"{PREFIX}{metric}{{{matchers}}}"


def rate(metric: str, extra: str = "", *, filtered: str = FILTER) -> str:
    return f"rate({sel(metric, extra, filtered=filtered)}[{RATE_WINDOW}])"


def sum_rate(metric: str, by: str = "", extra: str = "", *, filtered: str = FILTER) -> str:
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}({rate(metric, extra, filtered=filtered)})"


def quantile(q: float, histogram: str, by: str = "", *, filtered: str = FILTER) -> str:
    """`histogram_quantile` over the per-second bucket rates, grouped by `le` and `by`."""
    grouping = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, {sum_rate(histogram + '_bucket', grouping, filtered=filtered)})"
