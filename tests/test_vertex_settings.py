"""Vertex AI settings, with no network: 0.12.2's public API (``vertexai``, ``project``,
``location``, ``VertexAITransport``, the entry point, the round trip), the host for each kind of
location, where project and region come from, the URL, body and headers, and google-auth's absence."""

from __future__ import annotations

import copy
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from axio.transport import discover_transports, select_transport_model

from axio_transport_anthropic import (
    ANTHROPIC_MODELS,
    AnthropicTransport,
    ConfigurationError,
    VertexAITransport,
)
from axio_transport_anthropic.models import vertex_model_id

from .support import user
from .vertex_support import clear_google_environment

ROOT = "https://us-east5-aiplatform.googleapis.com/v1/projects/proj/locations/us-east5/publishers/anthropic/models"


@pytest.fixture(autouse=True)
def _no_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_google_environment(monkeypatch, tmp_path)


def url_of(transport: AnthropicTransport) -> str:
    return transport.backend().url()


# ── 0.12.2's API ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("flag", [True, "true", "1", "True"])
def test_vertexai_is_read_as_0_12_2_read_it(flag: object) -> None:
    transport = AnthropicTransport(vertexai=flag, project="proj", location="us-east5")  # type: ignore[arg-type]
    assert transport.vertexai is True
    assert url_of(transport) == f"{ROOT}/claude-sonnet-4-6:streamRawPredict"


@pytest.mark.parametrize("flag", [False, "false", "0", ""])
def test_vertexai_false_is_the_direct_api(flag: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-direct-0123456789")
    transport = AnthropicTransport(vertexai=flag)  # type: ignore[arg-type]
    assert transport.vertexai is False
    assert url_of(transport) == "https://api.anthropic.com/v1/messages"


def test_a_vertex_transport_needs_no_anthropic_key() -> None:
    # Without a key, the direct API is refused at construction; Vertex uses Google credentials.
    with pytest.raises(ConfigurationError, match="no API key"):
        AnthropicTransport()
    assert AnthropicTransport(vertexai=True).vertexai is True


def test_vertex_ai_transport_as_axio_lists_it() -> None:
    transport = VertexAITransport(project="proj")
    assert (transport.vertexai, transport.name) == (True, "Anthropic Vertex AI")
    entry = discover_transports().require("anthropic-vertex")
    assert entry.cls is VertexAITransport
    assert (entry.display_name, entry.env_vars, entry.auto_select) == (
        "Anthropic Vertex AI",
        ("GOOGLE_CLOUD_PROJECT",),
        False,
    )
    [found] = [e for e in entry_points(group="axio.transport") if e.name == "anthropic-vertex"]
    assert found.load() is VertexAITransport


def test_to_dict_and_from_dict_round_trip_the_vertex_fields() -> None:
    original = AnthropicTransport(vertexai=True, project="my-project", location="europe-west1", max_retries=2)
    data = original.to_dict()
    assert (data["vertexai"], data["project"], data["location"]) == (True, "my-project", "europe-west1")
    assert "base_url" not in data  # the default names the direct API: Google's host comes from the location
    restored = AnthropicTransport.from_dict(data)
    assert (restored.vertexai, restored.project, restored.location, restored.max_retries) == (
        True,
        "my-project",
        "europe-west1",
        2,
    )
    assert url_of(restored) == url_of(original)
    assert "vertexai" not in AnthropicTransport(api_key="sk-ant-k-0123456789").to_dict()


def test_settings_saved_as_text_by_axio_tui_restore() -> None:
    restored = VertexAITransport.from_dict({"vertexai": "true", "project": " proj ", "location": "us"})
    assert (restored.vertexai, restored.project, restored.location) == (True, "proj", "us")


def test_a_0_12_2_dump_with_anthropics_base_url_still_goes_to_google() -> None:
    saved = {"vertexai": True, "project": "proj", "location": "us-east5", "base_url": "https://api.anthropic.com/v1"}
    assert url_of(AnthropicTransport.from_dict(saved)).startswith(ROOT)


def test_without_google_auth_construction_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("google.auth", "google.auth.transport.requests"):
        monkeypatch.setitem(sys.modules, module, None)
    for flag in (True, "true", "1"):
        with pytest.raises(ImportError, match=r"pip install 'axio-transport-anthropic\[vertex\]'") as caught:
            AnthropicTransport(vertexai=flag, project="proj")
        assert isinstance(caught.value, ConfigurationError)
        assert "google-auth" in str(caught.value)
    # A restore fails the same way rather than quietly falling back to the direct API.
    with pytest.raises(ImportError, match="google-auth"):
        AnthropicTransport.from_dict({"vertexai": True, "project": "proj"})
    assert AnthropicTransport(vertexai=False, api_key="sk-ant-k-0123456789").vertexai is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("project", "my/project"), ("project", "a b"), ("location", "us-east5/../x"), ("location", 5), ("vertexai", 2)],
)
def test_values_that_cannot_go_in_the_url_are_refused(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field):
        AnthropicTransport(**{"vertexai": True, field: value})  # type: ignore[arg-type]


