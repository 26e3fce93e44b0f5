"""The deployment files under deploy/, checked offline.

Prometheus configuration and rules go through the real ``promtool`` (check config, check rules,
test rules); Compose, Kubernetes and Grafana files are validated against the JSON schemas
vendored in deploy/schemas/ (sources in deploy/schemas/README.md) and against what the package
actually exports: metric names, histogram buckets, CLI commands.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from prometheus_client import CollectorRegistry
from prometheus_client.utils import floatToGoString

from axio_transport_anthropic.telemetry.instruments import TTFT_BUCKETS, prom_instruments

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
SERVICES = {"simulator", "app", "prometheus", "grafana", "jaeger", "otel-collector"}
SEVERITIES = {"critical", "warning", "info"}
#: The SLO bound of the time-to-first-token rules, in seconds.
TTFT_SLO_SECONDS = 5.0
#: How prometheus-client writes a bucket bound into the `le` label (5.0 -> "5.0").
go_float: Callable[[float], str] = floatToGoString


# --- helpers ----------------------------------------------------------------------------------


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


def exported_series_names() -> set[str]:
    """Every sample name the package's Prometheus instruments produce, with each label child created."""
    registry = CollectorRegistry()
    series = prom_instruments(registry).series("claude-sonnet-4-6")
    for by_label in (series.attempts, series.retries, series.backoff_seconds, series.stop_reasons, series.errors):
        by_label("x").inc()
    for gauge in (series.ratelimit_remaining, series.ratelimit_limit):
        gauge("requests").set(1)
    return {sample.name for family in registry.collect() for sample in family.samples}


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


# --- Prometheus: promtool ---------------------------------------------------------------------


def test_promtool_check_config(tmp_path: Path) -> None:
    # From another directory: rule_files must resolve relative to the configuration file.
    output = run_promtool("check", "config", PROMETHEUS_CONFIG, cwd=tmp_path)
    assert re.search(r"SUCCESS: 1 rule files? found", output), output
    assert f"{len(all_rules())} rules found" in output, output


def test_promtool_check_rules() -> None:
    output = run_promtool("check", "rules", RULES_FILE)
    assert f"{len(all_rules())} rules found" in output, output


def test_promtool_test_rules() -> None:
    assert RULE_TESTS, "no unit tests in deploy/prometheus/tests/"
    output = run_promtool("test", "rules", *RULE_TESTS)
    assert output.count("SUCCESS") == len(RULE_TESTS), output


# --- Prometheus: rules ------------------------------------------------------------------------


def rule_test_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in RULE_TESTS:
        data = load_yaml(path)
        assert [(path.parent / name).resolve() for name in data["rule_files"]] == [RULES_FILE], path
        cases.extend(data["tests"])
    return cases


def test_every_alert_has_firing_and_quiet_unit_tests() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in rule_test_cases():
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = set(alert_names())
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested not firing"
    assert (firing | quiet) - names == set(), "tests for alerts that do not exist"


def test_every_recording_rule_has_a_unit_test() -> None:
    tested = " ".join(check["expr"] for case in rule_test_cases() for check in case.get("promql_expr_test", []))
    untested = [rule["record"] for rule in records() if not re.search(rf"{re.escape(rule['record'])}\b", tested)]
    assert untested == []


def test_rule_names_are_unique_and_groups_well_formed() -> None:
    names = [rule.get("alert") or rule.get("record") for rule in all_rules()]
    assert len(alert_names()) == len(set(alert_names()))
    assert all(names)
    group_names = [group["name"] for group in rules_data()["groups"]]
    assert len(group_names) == len(set(group_names))


@pytest.mark.parametrize("alert", alert_names())
def test_alert_has_severity_annotations_and_runbook(alert: str) -> None:
    rule = next(rule for rule in alerts() if rule["alert"] == alert)
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    url = annotations["runbook_url"]
    page, _, anchor = url.partition("#")
    assert page == "deploy/README.md", url
    assert anchor == github_anchor(alert), url
    assert anchor in readme_anchors(), f"deploy/README.md has no section #{anchor}"
    assert re.fullmatch(r"\d+[smh]", rule["for"]), rule.get("for")


def test_readme_lists_every_alert() -> None:
    text = README.read_text(encoding="utf-8")
    for alert in alert_names():
        assert f"[`{alert}`](#{github_anchor(alert)})" in text, f"{alert} missing from the alert table"


