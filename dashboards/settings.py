"""Where the alerts' runbook links and the dashboards' trace links point: one place for each.

- ``RUNBOOK_BASE_URL``: the page with one section per alert (deploy/README.md on the repository's
  web view). Every alert's ``runbook_url`` and every panel's runbook link is this plus
  ``#<alert name in lower case>``, the anchor of the alert's section.
- ``JAEGER_URL`` and ``TRACE_SERVICE``: the Jaeger UI, as the browser reaches it, and the service
  whose traces the panels' trace links search. The defaults fit the Compose stack in deploy/.

deploy/kubernetes/generate.py takes each as a flag (``--runbook-base-url``, ``--jaeger-url``,
``--trace-service``) and writes the manifests with ``retarget()``. Standard library only, so the
generator needs neither the Grafana SDK nor this package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlsplit

RUNBOOK_BASE_URL: Final = "https://github.com/mosquito/axio-transport-anthropic/blob/main/deploy/README.md"
JAEGER_URL: Final = "http://localhost:16686"
#: The service name `axio-anthropic load` reports (the Compose stack's `app`).
TRACE_SERVICE: Final = "axio-anthropic-load"
#: The dashboard variables holding the last two; trace links refer to them, so a user can also
#: change them per visit (`?var-trace_service=my-agent`).
JAEGER_URL_VARIABLE: Final = "jaeger_url"
TRACE_SERVICE_VARIABLE: Final = "trace_service"


def runbook_url(alert: str, base: str = RUNBOOK_BASE_URL) -> str:
    return f"{base}#{alert.lower()}"


def absolute_url(url: str) -> str:
    """``url`` without a trailing slash; ValueError unless it is an absolute http(s) URL without
    a fragment (anchors are appended to it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment or "#" in url:
        raise ValueError(f"{url!r} is not an absolute http(s) URL without a #fragment")
    return url.rstrip("/")


def _links(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels") or []:
        yield from panel.get("links") or []
        yield from ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("links") or []


def retarget(
    text: str,
    runbook_base: str = RUNBOOK_BASE_URL,
    jaeger_url: str = JAEGER_URL,
    trace_service: str = TRACE_SERVICE,
) -> str:
    """A dashboard's JSON text with its runbook links and trace-link defaults replaced.

    Written as dashboards/build.py writes it, so the defaults give back ``text`` unchanged.
    """
    dashboard = json.loads(text)
    for link in _links(dashboard):
        url = str(link.get("url", ""))
        if url.startswith(RUNBOOK_BASE_URL + "#"):
            link["url"] = runbook_base + url[len(RUNBOOK_BASE_URL) :]
    chosen = {JAEGER_URL_VARIABLE: jaeger_url, TRACE_SERVICE_VARIABLE: trace_service}
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if (value := chosen.get(str(variable.get("name")))) is not None:
            variable["query"] = value
            variable["current"] = {"selected": True, "text": value, "value": value}
    return json.dumps(dashboard, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
