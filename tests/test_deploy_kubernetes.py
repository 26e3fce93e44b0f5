"""The Kubernetes manifests under deploy/kubernetes/ and the JSON schemas vendored in deploy/schemas/:
generated files up to date, every manifest valid against its schema, kustomize builds them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from .deploy_support import (
    JOB,
    KUBERNETES,
    SCHEMAS,
    dashboard_files,
    kubernetes_documents,
    kustomization,
    load_yaml,
    load_yaml_all,
    rules_data,
    schema_errors,
    schema_for,
)

# --- Kubernetes -------------------------------------------------------------------------------


def test_generated_kubernetes_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(KUBERNETES / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheusrule_has_the_same_rules_as_the_rules_file() -> None:
    (rule,) = load_yaml_all(KUBERNETES / "prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == rules_data()["groups"]


def test_dashboard_configmaps_hold_the_current_dashboards() -> None:
    maps = load_yaml_all(KUBERNETES / "dashboards.yaml")
    held = {key: value for cm in maps for key, value in cm["data"].items()}
    assert held == {path.name: path.read_text(encoding="utf-8") for path in dashboard_files()}
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (text,) = cm["data"].values()
        assert json.loads(text)["uid"]


def test_kubernetes_manifests_match_their_schemas() -> None:
    kinds = []
    for resource, doc in kubernetes_documents():
        kinds.append(doc["kind"])
        errors = schema_errors(schema_for(doc["kind"], doc["apiVersion"]), doc)
        assert errors == [], f"{resource} {doc['kind']}/{doc['metadata']['name']}: {errors}"
    assert {"PodMonitor", "PrometheusRule"} <= set(kinds)


def test_crd_schemas_reject_mistakes() -> None:
    podmonitor = load_yaml(KUBERNETES / "podmonitor.yaml")
    podmonitor["spec"]["podMetricsEndpoints"][0]["intervall"] = "15s"
    assert schema_errors(schema_for("PodMonitor", "monitoring.coreos.com/v1"), podmonitor)
    (rule,) = load_yaml_all(KUBERNETES / "prometheusrule.yaml")
    rule["spec"]["groups"][-1]["rules"][0]["for"] = "five minutes"
    assert schema_errors(schema_for("PrometheusRule", "monitoring.coreos.com/v1"), rule)


def test_kustomization_lists_every_manifest() -> None:
    listed = set(kustomization()["resources"])
    present = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_podmonitor_selects_the_app_as_job_axio_anthropic() -> None:
    podmonitor = load_yaml(KUBERNETES / "podmonitor.yaml")
    label = podmonitor["spec"]["jobLabel"]
    assert podmonitor["spec"]["selector"]["matchLabels"][label] == JOB
    (endpoint,) = podmonitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"


def test_kustomize_build() -> None:
    kubectl = shutil.which("kubectl")
    kustomize = shutil.which("kustomize")
    if kustomize:
        command = [kustomize, "build", str(KUBERNETES)]
    elif kubectl:
        command = [kubectl, "kustomize", str(KUBERNETES)]
    else:
        pytest.skip("neither kustomize nor kubectl is installed")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == sorted(["PodMonitor", "PrometheusRule"] + ["ConfigMap"] * len(dashboard_files()))
    for doc in docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == JOB
        errors = schema_errors(schema_for(doc["kind"], doc["apiVersion"]), doc)
        assert errors == [], f"{doc['kind']}/{doc['metadata']['name']}: {errors}"


# --- vendored schemas -------------------------------------------------------------------------


def test_vendored_schemas_are_documented_and_valid() -> None:
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    files = sorted(SCHEMAS.rglob("*.json"))
    assert files
    for path in files:
        schema = json.loads(path.read_text(encoding="utf-8"))
        relative = path.relative_to(SCHEMAS).as_posix()
        stem = path.name.removesuffix(".json").removesuffix("-v1")
        assert stem in readme, f"{relative} is not described in deploy/schemas/README.md"
        cls = (
            jsonschema.Draft201909Validator
            if relative == "compose-spec.json"
            else jsonschema.validators.validator_for(schema)
        )
        cls.check_schema(schema)
