"""The Kubernetes manifests under deploy/kubernetes/ and the JSON schemas vendored in deploy/schemas/:
generated files up to date, every manifest valid against its schema, kustomize builds them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from .deploy_support import (
    JOB,
    KUBERNETES,
    README,
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
from .deploy_support import (
    alerts as alert_rules,
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


TRACING = KUBERNETES / "tracing"
#: The exemplar label holding the trace id (the package's exemplars; the Compose provisioning uses it too).
TRACE_ID_LABEL = "trace_id"


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


# --- settings of the generated manifests --------------------------------------------------------


def generate(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(KUBERNETES / "generate.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def panel_links(dashboard: dict[str, Any]) -> list[str]:
    return [
        str(link["url"])
        for panel in dashboard["panels"]
        for link in [
            *(panel.get("links") or []),
            *((panel.get("fieldConfig") or {}).get("defaults") or {}).get("links", []),
        ]
    ]


def test_generator_builds_runbook_urls_and_trace_links_from_its_settings(tmp_path: Path) -> None:
    base = "https://runbooks.example.com/axio-anthropic"
    jaeger = "https://jaeger.example.com"
    result = generate(
        "--runbook-base-url",
        base,
        "--jaeger-url",
        jaeger,
        "--trace-service",
        "my-agent",
        "--out-dir",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    (rule,) = load_yaml_all(tmp_path / "out" / "prometheusrule.yaml")
    for group, source in zip(rule["spec"]["groups"], rules_data()["groups"], strict=True):
        for got, rule_source in zip(group["rules"], source["rules"], strict=True):
            if "alert" in got:
                assert got["annotations"]["runbook_url"] == f"{base}#{got['alert'].lower()}"
                got["annotations"]["runbook_url"] = rule_source["annotations"]["runbook_url"]
            assert got == rule_source
    default_base = str(alert_rules()[0]["annotations"]["runbook_url"]).partition("#")[0]
    for cm in load_yaml_all(tmp_path / "out" / "dashboards.yaml"):
        (text,) = cm["data"].values()
        assert default_base not in text
        dashboard = json.loads(text)
        runbooks = [url for url in panel_links(dashboard) if "#axioanthropic" in url]
        assert runbooks and all(url.startswith(base + "#axioanthropic") for url in runbooks)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert (variables["jaeger_url"]["query"], variables["jaeger_url"]["current"]["value"]) == (jaeger, jaeger)
        assert variables["trace_service"]["query"] == "my-agent"
    # The committed files were left alone.
    assert generate("--check").returncode == 0


@pytest.mark.parametrize("base", ["deploy/README.md", "wiki.example.com/runbooks", "https://x.example.com/a#b"])
def test_generator_rejects_a_runbook_base_url_that_is_not_absolute(base: str, tmp_path: Path) -> None:
    result = generate("--runbook-base-url", base, "--out-dir", str(tmp_path))
    assert result.returncode == 2
    assert "absolute" in result.stderr, result.stderr
    assert not list(tmp_path.iterdir())


# --- traces and exemplars on Kubernetes ---------------------------------------------------------


def test_tracing_files_turn_on_exemplars_and_link_them_to_jaeger() -> None:
    # kube-prometheus-stack's values: Prometheus' feature flag, the chart's own Prometheus data
    # source pointed at the Jaeger data source added next to it.
    values = load_yaml(TRACING / "kube-prometheus-stack-values.yaml")
    assert "exemplar-storage" in values["prometheus"]["prometheusSpec"]["enableFeatures"]
    jaeger = {source["uid"]: source for source in values["grafana"]["additionalDataSources"]}
    destination = values["grafana"]["sidecar"]["datasources"]["exemplarTraceIdDestinations"]
    assert destination == {"datasourceUid": "jaeger", "traceIdLabelName": TRACE_ID_LABEL}
    assert jaeger["jaeger"]["type"] == "jaeger" and jaeger["jaeger"]["url"].startswith("http")
    # Any other Prometheus Operator: a merge patch for the Prometheus resource.
    assert load_yaml(TRACING / "prometheus-exemplars.patch.yaml") == {"spec": {"enableFeatures": ["exemplar-storage"]}}
    # Any other Grafana with the datasource sidecar: a provisioning file in a labelled ConfigMap.
    (cm,) = load_yaml_all(TRACING / "grafana-datasources.yaml")
    assert schema_errors(schema_for(cm["kind"], cm["apiVersion"]), cm) == []
    assert cm["metadata"]["labels"]["grafana_datasource"] == "1"
    (text,) = cm["data"].values()
    sources = {source["uid"]: source for source in yaml.safe_load(text)["datasources"]}
    links = sources["axio-anthropic-prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert links == [{"name": TRACE_ID_LABEL, "datasourceUid": "jaeger"}]
    assert sources["jaeger"]["type"] == "jaeger"
    assert sources["axio-anthropic-prometheus"]["type"] == "prometheus"
    assert not any(source.get("isDefault") for source in sources.values()), "would clash with the existing default"


def test_deploy_readme_sets_up_exemplars_and_trace_links_on_kubernetes() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Kubernetes") : text.index("## Alerts")]
    for needle in (
        "enableFeatures",
        "exemplar-storage",
        "exemplarTraceIdDestinations",
        "--runbook-base-url",
        "--jaeger-url",
        "--trace-service",
    ):
        assert needle in section, needle
    for path in TRACING.iterdir():
        assert f"kubernetes/tracing/{path.name}" in section, f"{path.name} is not explained"
    for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL):
        yaml.safe_load(block)
