"""Paths and helpers shared by the tests of deploy/: YAML and JSON-schema loading, promtool, the
rules file, the Compose file and the Kubernetes manifests."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_FILE = PROMETHEUS_DIR / "rules" / "axio-anthropic.rules.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
README = DEPLOY / "README.md"
SCHEMAS = DEPLOY / "schemas"
KUBERNETES = DEPLOY / "kubernetes"
DASHBOARDS = ROOT / "dashboards"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "axio-anthropic.yml"
COLLECTOR_CONFIG = DEPLOY / "otel-collector" / "config.yaml"

#: The scrape job of the application; the availability alerts and the PodMonitor agree on it.
JOB = "axio-anthropic"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def promtool() -> str:
    found = shutil.which("promtool") or ("/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)
    if found is None:
        reason = "promtool is not installed (apt-get install prometheus)"
        if in_ci():
            pytest.fail(f"{reason}, and CI must run this test")
        pytest.skip(reason)
    return found


def run_promtool(*args: str | Path, cwd: Path = ROOT) -> str:
    result = subprocess.run(
        [promtool(), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(map(str, args))} failed:\n{output}"
    return output


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def load_schema(relative: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / relative).read_text(encoding="utf-8"))
    return schema


def schema_errors(schema: dict[str, Any], instance: Any, validator: Any = None) -> list[str]:
    """Readable validation errors: for anyOf/oneOf failures, the most relevant branch's error."""
    cls = validator or jsonschema.validators.validator_for(schema)
    errors = sorted(cls(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    messages = []
    for error in errors:
        best = jsonschema.exceptions.best_match([error])
        path = "/".join(str(part) for part in best.absolute_path)
        messages.append(f"{path or '<root>'}: {best.message}")
    return messages


@functools.cache
def rules_data() -> Any:
    return load_yaml(RULES_FILE)


def all_rules() -> list[dict[str, Any]]:
    return [rule for group in rules_data()["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in all_rules() if "alert" in rule]


def records() -> list[dict[str, Any]]:
    return [rule for rule in all_rules() if "record" in rule]


def alert_names() -> list[str]:
    return [str(rule["alert"]) for rule in alerts()]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[`*_]", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def readme_anchors() -> set[str]:
    text = README.read_text(encoding="utf-8")
    anchors = {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE)}
    anchors |= set(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", text))
    return anchors


@functools.cache
def compose() -> Any:
    return load_yaml(COMPOSE_FILE)


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def command_text(name: str) -> str:
    command = service(name)["command"]
    return command if isinstance(command, str) else " ".join(command)


def interpolate_defaults(text: str) -> str:
    """Compose's ``${VAR:-default}`` with every variable unset."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", text)


def kustomization() -> Any:
    return load_yaml(KUBERNETES / "kustomization.yaml")


def kubernetes_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in kustomization()["resources"]:
        for doc in load_yaml_all(KUBERNETES / resource):
            yield resource, doc


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def schema_for(kind: str, api_version: str) -> dict[str, Any]:
    group, _, version = api_version.rpartition("/")
    if group == "":
        return load_schema(f"kubernetes/{kind.lower()}-{version}.json")
    return load_schema(f"{group}/{kind.lower()}-{version}.json")