# ── where requests go ───────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("global", "aiplatform.googleapis.com"),
        ("us", "aiplatform.us.rep.googleapis.com"),
        ("eu", "aiplatform.eu.rep.googleapis.com"),
        ("us-east5", "us-east5-aiplatform.googleapis.com"),
        ("europe-west1", "europe-west1-aiplatform.googleapis.com"),
    ],
)
def test_the_host_for_each_kind_of_location(location: str, host: str) -> None:
    url = url_of(AnthropicTransport(vertexai=True, project="proj", location=location))
    assert url.startswith(f"https://{host}/v1/projects/proj/locations/{location}/publishers/anthropic/models/")


def test_project_and_region_come_from_the_arguments_then_the_sdks_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    assert "/locations/europe-west4/" in url_of(AnthropicTransport(vertexai=True, project="p1"))
    monkeypatch.setenv("CLOUD_ML_REGION", "us-east5")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-gcloud-env")
    assert "/projects/from-gcloud-env/locations/us-east5/" in url_of(AnthropicTransport(vertexai=True))
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", "from-sdk-env")
    assert "/projects/from-sdk-env/" in url_of(AnthropicTransport(vertexai=True))
    explicit = AnthropicTransport(vertexai=True, project="given", location="eu")
    assert url_of(explicit).startswith("https://aiplatform.eu.rep.googleapis.com/v1/projects/given/locations/eu/")
    for name in ("CLOUD_ML_REGION", "GOOGLE_CLOUD_LOCATION"):
        monkeypatch.delenv(name)
    assert "/locations/global/" in url_of(AnthropicTransport(vertexai=True))


def test_base_url_and_anthropic_vertex_base_url_override_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://direct-api-gateway.internal")  # names the direct API only
    assert url_of(AnthropicTransport(vertexai=True, project="p")).startswith("https://aiplatform.googleapis.com/v1/")
    monkeypatch.setenv("ANTHROPIC_VERTEX_BASE_URL", "https://vertex-proxy.internal")
    assert url_of(AnthropicTransport(vertexai=True, project="p")).startswith(
        "https://vertex-proxy.internal/v1/projects/p/"
    )
    given = AnthropicTransport(vertexai=True, project="p", base_url="http://127.0.0.1:9/v1")
    assert url_of(given).startswith("http://127.0.0.1:9/v1/projects/p/locations/global/")
    assert AnthropicTransport.from_dict(given.to_dict()).to_dict()["base_url"] == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("model", "vertex_id"),
    [
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("claude-opus-4-6", "claude-opus-4-6"),
        ("claude-haiku-4-5", "claude-haiku-4-5@20251001"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5@20251001"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5@20250929"),
        ("claude-opus-4-5", "claude-opus-4-5@20251101"),
    ],
)
def test_model_ids_are_sent_in_vertex_form(model: str, vertex_id: str) -> None:
    url = url_of(AnthropicTransport(vertexai=True, project="proj", location="us-east5", model=model))
    assert url == f"{ROOT}/{vertex_id}:streamRawPredict"


def test_ids_outside_the_table() -> None:
    assert vertex_model_id("claude-3-5-sonnet-v2-20241022") == "claude-3-5-sonnet-v2@20241022"
    assert vertex_model_id("claude-sonnet-4@20250514") == "claude-sonnet-4@20250514"
    assert vertex_model_id("anthropic/claude-opus-4-5") == "claude-opus-4-5@20251101"
    assert vertex_model_id("claude-future-5") == "claude-future-5"


def test_axios_model_switch_sends_the_new_model() -> None:
    # axio copies the transport (copy.copy) and sets the model: the copy must not reuse a backend
    # made for the original, but shares its credentials.
    transport = AnthropicTransport(vertexai=True, project="proj", location="us-east5")
    before = url_of(transport)
    haiku = select_transport_model(transport, ANTHROPIC_MODELS["claude-haiku-4-5"])
    assert url_of(haiku) == f"{ROOT}/claude-haiku-4-5@20251001:streamRawPredict"
    assert url_of(transport) == before
    assert haiku._google is transport._google is not None
    assert url_of(copy.copy(transport)) == before


def test_the_body_has_vertexs_version_and_no_model() -> None:
    transport = AnthropicTransport(vertexai=True, project="proj")
    body = transport.build_payload(user("Hi"), [], "be brief")
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert "model" not in body
    assert body["stream"] is True
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_the_headers_carry_no_anthropic_key_or_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-to-google-0123")
    transport = AnthropicTransport(
        vertexai=True, project="proj", betas=["context-1m-2025-08-07"], default_headers={"X-Team": "search"}
    )
    headers = {name.lower(): value for name, value in transport.backend().headers().items()}
    assert "x-api-key" not in headers and "anthropic-version" not in headers and "authorization" not in headers
    assert headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert headers["x-team"] == "search"
    assert headers["content-type"] == "application/json"


def test_the_provider_is_gcp_vertex_ai() -> None:
    assert AnthropicTransport(vertexai=True, project="p").backend().provider == "gcp.vertex_ai"
