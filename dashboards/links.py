"""Where a panel takes an on-call engineer next, and the alerts drawn on every graph.

- Runbook: a panel showing an alert's condition links to the runbook the alert's rule names.
- Traces: every panel links to a Jaeger search of the same time range; a panel of one model (a
  row repeated by model) searches that model, and a panel with a series per model links each
  series to its model's traces.
- Annotations: Prometheus' ``ALERTS`` series of the axio-anthropic alerts, firing (on) and
  pending (off until switched on), for the selected job, instance, provider and model.

Jaeger UI's /search page runs the search its URL describes: ``service``, ``tags`` (a JSON object
of span attributes), ``start`` and ``end`` in Unix microseconds with ``lookback=custom``, and
``limit`` (jaeger-ui SearchForm). Grafana gives ``${__from}`` and ``${__to}`` in milliseconds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import quote

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import alerts
from dashboards.settings import JAEGER_URL, JAEGER_URL_VARIABLE, TRACE_SERVICE, TRACE_SERVICE_VARIABLE

#: The request span's attribute naming the model (README "Traces").
MODEL_ATTRIBUTE = "gen_ai.request.model"
#: The model of a row repeated by `model`: one value per copy of the row.
ROW_MODEL = "${model:percentencode}"
#: The model of the series a data link is clicked on.
SERIES_MODEL = "${__field.labels.model:percentencode}"
TRACE_LIMIT = 20
#: The alerts of deploy/prometheus/rules, for the selected job, instance, provider and model;
#: alerts without an instance, provider or model label (by job, by model, availability) match the
#: empty alternative.
ALERTS_SELECTOR = (
    'ALERTS{{alertname=~"AxioAnthropic.+", alertstate="{state}", job=~"$job", instance=~"${{instance}}|", '
    'provider=~"${{provider}}|", model=~"${{model}}|"}}'
)
_VARIABLE = re.compile(r"(\$\{[^}]+\})")


@dataclass(frozen=True, slots=True)
class PanelLinks:
    """A panel's links: the alerts whose condition it shows, the model it shows (a Grafana
    expression, None for all models), and whether its trace search keeps failed calls only."""

    alerts: tuple[str, ...] = ()
    model: str | None = None
    errors: bool = False


def _encoded(text: str) -> str:
    """Percent-encoded for a query string, except the `${...}` Grafana fills in (and encodes)."""
    return "".join(part if _VARIABLE.fullmatch(part) else quote(part, safe="") for part in _VARIABLE.split(text))


def jaeger_search(model: str | None = None, errors: bool = False) -> str:
    """A Jaeger UI search of the dashboard's time range, for one model and failed calls if asked."""
    tags: dict[str, str] = {}
    if model is not None:
        tags[MODEL_ATTRIBUTE] = model
    if errors:
        tags["error"] = "true"  # Jaeger's tag for a span whose status is ERROR
    query = [f"service=${{{TRACE_SERVICE_VARIABLE}:percentencode}}"]
    if tags:
        query.append("tags=" + _encoded(json.dumps(tags, separators=(",", ":"))))
    query += ["start=${__from}000", "end=${__to}000", "lookback=custom", f"limit={TRACE_LIMIT}"]
    return f"${{{JAEGER_URL_VARIABLE}}}/search?" + "&".join(query)


def _link(title: str, url: str) -> db.DashboardLink:
    return db.DashboardLink(title).type(dm.DashboardLinkType.LINK).url(url).target_blank(True)


def panel_links(links: PanelLinks) -> list[db.DashboardLink]:
    found = [_link(f"Runbook: {alert}", alerts.runbook(alert)) for alert in links.alerts]
    which = "failed calls" if links.errors else "traces"
    scope = "of ${model}" if links.model is not None else "of all models"
    found.append(_link(f"Jaeger: {which} {scope}, this time range", jaeger_search(links.model, links.errors)))
    return found


def series_links(links: PanelLinks) -> list[db.DashboardLink]:
    """Data links of a panel with a series per model: each to its own model's traces."""
    which = "failed calls" if links.errors else "traces"
    return [_link(f"Jaeger: {which} of ${{__field.labels.model}}", jaeger_search(SERIES_MODEL, links.errors))]


def trace_variables() -> list[db.TextBoxVariable]:
    """Where trace links search: the Jaeger URL (hidden, a deployment setting) and the service."""
    jaeger = (
        db.TextBoxVariable(JAEGER_URL_VARIABLE)
        .id(JAEGER_URL_VARIABLE)
        .label("Jaeger URL")
        .description("The Jaeger UI as the browser reaches it; trace links open searches there.")
        .default_value(JAEGER_URL)
        .current(dm.VariableOption(selected=True, text=JAEGER_URL, value=JAEGER_URL))
        .hide(dm.VariableHide.HIDE_VARIABLE)
    )
    service = (
        db.TextBoxVariable(TRACE_SERVICE_VARIABLE)
        .id(TRACE_SERVICE_VARIABLE)
        .label("Trace service")
        .description("The service name the application's traces carry (setup(service_name=...)).")
        .default_value(TRACE_SERVICE)
        .current(dm.VariableOption(selected=True, text=TRACE_SERVICE, value=TRACE_SERVICE))
    )
    return [jaeger, service]


class _PrometheusAnnotation(dm.AnnotationQuery):
    """An annotation query with the Prometheus fields the SDK's model lacks."""

    def __init__(self, extra: dict[str, object], **fields: object) -> None:
        super().__init__(**fields)  # type: ignore[arg-type]
        self.extra = extra

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), **self.extra}


class AlertAnnotation(cogbuilder.Builder[dm.AnnotationQuery]):
    """The axio-anthropic alerts in one state, drawn on every time series of the dashboard."""

    def __init__(self, datasource: dm.DataSourceRef, state: str, color: str, enabled: bool) -> None:
        self._datasource, self._state, self._color, self._enabled = datasource, state, color, enabled

    def build(self) -> dm.AnnotationQuery:
        extra: dict[str, object] = {
            "step": "15s",
            "titleFormat": "{{alertname}}",
            "textFormat": f"{self._state} ({{{{severity}}}})",
            "tagKeys": "job,model,instance",
            "useValueForTime": False,
        }
        return _PrometheusAnnotation(
            extra,
            name=f"{self._state.capitalize()} alerts",
            datasource=self._datasource,
            enable=self._enabled,
            icon_color=self._color,
            expr=ALERTS_SELECTOR.format(state=self._state),
        )


def alert_annotations(datasource: dm.DataSourceRef) -> list[AlertAnnotation]:
    return [
        AlertAnnotation(datasource, "firing", "red", enabled=True),
        AlertAnnotation(datasource, "pending", "orange", enabled=False),
    ]
