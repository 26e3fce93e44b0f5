"""Every panel links to a Jaeger search of its traces: the same time range, and the same model
where the panel (a row repeated by model) or a series (grouped by model) shows one model."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from dashboards.queries import committed_dashboards

from .dashboard_support import ROOT, by_uid, exprs, links

COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yml"
#: The span attribute the request span starts with (tests/test_tracing.py checks the span carries it).
MODEL_ATTRIBUTE = "gen_ai.request.model"
#: `${name}`, `${name:format}` and `${__field.labels.model:format}`, as Grafana interpolates links.
LINK_VARIABLE = re.compile(r"\$\{([\w.]+)(?::(\w+))?\}")
#: Unix milliseconds, as Grafana gives ${__from} and ${__to}.
FROM_MS, TO_MS = "1700000000000", "1700003600000"
MODEL = "claude-sonnet-4-6"


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return by_uid()


def defaults(dashboard: dict[str, Any]) -> dict[str, str]:
    return {str(v["name"]): str(v.get("query", "")) for v in dashboard["templating"]["list"]}


def interpolate(url: str, values: dict[str, str]) -> str:
    """`url` as Grafana fills it in: every variable known, `:percentencode` applied."""

    def replace(match: re.Match[str]) -> str:
        name, fmt = match.groups()
        assert name in values, f"{name} is not a variable the link can use: {url}"
        return quote(values[name], safe="") if fmt == "percentencode" else values[name]

    return LINK_VARIABLE.sub(replace, url)


def jaeger_search(url: str, dashboard: dict[str, Any]) -> dict[str, Any]:
    """The Jaeger UI search a trace link opens, or {} for another link.

    Jaeger UI's /search page takes service, tags (a JSON object), start and end in Unix
    microseconds with lookback=custom, and runs the search from them (jaeger-ui SearchForm
    mapStateToProps); Grafana gives ${__from} and ${__to} in Unix milliseconds.
    """
    if not url.startswith("${jaeger_url}/search?"):
        return {}
    variables = defaults(dashboard)
    values = {
        "jaeger_url": variables["jaeger_url"],
        "trace_service": variables["trace_service"],
        "__from": FROM_MS,
        "__to": TO_MS,
        "model": MODEL,
        "__field.labels.model": MODEL,
    }
    parts = urlsplit(interpolate(url, values))
    query = {key: value for key, (value,) in parse_qs(parts.query, strict_parsing=True).items()}
    tags = json.loads(query.pop("tags", "{}"))
    assert f"{parts.scheme}://{parts.netloc}" == variables["jaeger_url"] and parts.path == "/search", url
    return {"query": query, "tags": tags, "raw": url}


def series_per_model(expr: str) -> bool:
    """Whether every series of `expr` carries a `model` label: grouped by it, not summed away after."""
    grouped = re.search(r"\bby \([^)]*\bmodel\b", expr) is not None
    return grouped and re.match(r"\s*(sum|min|max|avg|count)\s*\(", expr) is None


def test_every_panel_links_to_its_traces_in_jaeger_for_the_same_model_and_time_range(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    problems = []
    for uid, dashboard in dashboards.items():
        model_row = False
        for item in dashboard["panels"]:
            if item["type"] == "row":
                model_row = item.get("repeat") == "model"
                continue
            searches = [s for link in links(item) if (s := jaeger_search(str(link["url"]), dashboard))]
            where = f"{uid} / {item['title']!r}"
            if not searches:
                problems.append(f"{where}: no trace link")
            for search in searches:
                query = search["query"]
                assert query["service"] == defaults(dashboard)["trace_service"], where
                assert (query["start"], query["end"], query["lookback"]) == (FROM_MS + "000", TO_MS + "000", "custom")
            by_model = any(series_per_model(expr) for expr in exprs(item))
            # One model in view: the panel's own link; one model per series: a link on each series.
            if model_row or by_model:
                wanted = "${model:percentencode}" if model_row else "${__field.labels.model:percentencode}"
                scoped = [s for s in searches if s["tags"].get(MODEL_ATTRIBUTE) == MODEL and wanted in s["raw"]]
                if not scoped:
                    problems.append(f"{where}: no trace link for the model ({wanted})")
            elif any("__field.labels.model" in search["raw"] for search in searches):
                problems.append(f"{where}: its series have no model label to search for")
    assert not problems, "\n".join(problems)


def test_trace_links_default_to_the_compose_stack() -> None:
    from axio_transport_anthropic.load.run import SERVICE_NAME

    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert "16686:16686" in compose["services"]["jaeger"]["ports"]
    for dashboard in committed_dashboards():
        variables = {str(v["name"]): v for v in dashboard["templating"]["list"]}
        assert variables["jaeger_url"]["query"] == "http://localhost:16686"
        assert variables["trace_service"]["query"] == SERVICE_NAME
        assert variables["jaeger_url"]["hide"] == 2  # a setting, not a filter: not shown
