"""BedrockTransport's settings, with no network: model ids in their three forms (and their prices),
the region and endpoint, the request as Bedrock takes it, saving and restoring, and what happens
without botocore."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from axio_transport_anthropic import ConfigurationError
from axio_transport_anthropic.backends.bedrock import Bedrock
from axio_transport_anthropic.bedrock_transport import BedrockTransport
from axio_transport_anthropic.models import ANTHROPIC_MODELS, cost_usd
from axio_transport_anthropic.request import encode_body

from .bedrock_support import aws_config
from .support import user, warnings_of

KEY_ID = "AKIAEXAMPLEKEYID0001"
SECRET_KEY = "example/secret/access/key/0123456789abcd"
TOKEN = "session-token-0123456789abcdefghij"

__all__ = ["aws_config"]  # fixtures

pytestmark = pytest.mark.timeout(30)


def backend(t: BedrockTransport) -> Bedrock:
    found = t.backend()
    assert isinstance(found, Bedrock)
    return found


# ── models ──────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("given", "sent", "priced_as"),
    [
        ("claude-sonnet-4-6", "global.anthropic.claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("claude-haiku-4-5", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("eu.anthropic.claude-opus-4-5-20251101-v1:0", "eu.anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5"),
        (
            "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
            "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5",
        ),
        ("apac.anthropic.claude-sonnet-4-6", "apac.anthropic.claude-sonnet-4-6", "claude-sonnet-4-6"),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-opus-4-6-v1",
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-opus-4-6-v1",
            "claude-opus-4-6",
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5",
        ),
    ],
)
def test_model_ids_in_every_form_are_priced_by_their_model(given: str, sent: str, priced_as: str) -> None:
    t = BedrockTransport(model=given, aws_region="us-east-1")
    assert t.model.id == sent
    catalogue = ANTHROPIC_MODELS[priced_as]
    assert (t.model.input_cost, t.model.output_cost) == (catalogue.input_cost, catalogue.output_cost)
    assert t.model.max_output_tokens == catalogue.max_output_tokens
    assert cost_usd(t.model, uncached_input=1_000_000, output=0) == catalogue.input_cost


def test_the_model_id_goes_in_the_path_quoted_as_the_sdk_does() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6"
    assert backend(BedrockTransport(model=arn, aws_region="us-east-1")).url() == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile%2Fus.anthropic.claude-sonnet-4-6"
        "/invoke-with-response-stream"
    )


@pytest.mark.parametrize(
    "model",
    [
        "amazon.titan-text-express-v1",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5",
        "anthropic.claude-nonexistent-9",
    ],
)
def test_an_id_naming_no_known_claude_model_is_refused_with_the_way_out(model: str) -> None:
    with pytest.raises(ConfigurationError, match=r"pass an axio\.models\.ModelSpec"):
        BedrockTransport(model=model)


def test_the_default_model_and_catalogue_use_bedrock_ids() -> None:
    t = BedrockTransport()
    assert t.model.id == "global.anthropic.claude-sonnet-4-6"
    assert BedrockTransport.default_models["chat"] in t.models
    assert all(".anthropic." in model_id for model_id in t.models.ids())


# ── region and endpoint ─────────────────────────────────────────────────────────────────────


async def url_of(t: BedrockTransport) -> str:
    await backend(t).prepare()
    return backend(t).url()


@pytest.mark.parametrize(
    ("environment", "argument", "region"),
    [
        ({}, "eu-central-1", "eu-central-1"),
        ({"AWS_REGION": "ap-northeast-1", "AWS_DEFAULT_REGION": "eu-west-1"}, "", "ap-northeast-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "", "eu-west-1"),
        ({"AWS_REGION": "ap-northeast-1"}, "us-west-2", "us-west-2"),
        ({}, "", "us-east-1"),
    ],
)
async def test_the_region_comes_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], argument: str, region: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    t = BedrockTransport(aws_region=argument)
    assert (
        await url_of(t)
        == f"https://bedrock-runtime.{region}.amazonaws.com/model/{t.model.id}/invoke-with-response-stream"
    )
    assert backend(t).region == region


def write(path: Path, text: str) -> None:
    path.write_text(text)


async def test_then_from_the_profiles_config(aws_config: Path) -> None:
    write(aws_config, "[default]\nregion = eu-north-1\n[profile work]\nregion = ca-central-1\n")
    t = BedrockTransport()
    assert backend(t).region == "us-east-1"  # the file is not read on the event loop
    await backend(t).prepare()
    assert backend(t).region == "eu-north-1"
    await backend(t := BedrockTransport(aws_profile="work")).prepare()
    assert backend(t).region == "ca-central-1"
    assert t.to_dict()["aws_region"] == ""  # found, not given: looked up again on restore


async def test_a_profile_that_does_not_exist_is_named() -> None:
    t = BedrockTransport(aws_profile="nowhere")
    with pytest.raises(ConfigurationError, match="aws_profile 'nowhere' is not in the AWS config files"):
        await backend(t).prepare()


@pytest.mark.parametrize("region", ["us_east_1", "US-EAST-1", "east", "us-east-1x"])
def test_a_region_that_is_not_one_is_refused(region: str) -> None:
    with pytest.raises(ConfigurationError, match="aws_region must be an AWS region"):
        BedrockTransport(aws_region=region)


async def test_an_endpoint_override_from_the_argument_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    t = BedrockTransport(
        base_url="https://vpce-123.bedrock-runtime.us-east-1.vpce.amazonaws.com/", aws_region="us-east-1"
    )
    assert (await url_of(t)).startswith("https://vpce-123.bedrock-runtime.us-east-1.vpce.amazonaws.com/model/")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9/proxy")
    assert (await url_of(BedrockTransport())).startswith("http://127.0.0.1:9/proxy/model/")
    with pytest.raises(ConfigurationError, match="base_url must be an http"):
        BedrockTransport(base_url="ftp://example.com")


# ── the request ─────────────────────────────────────────────────────────────────────────────


def test_the_body_is_bedrocks_and_betas_go_in_it() -> None:
    t = BedrockTransport(
        aws_region="us-east-1",
        betas=["context-1m-2025-08-07"],
        default_headers={"anthropic-beta": "interleaved-thinking-2025-05-14", "X-Amzn-Bedrock-Trace": "ENABLED"},
    )
    body = json.loads(encode_body(t.build_payload(user("hi"), [], "Be brief.")))
    assert "model" not in body and "stream" not in body
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["anthropic_beta"] == ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]
    headers = backend(t).headers()
    assert headers["X-Amzn-Bedrock-Trace"] == "ENABLED"
    assert not {"x-api-key", "anthropic-version", "anthropic-beta"} & {name.lower() for name in headers}


@pytest.mark.parametrize("name", ["Authorization", "X-Amz-Date", "x-amz-security-token", "Host"])
def test_headers_the_signature_owns_cannot_be_set(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"may not set {name}"):
        BedrockTransport(default_headers={name: "x"})


def test_anthropic_credentials_are_not_bedrocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-not-for-bedrock-0123456789")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "anthropic-gateway-token-0123")
    t = BedrockTransport()
    assert (t.api_key, t.auth_token) == ("", "")
    with pytest.raises(ConfigurationError, match="auth_token is not used with Bedrock"):
        BedrockTransport(auth_token="something")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"vertexai": True}, "Vertex AI's"),
        ({"project": "my-project"}, "Vertex AI's"),
        ({"aws_access_key_id": KEY_ID}, "go together"),
        ({"aws_secret_access_key": SECRET_KEY}, "go together"),
        ({"aws_session_token": TOKEN}, "needs aws_access_key_id"),
        ({"aws_profile": "a\nb"}, "aws_profile must not contain line breaks"),
    ],
)
def test_partial_keys_are_refused(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BedrockTransport(**given)


# ── saving and restoring ────────────────────────────────────────────────────────────────────


def test_to_dict_and_from_dict_round_trip() -> None:
    arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6"
    t = BedrockTransport(
        model=arn,
        aws_region="eu-west-1",
        aws_profile="work",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=TOKEN,
        base_url="https://proxy.internal",
        max_retries=4,
        betas=["context-1m-2025-08-07"],
    )
    saved = t.to_dict()
    assert "auth_token" not in saved
    restored = BedrockTransport.from_dict(json.loads(json.dumps(saved)))
    assert restored == t
    assert restored.model.id == arn and restored.model.input_cost == ANTHROPIC_MODELS["claude-sonnet-4-6"].input_cost
    assert restored.to_dict() == saved


def test_secrets_are_neither_in_reprs_nor_in_a_redacted_dump() -> None:
    t = BedrockTransport(
        api_key="bedrock-api-key-ABCDEFGHIJKLMNOP",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=TOKEN,
    )
    shown = repr(t) + str(t) + json.dumps(t.to_dict(redact=True)) + repr(backend(t)._credentials.secrets)
    for secret in ("bedrock-api-key-ABCDEFGHIJKLMNOP", KEY_ID, SECRET_KEY, TOKEN):
        assert secret not in shown
    assert t.to_dict(redact=True)["aws_secret_access_key"] == "[redacted]"


def test_a_key_from_the_environment_is_not_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-from-the-environment")
    t = BedrockTransport()
    assert t.api_key == "bedrock-api-key-from-the-environment"
    assert t.to_dict()["api_key"] == ""
    assert BedrockTransport.from_dict(t.to_dict()).api_key == "bedrock-api-key-from-the-environment"


def test_restoring_skips_what_no_longer_reads(caplog: pytest.LogCaptureFixture) -> None:
    restored = BedrockTransport.from_dict(
        {
            "model": "amazon.titan-text-express-v1",
            "aws_region": "moon-base-1x",
            "aws_profile": "a\nb",
            "aws_access_key_id": KEY_ID,
            "aws_secret_access_key": "[redacted]",
            "max_retries": "four",
            "api_key": "[redacted]",
            "surprise": 1,
        }
    )
    assert restored.model.id == "global.anthropic.claude-sonnet-4-6"
    assert (restored.aws_region, restored.aws_profile, restored.aws_access_key_id) == ("", "", "")
    assert restored.max_retries == 10
    warned = "\n".join(warnings_of(caplog))
    for what in ("model", "aws_region", "aws_profile", "AWS keys", "max_retries", "api_key", "surprise"):
        assert what in warned
    assert SECRET_KEY not in warned and KEY_ID not in warned


# ── botocore only when used ─────────────────────────────────────────────────────────────────


def test_importing_the_package_does_not_import_botocore() -> None:
    import subprocess

    code = "import sys, axio_transport_anthropic; from axio_transport_anthropic import BedrockTransport; "
    code += "BedrockTransport(aws_region='us-east-1'); print('botocore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_without_botocore_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'axio-transport-anthropic\[bedrock\]'"):
        BedrockTransport()
    # A Bedrock API key needs no signature, so no botocore.
    assert BedrockTransport(api_key="bedrock-api-key-0123456789").api_key
