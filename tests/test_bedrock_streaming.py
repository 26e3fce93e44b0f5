"""BedrockTransport against the simulator's Bedrock route, through botocore's real code paths:
the signature the simulator checks was made over exactly what aiohttp sent, every attempt is
signed again, the default credential chain runs in a worker thread and picks up rotated keys, a
Bedrock API key works alone, and the request id and provider reach errors and spans. Errors and
faults: tests/test_bedrock_faults.py."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.credentials
import botocore.session
import pytest
from axio.events import IterationEnd
from axio.transport import select_transport_model

from axio_transport_anthropic import APIStatusError, BedrockTransport
from axio_transport_anthropic.backends.aws_credentials import CredentialsUnavailable
from axio_transport_anthropic.simulator import Fault, Reply, Simulator
from axio_transport_anthropic.simulator.bedrock_auth import TEST_KEYS
from axio_transport_anthropic.streaming import _request_info

from .bedrock_support import ROTATED_KEYS, SESSION_KEYS, CredentialProcess, aws_config, bedrock
from .leaks import Captured, assert_released
from .support import collect, keyless_sim, text_of

__all__ = ["aws_config", "keyless_sim"]  # fixtures

pytestmark = pytest.mark.timeout(30)

PLAIN = "anthropic.claude-sonnet-4-5-20250929-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"


# ── the signature ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("model", [PLAIN, ARN], ids=["id with a colon", "ARN with a slash"])
async def test_the_signature_covers_the_path_as_it_is_sent(sim: Simulator, model: str) -> None:
    sim.enqueue(Reply.text("signed and verified"))
    events = await collect(bedrock(sim, model=model))
    assert text_of(events) == "signed and verified"
    [seen] = sim.requests
    assert seen.path == f"/model/{model}/invoke-with-response-stream"
    assert seen.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={TEST_KEYS.access_key_id}/")
    assert "/us-east-1/bedrock/aws4_request" in seen.headers["authorization"]
    assert seen.body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in seen.body


async def test_a_path_signed_in_another_spelling_than_sent_is_refused(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reason for signing the URL as yarl writes it: botocore's own %3A goes out as ":"."""
    from axio_transport_anthropic.backends.sigv4 import sign as original

    def as_botocore_quotes(credentials: Any, region: str, url: str, headers: dict[str, str], body: bytes) -> str:
        return original(credentials, region, url.replace("-v1:0/", "-v1%3A0/"), headers, body)

    monkeypatch.setattr("axio_transport_anthropic.backends.bedrock.sign", as_botocore_quotes)
    with pytest.raises(APIStatusError) as caught:
        await collect(bedrock(sim, model=PLAIN))
    assert (caught.value.status, caught.value.error_type) == (403, "InvalidSignatureException")


@pytest.mark.timeout(20)
async def test_every_attempt_is_signed_again(sim: Simulator) -> None:
    # A second apart, so the signing time differs: the date is signed to the second.
    sim.inject(Fault.http_error(429, "ThrottlingException", "Too many requests", {"retry-after": "1.1"}))
    await collect(bedrock(sim))
    first, second = sim.requests
    assert first.headers["x-amz-date"] != second.headers["x-amz-date"]
    assert first.headers["authorization"] != second.headers["authorization"]


async def test_session_credentials_send_their_token(sim: Simulator) -> None:
    sim.bedrock.auth.rotate(SESSION_KEYS)
    await collect(bedrock(sim, SESSION_KEYS))
    assert sim.requests[-1].headers["x-amz-security-token"] == SESSION_KEYS.session_token


