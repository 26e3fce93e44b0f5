"""A small client for Prometheus' HTTP API, and the configuration the verification runs it with."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = [
    "JOB",
    "PromAPI",
    "PromError",
    "QueryResult",
    "ScrapeTarget",
    "find_prometheus",
    "find_promtool",
    "free_port",
    "prometheus_config",
]

#: The job name of the application: the availability alerts of deploy/prometheus/rules look for it.
JOB: Final = "axio-anthropic"
SCRAPE_INTERVAL: Final = "1s"
EVALUATION_INTERVAL: Final = "1s"
_TIMEOUT: Final = 15.0
#: Every request goes straight to 127.0.0.1, whatever http_proxy says.
_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PromError(RuntimeError):
    """Prometheus could not be reached, or answered something other than its API's JSON."""


def find_prometheus() -> str | None:
    found = shutil.which("prometheus")
    if found is None and os.access("/usr/bin/prometheus", os.X_OK):
        found = "/usr/bin/prometheus"
    return found


def find_promtool() -> str | None:
    found = shutil.which("promtool")
    if found is None and os.access("/usr/bin/promtool", os.X_OK):
        found = "/usr/bin/promtool"
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class ScrapeTarget:
    address: str
    labels: Mapping[str, str]


def prometheus_config(targets: Sequence[ScrapeTarget], rule_files: Sequence[Path]) -> str:
    """The configuration (JSON, which is YAML): 1 s scrapes and rule evaluations, one static job."""
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
            "evaluation_interval": EVALUATION_INTERVAL,
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target.address], "labels": dict(target.labels)} for target in targets],
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"


@dataclass(frozen=True, slots=True)
class QueryResult:
    """An API answer: ``ok`` with ``data``, or the error Prometheus gave (a bad query is a 400)."""

    ok: bool
    data: Any
    error: str | None
    seconds: float


class PromAPI:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def _call(self, path: str, params: Mapping[str, str] | Sequence[tuple[str, str]] = (), post: bool = False) -> Any:
        encoded = urllib.parse.urlencode(params)
        if post:
            request = urllib.request.Request(
                f"{self.base}{path}",
                data=encoded.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                method="POST",
            )
        else:
            request = urllib.request.Request(f"{self.base}{path}?{encoded}" if encoded else f"{self.base}{path}")
        try:
            with _OPENER.open(request, timeout=_TIMEOUT) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            # The API answers errors (bad_data, execution, ...) as JSON with a 4xx/5xx status.
            try:
                return json.loads(exc.read())
            except ValueError:
                raise PromError(f"{path}: HTTP {exc.code}") from exc
        except (OSError, ValueError) as exc:
            raise PromError(f"{path}: {exc}") from exc

    def _data(self, path: str, params: Mapping[str, str] | Sequence[tuple[str, str]] = ()) -> Any:
        body = self._call(path, params)
        if body.get("status") != "success":
            raise PromError(f"{path}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def _query(self, path: str, params: Mapping[str, str]) -> QueryResult:
        started = time.perf_counter()
        body = self._call(path, params, post=True)
        seconds = time.perf_counter() - started
        if body.get("status") == "success":
            return QueryResult(True, body["data"], None, seconds)
        return QueryResult(False, None, f"{body.get('errorType')}: {body.get('error')}", seconds)

    def ready(self) -> bool:
        try:
            with _OPENER.open(f"{self.base}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def reload(self) -> None:
        request = urllib.request.Request(f"{self.base}/-/reload", data=b"", method="POST")
        try:
            with _OPENER.open(request, timeout=_TIMEOUT) as response:
                if response.status != 200:
                    raise PromError(f"/-/reload: HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            raise PromError(f"/-/reload: HTTP {exc.code}: {exc.read()[:500]!r}") from exc
        except OSError as exc:
            raise PromError(f"/-/reload: {exc}") from exc

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self._query("/api/v1/query", params)

    def query_range(self, expr: str, start: float, end: float, step: float) -> QueryResult:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._query("/api/v1/query_range", params)

    def label_values(self, label: str, match: str, start: float, end: float) -> list[str]:
        params = [("match[]", match), ("start", f"{start:.3f}"), ("end", f"{end:.3f}")]
        return sorted(str(value) for value in self._data(f"/api/v1/label/{label}/values", params))

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self._data("/api/v1/targets", {"state": "active"})["activeTargets"]
        return active

    def rule_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self._data("/api/v1/rules")["groups"]
        return groups

    def buildinfo(self) -> dict[str, Any]:
        info: dict[str, Any] = self._data("/api/v1/status/buildinfo")
        return info

    def exemplars(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._data(
            "/api/v1/query_exemplars", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        )
        return found