def test_rules_only_use_metrics_the_package_exports() -> None:
    exported = exported_series_names()
    defined = {rule["record"] for rule in records()}
    for rule in all_rules():
        expr = rule["expr"]
        for name in re.findall(r"(?<![:\w])axio_anthropic_\w+(?![:\w])", expr):
            assert name in exported, f"{rule.get('alert') or rule.get('record')}: {name} is not exported"
        for name in re.findall(r"\b[a-z_]+:axio_anthropic_\w+:\w+\b", expr):
            assert name in defined, f"{rule.get('alert') or rule.get('record')}: no recording rule {name}"


def test_ttft_slo_uses_an_existing_bucket_bound() -> None:
    assert TTFT_SLO_SECONDS in TTFT_BUCKETS
    bounds = {go_float(bound) for bound in TTFT_BUCKETS}
    used = {le for rule in all_rules() for le in re.findall(r'le="([^"]+)"', rule["expr"])}
    assert used == {go_float(TTFT_SLO_SECONDS)}
    assert used <= bounds


def test_retry_alerts_react_within_two_minutes() -> None:
    # A short verification run must see the 429 and 529 alerts pending or firing.
    for alert in ("AxioAnthropicRateLimited", "AxioAnthropicOverloaded"):
        rule = next(rule for rule in alerts() if rule["alert"] == alert)
        assert rule["for"] == "1m"
        recorded = re.search(r"\b([a-z_]+:axio_anthropic_\w+:\w+)\b", rule["expr"])
        assert recorded is not None
        source = next(r for r in records() if r["record"] == recorded.group(1))
        windows = set(re.findall(r"\[(\w+)\]", source["expr"]))
        dependencies = re.findall(r"\b([a-z_]+:axio_anthropic_\w+:\w+)\b", source["expr"])
        for dependency in dependencies:
            windows |= set(re.findall(r"\[(\w+)\]", next(r for r in records() if r["record"] == dependency)["expr"]))
        assert windows == {"1m"}, (alert, windows)


def test_availability_alerts_name_the_scrape_job() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alerts()}
    assert f'up{{job="{JOB}"}} == 0' in exprs["AxioAnthropicTargetDown"]
    assert f'absent(up{{job="{JOB}"}})' in exprs["AxioAnthropicTargetMissing"]
    # Every other rule works whatever the job is called.
    others = [rule["expr"] for rule in all_rules() if "up{" not in rule["expr"]]
    assert not any("job=" in expr for expr in others)


def test_prometheus_config_scrapes_the_app() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    app = jobs[JOB]
    targets = [target for static in app["static_configs"] for target in static["targets"]]
    assert targets == ["app:9464"]
    assert app.get("metrics_path", "/metrics") == "/metrics"
    interval = app.get("scrape_interval", config["global"]["scrape_interval"])
    assert 5 <= int(interval.rstrip("s")) <= 15
    rule_globs = config["rule_files"]
    matched = {path.resolve() for pattern in rule_globs for path in PROMETHEUS_DIR.glob(pattern)}
    assert matched == {RULES_FILE}


# --- Docker Compose ---------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    schema = load_schema("compose-spec.json")
    assert schema_errors(schema, compose(), jsonschema.Draft201909Validator) == []


def test_compose_schema_rejects_a_misspelt_key() -> None:
    # Proves the schema is strict enough to be worth running.
    broken = json.loads(json.dumps(compose()))
    broken["services"]["app"]["comand"] = broken["services"]["app"].pop("command")
    errors = schema_errors(load_schema("compose-spec.json"), broken, jsonschema.Draft201909Validator)
    assert errors, "the schema accepted services.app.comand"


def test_compose_services_and_pinned_images() -> None:
    assert set(compose()["services"]) == SERVICES
    for name, spec in compose()["services"].items():
        if "build" in spec:
            build = spec["build"]
            assert build["context"] == ".."
            assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        else:
            image = spec["image"]
            repository, _, tag = image.rpartition(":")
            assert repository and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: image {image} is not pinned"


