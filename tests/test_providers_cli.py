"""``axio-anthropic demo|load|simulate --provider``: each provider's route on the simulator, through
the real command line, with the credentials that route wants (a service-account key and google-auth
for Vertex AI, botocore's SigV4 with the test keys for Bedrock), named truthfully; and a provider
this install cannot serve refused naming the extra."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from axio_transport_anthropic import demo as demo_module
from axio_transport_anthropic.cli import main
from axio_transport_anthropic.load import LoadConfig, LoadError, run_load
from axio_transport_anthropic.load import run as load_run
from axio_transport_anthropic.providers import SIMULATOR_LOCATION, SIMULATOR_PROJECT, SIMULATOR_REGION
from axio_transport_anthropic.simulator import Simulator
from axio_transport_anthropic.simulator.bedrock_auth import TEST_KEYS

from .bedrock_support import isolate_aws
from .otel_globals import clean_globals  # noqa: F401
from .support import simulate_process
from .vertex_support import clear_google_environment

pytestmark = [pytest.mark.usefixtures("clean_globals"), pytest.mark.timeout(60)]

ROUTES = {
    "anthropic": "/v1/messages",
    "vertex": f"/v1/projects/{SIMULATOR_PROJECT}/locations/{SIMULATOR_LOCATION}/publishers/anthropic/models/",
    "bedrock": "/model/global.anthropic.",
}


class Recording(Simulator):
    """The simulators a command starts, kept for the test to read what they served."""

    made: ClassVar[list[Simulator]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Recording.made.append(self)


@pytest.fixture
def no_cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No Anthropic, Google or AWS setting of the developer's: the simulator is all there is."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    clear_google_environment(monkeypatch, tmp_path)
    isolate_aws(monkeypatch, tmp_path)
    Recording.made.clear()
    monkeypatch.setattr(demo_module, "Simulator", Recording)
    monkeypatch.setattr(load_run, "Simulator", Recording)
    yield
    Recording.made.clear()


def served(provider: str) -> list[Any]:
    [sim] = Recording.made
    return [r for r in sim.requests if r.path.startswith(ROUTES[provider])]


@pytest.mark.usefixtures("no_cloud")
def test_the_demo_on_vertex_ai_uses_real_google_auth_against_the_simulator() -> None:
    result = CliRunner().invoke(main, ["demo", "--provider", "vertex"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("axio agent on claude-sonnet-4-6 via Vertex AI (project sim-project, us-east5)"), first
    assert "on the built-in simulator at http://127.0.0.1:" in first and "/token)" in first, first
    assert "[multiply -> 391]" in result.stdout and "[done: end_turn" in result.stdout
    requests = served("vertex")
    assert len(requests) == 2 and all(r.path.endswith("claude-sonnet-4-6:streamRawPredict") for r in requests)
    assert all(r.headers["authorization"].startswith("Bearer ya29.sim-") for r in requests)
    [sim] = Recording.made
    assert sim.vertex.oauth.issued == 1, "one token for the whole run: loaded once, refreshed only when due"
    assert not [r for r in sim.requests if r.path == "/v1/messages"]


@pytest.mark.usefixtures("no_cloud")
def test_the_demo_on_bedrock_signs_with_sigv4_against_the_simulator() -> None:
    result = CliRunner().invoke(main, ["demo", "--provider", "bedrock", "--model", "claude-haiku-4-5"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(
        "axio agent on global.anthropic.claude-haiku-4-5-20251001-v1:0 via Amazon Bedrock (us-east-1) "
        "on the built-in simulator at http://127.0.0.1:"
    ), first
    assert "[multiply -> 391]" in result.stdout and "[done: end_turn" in result.stdout
    requests = served("bedrock")
    assert len(requests) == 2
    scope = f"Credential={TEST_KEYS.access_key_id}/"
    for request in requests:
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 " + scope)
        assert f"/{SIMULATOR_REGION}/bedrock/aws4_request" in request.headers["authorization"]


@pytest.mark.usefixtures("no_cloud")
@pytest.mark.parametrize("provider", ["anthropic", "vertex", "bedrock"])
def test_load_runs_each_provider_through_the_fault_profiles(provider: str) -> None:
    args = ["load", "-n", "12", "-c", "3", "-q", "--provider", provider, "--profile", "overloaded", "--seed", "5"]
    result = CliRunner().invoke(main, [*args, "--retry-base-delay", "0.001", "--json", "-"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    [sim] = Recording.made
    assert document["provider"] == provider
    assert document["simulator"] is True and document["model"] == "claude-sonnet-4-6"
    assert document["runs"]["started"] == 12
    requests = served(provider)
    root = f"http://{requests[0].headers['host']}"
    assert document["target"] == (root if provider == "bedrock" else root + "/v1")
    assert len(requests) == len(sim.requests), "no request went to another provider's route"
    assert len(requests) >= 24, "every agent run is a two-turn tool loop"
    assert any(r.fault for r in requests), "the profile's faults were played on this provider's route"
    assert document["attempts"]["total"] == len(requests), "the summary counts what the route served"
    assert document["retries"]["total"] > 0 and document["requests"]["ok"] >= 20
    target_line = next(line for line in result.stderr.splitlines() if line.startswith("target: "))
    if provider != "anthropic":
        assert target_line.startswith(f"target: {'Vertex AI' if provider == 'vertex' else 'Amazon Bedrock'} on the ")


@pytest.mark.timeout(90)
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("provider", ["vertex", "bedrock"])
def test_simulate_prints_what_points_each_provider_at_it(
    provider: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The exports ``simulate --provider`` prints are enough: the demo, finding only them, and load
    given the endpoint reach the simulator's route through the transport's own credential lookup
    (ADC, the AWS chain), with no Anthropic key."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    clear_google_environment(monkeypatch, tmp_path)
    isolate_aws(monkeypatch, tmp_path)
    with simulate_process("--provider", provider, stderr=subprocess.PIPE) as (proc, base_url):
        assert proc.stdout is not None
        hints = [proc.stdout.readline().strip() for _ in range(4)]
        exports = dict(pair.split("=", 1) for line in hints if line.startswith("export ") for pair in line.split()[1:])
        variable = "ANTHROPIC_VERTEX_BASE_URL" if provider == "vertex" else "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
        assert exports[variable].removesuffix("/v1") == base_url.removesuffix("/v1"), hints
        if provider == "vertex":
            assert Path(exports["GOOGLE_APPLICATION_CREDENTIALS"]).is_file()
            assert json.loads(Path(exports["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())["token_uri"] == (
                base_url.removesuffix("/v1") + "/token"
            )
        else:
            assert exports["AWS_ACCESS_KEY_ID"] == TEST_KEYS.access_key_id
        result = CliRunner().invoke(main, ["demo", "--provider", provider], env=exports)
        url = exports[variable]
        args = ["load", "-n", "2", "-c", "1", "-q", "--provider", provider, "--base-url", url, "--json", "-"]
        loaded = CliRunner().invoke(main, args, env=exports)
        proc.terminate()
        _, log = proc.communicate(timeout=20)
    assert result.exit_code == 0, result.output
    assert f"via {'Vertex AI' if provider == 'vertex' else 'Amazon Bedrock'} at {variable}=" in result.stdout
    assert loaded.exit_code == 0, loaded.output
    document = json.loads(loaded.stdout)
    assert (document["provider"], document["target"], document["simulator"]) == (provider, url, False)
    assert document["runs"]["completed"] == 2, document["runs"]
    route = ":streamRawPredict -> 200" if provider == "vertex" else "/invoke-with-response-stream -> 200"
    assert route in log, log
    if provider == "vertex":
        assert "POST /token -> 200" in log, log


def test_simulate_names_the_providers_route_and_still_serves_anthropics() -> None:
    with simulate_process("--provider", "bedrock", "--quiet") as (proc, base_url):
        assert proc.stdout is not None
        route = proc.stdout.readline()
        request = urllib.request.Request(
            f"{base_url}/models", headers={"x-api-key": "k", "anthropic-version": "2023-06-01"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    assert route.startswith("Amazon Bedrock (invoke-with-response-stream") and base_url.endswith("/v1")


@pytest.mark.parametrize("command", [["demo"], ["load", "-n", "1"], ["simulate", "--port", "0"]])
def test_an_unknown_provider_is_a_usage_error(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--provider", "azure"])
    assert result.exit_code == 2, result.output
    assert "'azure' is not one of 'anthropic', 'vertex', 'bedrock'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("provider", "module", "extra"),
    [("bedrock", "botocore", "[bedrock]"), ("vertex", "google.auth", "[vertex]")],
)
@pytest.mark.parametrize("command", [["demo"], ["load", "-n", "1"]])
def test_a_provider_without_its_extra_is_refused_naming_it(
    provider: str, module: str, extra: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it fails
    result = CliRunner().invoke(main, [*command, "--provider", provider])
    assert result.exit_code == 2, result.output
    assert f"pip install 'axio-transport-anthropic{extra}'" in result.output
    assert "Traceback" not in result.output


def test_simulating_vertex_without_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)
    result = CliRunner().invoke(main, ["simulate", "--port", "0", "--provider", "vertex"])
    assert result.exit_code == 2, result.output
    assert "pip install 'axio-transport-anthropic[vertex]'" in result.output


async def test_run_load_refuses_an_unknown_provider_or_a_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LoadError, match=r"unknown provider 'azure'; known: anthropic, vertex, bedrock"):
        await run_load(LoadConfig(requests=1, provider="azure"))
    monkeypatch.setitem(sys.modules, "botocore", None)
    with pytest.raises(LoadError, match=re.escape("pip install 'axio-transport-anthropic[bedrock]'")):
        await run_load(LoadConfig(requests=1, provider="bedrock"))
