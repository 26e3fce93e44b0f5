"""The Docker Compose stack under deploy/: the Compose file against the Compose Specification's
schema (vendored in deploy/schemas/), the services, images and commands against what the package
provides, and the Grafana provisioning and collector configuration it mounts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from .deploy_support import (
    COLLECTOR_CONFIG,
    DASHBOARD_PROVIDERS,
    DASHBOARDS,
    DATASOURCES,
    DEPLOY,
    ROOT,
    command_text,
    compose,
    dashboard_files,
    interpolate_defaults,
    load_schema,
    load_yaml,
    schema_errors,
    service,
)

SERVICES = {"simulator", "app", "prometheus", "grafana", "jaeger", "otel-collector"}


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
