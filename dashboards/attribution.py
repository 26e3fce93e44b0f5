"""Cost and tokens broken down by the call labels a host attaches (README "Cost and usage per tenant").

One cost panel and one token panel per label name in ``LABELS``: the defaults ``tenant`` and
``agent``, what ``TelemetryConfig(labels=("tenant", "agent"))`` records. A deployment with other
names changes ``LABELS`` and runs ``python dashboards/build.py``. A panel per name rather than a
variable holding the name: a legend can only name a fixed label, and each panel stays one query.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries

from dashboards.common import TOKENS_PER_S, USD, add_row, target, timeseries_panel
from dashboards.links import PanelLinks
from dashboards.promql import sum_rate

#: The call-label names the panels break cost and tokens down by.
LABELS: tuple[str, ...] = ("tenant", "agent")
#: Shown for calls without the label: made outside call_labels(), or with a config that lists no labels.
UNSET = "(unset)"
COST_LINKS = PanelLinks(alerts=("AxioAnthropicCostSpike", "AxioAnthropicCostHigh"))
TITLE = f"Cost and tokens by {' and '.join(LABELS)}"

_HELP = (
    " {unset}: calls made outside call_labels() or by a transport whose TelemetryConfig lists no labels; "
    "_OTHER: values past the label_values cap (raise it, or attach fewer, coarser values). A call's trace "
    "carries the value as the span attribute axio.label.{label}."
)


def named(expr: str, label: str) -> str:
    """``expr`` with an empty ``label`` (unset, or not recorded at all) shown as ``(unset)``."""
    return f'label_replace({expr}, "{label}", "{UNSET}", "{label}", "")'


def cost_by(label: str) -> str:
    return named(f"{sum_rate('cost_usd_total', label)} * 3600", label)


def tokens_by(label: str) -> str:
    return named(sum_rate("tokens_total", label), label)


def _panels(label: str) -> list[timeseries.Panel]:
    help_text = _HELP.format(unset=UNSET, label=label)
    return [
        timeseries_panel(
            f"Cost per hour by {label}",
            f"List-price spend rate per {label} (the call label set with call_labels({label}=...)), in USD per "
            f"hour, cache discounts included. One {label} far above the others: compare its tokens per second, "
            "then its prompt caching and max_tokens." + help_text,
            USD,
            [target(cost_by(label), "{{" + label + "}}")],
            stacked=True,
            links=COST_LINKS,
        ),
        timeseries_panel(
            f"Tokens per second by {label}",
            f"Billed tokens per second per {label}, every type together (input, output, cache_read, "
            f"cache_creation). A {label} whose tokens grow while its requests do not: longer prompts or answers, "
            "or a cache that stopped being reused." + help_text,
            TOKENS_PER_S,
            [target(tokens_by(label), "{{" + label + "}}")],
            stacked=True,
        ),
    ]


def with_row(dashboard: db.Dashboard) -> db.Dashboard:
    """``dashboard`` with the row: for each label, cost then tokens, side by side."""
    return add_row(dashboard, db.Row(TITLE), [panel for label in LABELS for panel in _panels(label)])