async def test_a_bedrock_api_key_is_sent_as_a_bearer_token(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    sim.bedrock.auth.api_keys.add("bedrock-api-key-from-the-environment")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-from-the-environment")
    await collect(bedrock(sim, keys=None))
    headers = sim.requests[-1].headers
    assert headers["authorization"] == "Bearer bedrock-api-key-from-the-environment"
    assert "x-amz-date" not in headers and "x-api-key" not in headers


# ── credentials from the default chain ──────────────────────────────────────────────────────


async def test_credentials_from_the_environment(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_KEYS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_KEYS.secret_access_key)
    assert text_of(await collect(bedrock(sim, keys=None)))


@pytest.fixture
def loop_thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Each call of botocore's blocking entry points, and whether it ran on the event loop's thread."""
    calls: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()

    def spy(owner: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(owner, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, threading.get_ident() == loop_thread))
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, recorded)

    spy(botocore.session.Session, "get_credentials")
    spy(botocore.session.Session, "get_config_variable")
    spy(botocore.credentials.RefreshableCredentials, "get_frozen_credentials")
    spy(botocore.credentials.Credentials, "get_frozen_credentials")
    return calls


async def test_the_chain_never_runs_on_the_event_loop(
    sim: Simulator, tmp_path: Path, aws_config: Path, loop_thread_calls: list[tuple[str, bool]]
) -> None:
    process = CredentialProcess(tmp_path, aws_config)
    process.set(SESSION_KEYS)
    sim.bedrock.auth.rotate(SESSION_KEYS)
    t = bedrock(sim, keys=None, aws_profile=process.profile, aws_region="")
    async with t:
        for _ in range(3):
            await collect(t)
    names = {name for name, _ in loop_thread_calls}
    assert {"get_credentials", "get_config_variable", "get_frozen_credentials"} <= names
    assert [call for call in loop_thread_calls if call[1]] == []
    assert process.runs == 1  # resolved once, then reused while fresh


async def test_concurrent_streams_wait_for_one_resolution(sim: Simulator, tmp_path: Path, aws_config: Path) -> None:
    process = CredentialProcess(tmp_path, aws_config)
    process.set(SESSION_KEYS)
    sim.bedrock.auth.rotate(SESSION_KEYS)
    t = bedrock(sim, keys=None, aws_profile=process.profile)
    async with t:
        results = await asyncio.gather(*(collect(t) for _ in range(6)))
    assert all(isinstance(events[-1], IterationEnd) for events in results)
    assert process.runs == 1


async def test_a_model_switch_shares_the_credentials(sim: Simulator, tmp_path: Path, aws_config: Path) -> None:
    """axio switches models on a copy of the transport: it signs with the same resolved keys."""
    process = CredentialProcess(tmp_path, aws_config)
    process.set(SESSION_KEYS)
    sim.bedrock.auth.rotate(SESSION_KEYS)
    t = bedrock(sim, keys=None, aws_profile=process.profile)
    async with t:
        await collect(t)
        switched = select_transport_model(t, t.models["global.anthropic.claude-haiku-4-5-20251001-v1:0"])
        await collect(switched)
    assert [r.path.split("/")[2] for r in sim.requests] == [t.model.id, switched.model.id]
    assert switched.model.id != t.model.id
    assert process.runs == 1


async def test_credentials_near_expiry_are_refreshed_and_rotated_keys_used(
    sim: Simulator, tmp_path: Path, aws_config: Path
) -> None:
    """botocore refreshes a set that expires within 15 minutes: the next request signs with the
    keys the source hands out then."""
    process = CredentialProcess(tmp_path, aws_config, lifetime=timedelta(minutes=5))
    process.set(SESSION_KEYS)
    sim.bedrock.auth.rotate(SESSION_KEYS)
    t = bedrock(sim, keys=None, aws_profile=process.profile)
    async with t:
        await collect(t)
        process.set(ROTATED_KEYS)
        sim.bedrock.auth.rotate(ROTATED_KEYS)
        await collect(t)
    assert [r.headers["x-amz-security-token"] for r in sim.requests] == [
        SESSION_KEYS.session_token,
        ROTATED_KEYS.session_token,
    ]


async def test_after_a_403_the_chain_is_walked_again(sim: Simulator, tmp_path: Path, aws_config: Path) -> None:
    """Keys rotated before they were due to expire: the cached set is refused (403
    ExpiredTokenException), ``rejected()`` drops it, and the next attempt signs with the new keys."""
    process = CredentialProcess(tmp_path, aws_config)
    process.set(SESSION_KEYS)
    sim.bedrock.auth.rotate(SESSION_KEYS)
    t = bedrock(sim, keys=None, aws_profile=process.profile, max_retries=0)
    async with t:
        await collect(t)
        process.set(ROTATED_KEYS)
        sim.bedrock.auth.rotate(ROTATED_KEYS)
        assert text_of(await collect(t))
    assert [r.headers["x-amz-security-token"] for r in sim.requests] == [
        SESSION_KEYS.session_token,
        SESSION_KEYS.session_token,
        ROTATED_KEYS.session_token,
    ]
    assert process.runs == 2


async def test_static_keys_refused_are_not_retried(sim: Simulator) -> None:
    sim.bedrock.auth.rotate(SESSION_KEYS)
    with pytest.raises(APIStatusError) as caught:
        await collect(bedrock(sim))
    assert (caught.value.status, caught.value.error_type, caught.value.attempts) == (403, "ExpiredTokenException", 1)
    assert caught.value.request_id == sim.requests[-1].request_id


async def test_no_credentials_anywhere_is_said_before_any_request(sim: Simulator) -> None:
    with pytest.raises(CredentialsUnavailable, match="no AWS credentials found") as caught:
        await collect(bedrock(sim, keys=None))
    assert caught.value.attempts == 1
    assert sim.requests == []


# ── request ids, telemetry ──────────────────────────────────────────────────────────────────


async def test_the_request_id_and_provider_reach_errors_and_spans(sim: Simulator) -> None:
    captured = Captured()
    sim.inject(Fault.rate_limited(), Fault.http_error(400, "ValidationException", "messages: too long"))
    t = bedrock(sim, telemetry=captured.config(), max_retries=3)
    async with t:
        with pytest.raises(APIStatusError) as caught:
            await collect(t)
        await assert_released(t._owned or t.session, captured, (t.model.id,), sim)  # type: ignore[arg-type]
    ids = [r.request_id for r in sim.requests]
    assert caught.value.request_id == ids[-1]
    assert caught.value.error_type == "ValidationException"
    spans = captured.spans()
    attempts = [s for s in spans if s.name == "POST"]
    [request] = [s for s in spans if s.name != "POST"]
    assert [(s.attributes or {}).get("anthropic.request_id") for s in attempts] == ids
    attributes = request.attributes or {}
    assert attributes["anthropic.request_id"] == ids[-1]
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["error.type"] == "ValidationException"


async def test_the_server_address_is_bedrocks_host() -> None:
    transport = BedrockTransport(aws_region="eu-west-3", aws_access_key_id="AKIA0000", aws_secret_access_key="x" * 8)
    backend = transport.backend()
    await backend.prepare()
    info = _request_info(transport, backend, backend.url(), [], [], "", None, {})
    assert (info.provider, info.server_address, info.server_port) == (
        "aws.bedrock",
        "bedrock-runtime.eu-west-3.amazonaws.com",
        443,
    )