def test_compose_bind_mounts_exist() -> None:
    for name, spec in compose()["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"


def test_compose_simulator_and_app_commands() -> None:
    simulator = interpolate_defaults(command_text("simulator"))
    assert simulator.startswith("axio-anthropic simulate ")
    for option in ("--host=0.0.0.0", "--port=8765", "--profile=flaky"):
        assert option in simulator
    app = interpolate_defaults(command_text("app"))
    assert app.startswith("axio-anthropic load ")
    for option in (
        "--base-url=http://simulator:8765/v1",
        "--concurrency=8",
        "--metrics-port=9464",
        "--metrics-addr=0.0.0.0",
    ):
        assert option in app
    environment = service("app")["environment"]
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert interpolate_defaults(environment["ANTHROPIC_API_KEY"]) == "sk-simulator"


def test_compose_app_options_exist_in_the_cli() -> None:
    from axio_transport_anthropic.cli import main

    assert "simulate" in main.commands
    load = main.commands.get("load")
    if load is None:
        pytest.skip("the load command is not in the CLI yet")
    options = {opt for param in load.params for opt in getattr(param, "opts", [])}
    passed = {arg.split("=", 1)[0] for arg in service("app")["command"] if arg.startswith("--")}
    assert passed <= options


def listening_on_all_interfaces(port: int) -> bool:
    """True when /proc/net/tcp shows a socket listening on 0.0.0.0:port."""
    wanted = f"00000000:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":
            return True
    return False


def test_app_command_serves_metrics_on_all_interfaces() -> None:
    # Prometheus in another container scrapes the app: run the compose command's load options here,
    # against the built-in simulator, and check where /metrics listens.
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp to see the listen address")
    command = service("app")["command"]
    assert command[:2] == ["axio-anthropic", "load"]
    assert "--metrics-addr=0.0.0.0" in command
    args = ["--requests=2", "--concurrency=1", "--metrics-port=0", "--metrics-addr=0.0.0.0", "--linger=10", "--quiet"]
    script = "from axio_transport_anthropic.cli import main; main(prog_name='axio-anthropic')"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "load", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            found = re.match(r"metrics: http://[^/]+:(\d+)/metrics", line)
            if found:
                port = int(found.group(1))
                break
        assert port is not None, "".join(seen)
        assert listening_on_all_interfaces(port), f"/metrics on port {port} is not bound to 0.0.0.0"
    finally:
        proc.kill()
        proc.wait(10)


def test_compose_prometheus_grafana_and_tracing() -> None:
    prometheus = service("prometheus")
    assert "--enable-feature=exemplar-storage" in prometheus["command"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in prometheus["volumes"]
    grafana = service("grafana")
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    dashboards_mount = next(v for v in grafana["volumes"] if v.startswith("../dashboards:"))
    provider = load_yaml(DASHBOARD_PROVIDERS)["providers"][0]
    assert dashboards_mount.split(":")[1] == provider["options"]["path"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.parent.as_posix() == provider["options"]["path"]
    if dashboard_files():
        assert (DASHBOARDS / home.name).is_file(), f"home dashboard dashboards/{home.name} does not exist"
    assert service("jaeger")["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_dockerfile_installs_the_project_with_otel() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.12-slim\b", text, re.MULTILINE)
    assert 'pip install ".[otel]"' in text
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    assert "!src/" in ignore and "!pyproject.toml" in ignore and "!README.md" in ignore


# --- Grafana and the collector ----------------------------------------------------------------


def test_grafana_prometheus_datasource_links_exemplars_to_jaeger() -> None:
    datasources = {source["uid"]: source for source in load_yaml(DATASOURCES)["datasources"]}
    prometheus, jaeger = datasources["prometheus"], datasources["jaeger"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus["jsonData"]["exemplarTraceIdDestinations"] == [{"name": "trace_id", "datasourceUid": "jaeger"}]
    assert jaeger["type"] == "jaeger"
    assert jaeger["url"] == "http://jaeger:16686"


def test_grafana_dashboard_provider() -> None:
    providers = load_yaml(DASHBOARD_PROVIDERS)
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"


def test_collector_sends_traces_to_jaeger() -> None:
    config = load_yaml(COLLECTOR_CONFIG)
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert "batch" in traces["processors"]
    (exporter,) = traces["exporters"]
    assert exporter.split("/")[0] == "otlp"
    assert config["exporters"][exporter] == {"endpoint": "jaeger:4317", "tls": {"insecure": True}}
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{component} is used but not defined"


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


def schema_for(kind: str, api_version: str) -> dict[str, Any]:
    group, _, version = api_version.rpartition("/")
    if group == "":
        return load_schema(f"kubernetes/{kind.lower()}-{version}.json")
    return load_schema(f"{group}/{kind.lower()}-{version}.json")


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
