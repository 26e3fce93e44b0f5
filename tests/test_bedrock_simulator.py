"""The simulator's Bedrock route on its own, driven with aiohttp and botocore's signer: it lets in
what botocore signed over exactly the bytes sent, refuses anything else with Bedrock's 403s,
reads Bedrock's body, answers in CRC-checked event-stream frames, and plays the fault profiles in
Bedrock's shapes (rest-json errors before the stream, exception frames inside it)."""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

from axio_transport_anthropic.backends.eventstream import Frame, FrameDecoder
from axio_transport_anthropic.simulator import Fault, Reply, Simulator
from axio_transport_anthropic.simulator.bedrock_auth import TEST_KEYS, AwsKeys

from .support import keyless_sim

MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}

__all__ = ["keyless_sim"]  # fixtures

pytestmark = pytest.mark.timeout(30)


def url_for(sim: Simulator, model: str = MODEL) -> str:
    # The SDK's quoting; yarl would write %3A as ":" anyway, and the signature must match the wire.
    quoted = str(URL.build(path=f"/model/{model.replace('/', '%2F')}/invoke-with-response-stream", encoded=True))
    return f"{sim.bedrock.endpoint}{quoted}"


def signed(url: str, body: bytes, keys: AwsKeys = TEST_KEYS, service: str = "bedrock") -> dict[str, str]:
    request = AWSRequest("POST", url, headers={"content-type": "application/json"}, data=body)
    SigV4Auth(
        Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token), service, "us-east-1"
    ).add_auth(request)
    return dict(request.headers.items())


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as client, client.post(URL(url, encoded=True), data=body, headers=headers) as r:
        return r.status, dict(r.headers), await r.read()


def frames(raw: bytes) -> list[Frame]:
    decoder = FrameDecoder()
    found = decoder.feed(raw)
    assert decoder.pending == 0
    return found


def events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(base64.b64decode(json.loads(f.payload)["bytes"])) for f in frames(raw)]


# ── who is let in ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "model",
    [
        MODEL,
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-6",
    ],
    ids=["plain", "profile", "arn"],
)
async def test_a_request_botocore_signed_is_answered_in_frames(sim: Simulator, model: str) -> None:
    body = json.dumps(BODY).encode()
    url = url_for(sim, model)
    status, headers, raw = await post(url, body, signed(url, body))
    assert status == 200, raw
    assert headers["Content-Type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amzn-RequestId"] == sim.requests[-1].request_id
    got = events(raw)
    assert got[0]["type"] == "message_start"
    assert got[-1]["type"] == "message_stop"
    assert set(got[-1]["amazon-bedrock-invocationMetrics"]) == {
        "inputTokenCount",
        "outputTokenCount",
        "invocationLatency",
        "firstByteLatency",
    }


async def test_a_signature_over_other_bytes_is_refused(sim: Simulator) -> None:
    body = json.dumps(BODY).encode()
    url = url_for(sim)
    status, headers, raw = await post(url, body + b" ", signed(url, body))
    assert status == 403
    assert headers["x-amzn-ErrorType"].startswith("InvalidSignatureException:")
    assert "does not match the signature" in json.loads(raw)["message"]


async def test_a_path_signed_as_botocore_writes_it_but_sent_as_yarl_does_is_refused(sim: Simulator) -> None:
    """The trap: botocore signs ``%3A``; a URL given to aiohttp as text goes out with ``:``."""
    body = json.dumps(BODY).encode()
    as_signed = url_for(sim).replace(":0/", "%3A0/")
    async with (
        aiohttp.ClientSession() as client,
        client.post(as_signed, data=body, headers=signed(as_signed, body)) as r,
    ):
        assert r.status == 403
        assert r.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException:")


@pytest.mark.parametrize(
    ("keys", "service", "error_type"),
    [
        (AwsKeys("AKIAUNKNOWN000000000", "x" * 40), "bedrock", "UnrecognizedClientException"),
        (AwsKeys(TEST_KEYS.access_key_id, "wrong" * 8), "bedrock", "InvalidSignatureException"),
        (TEST_KEYS, "bedrock-runtime", "InvalidSignatureException"),
    ],
    ids=["unknown key", "wrong secret", "wrong service"],
)
async def test_bad_credentials_get_bedrocks_403(sim: Simulator, keys: AwsKeys, service: str, error_type: str) -> None:
    body = json.dumps(BODY).encode()
    url = url_for(sim)
    status, headers, _ = await post(url, body, signed(url, body, keys, service))
    assert (status, headers["x-amzn-ErrorType"].split(":")[0]) == (403, error_type)


async def test_a_stale_signature_is_refused(sim: Simulator) -> None:
    body = json.dumps(BODY).encode()
    url = url_for(sim)
    headers = signed(url, body)
    sim.bedrock.auth._clock = lambda: 4_000_000_000.0  # the year 2096: the signature is long expired
    status, answer, raw = await post(url, body, headers)
    assert (status, answer["x-amzn-ErrorType"].split(":")[0]) == (403, "InvalidSignatureException")
    assert "Signature expired" in json.loads(raw)["message"]


async def test_rotated_keys_expire_and_the_new_ones_are_let_in(sim: Simulator) -> None:
    new = AwsKeys("ASIANEWKEY0000000000", "n" * 40, "new-session-token-0123456789")
    sim.bedrock.auth.rotate(new)
    body = json.dumps(BODY).encode()
    url = url_for(sim)
    status, headers, _ = await post(url, body, signed(url, body))
    assert (status, headers["x-amzn-ErrorType"].split(":")[0]) == (403, "ExpiredTokenException")
    status, _, _ = await post(url, body, signed(url, body, new))
    assert status == 200


async def test_a_bedrock_api_key_is_let_in(sim: Simulator) -> None:
    sim.bedrock.auth.api_keys.add("bedrock-api-key-0123456789")
    body = json.dumps(BODY).encode()
    base = {"content-type": "application/json"}
    assert (await post(url_for(sim), body, {**base, "Authorization": "Bearer bedrock-api-key-0123456789"}))[0] == 200
    status, headers, _ = await post(url_for(sim), body, {**base, "Authorization": "Bearer another"})
    assert (status, headers["x-amzn-ErrorType"].split(":")[0]) == (403, "AccessDeniedException")
    status, headers, _ = await post(url_for(sim), body, base)
    assert (status, headers["x-amzn-ErrorType"].split(":")[0]) == (403, "MissingAuthenticationTokenException")


# ── Bedrock's body ──────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": MODEL}, "extraneous key [model]"),
        ({"stream": True}, "extraneous key [stream]"),
        ({"anthropic_version": "2023-06-01"}, "anthropic_version must be bedrock-2023-05-31"),
        ({"anthropic_beta": "context-1m"}, "anthropic_beta"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
async def test_bodies_bedrock_refuses(sim: Simulator, change: dict[str, Any], message: str) -> None:
    body = json.dumps({**BODY, **change}).encode()
    url = url_for(sim)
    status, headers, raw = await post(url, body, signed(url, body))
    assert (status, headers["x-amzn-ErrorType"].split(":")[0]) == (400, "ValidationException")
    assert message in json.loads(raw)["message"]


async def test_an_unknown_model_is_a_validation_error(sim: Simulator) -> None:
    body = json.dumps(BODY).encode()
    url = url_for(sim, "amazon.titan-text-express-v1")
    status, _, raw = await post(url, body, signed(url, body))
    assert (status, json.loads(raw)["message"]) == (400, "The provided model identifier is invalid.")


# ── faults in Bedrock's shapes ──────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        (Fault.rate_limited(), 429, "ThrottlingException"),
        (Fault.overloaded(), 503, "ServiceUnavailableException"),
        (Fault.server_error(500), 500, "InternalServerException"),
        (Fault.server_error(503), 503, "ServiceUnavailableException"),
        (Fault.http_error(424, "ModelErrorException", "the model failed"), 424, "ModelErrorException"),
        (Fault.http_error(400, "invalid_request_error", "bad"), 400, "ValidationException"),
    ],
)
async def test_faults_before_the_stream_are_rest_json(
    sim: Simulator, fault: Fault, status: int, error_type: str
) -> None:
    sim.inject(fault)
    body = json.dumps(BODY).encode()
    url = url_for(sim)
    got, headers, raw = await post(url, body, signed(url, body))
    assert (got, headers["x-amzn-ErrorType"].split(":")[0]) == (status, error_type)
    assert headers["x-amzn-RequestId"] == sim.requests[-1].request_id
    assert isinstance(json.loads(raw)["message"], str)
    assert "retry-after" not in headers  # Bedrock names no wait


@pytest.mark.parametrize(
    ("error_type", "sent_as"),
    [
        ("overloaded_error", "serviceUnavailableException"),
        ("rate_limit_error", "throttlingException"),
        ("api_error", "internalServerException"),
        ("modelStreamErrorException", "modelStreamErrorException"),
    ],
)
async def test_stream_errors_are_exception_frames(sim: Simulator, error_type: str, sent_as: str) -> None:
    sim.enqueue(Reply.text("one two three four five six"))
    sim.inject(Fault.stream_error(error_type, "went wrong", after_events=3))
    body = json.dumps(BODY).encode()
    url = url_for(sim)
    status, _, raw = await post(url, body, signed(url, body))
    assert status == 200
    *chunks, last = frames(raw)
    assert len(chunks) == 3
    assert last.headers[":message-type"] == "exception"
    assert last.headers[":exception-type"] == sent_as
    assert json.loads(last.payload) == {"message": "went wrong"}


async def test_a_reset_mid_stream_cuts_the_frames(sim: Simulator) -> None:
    sim.inject(Fault.reset(after_events=2))
    body = json.dumps(BODY).encode()
    url = url_for(sim)
    with pytest.raises(aiohttp.ClientPayloadError):
        await post(url, body, signed(url, body))
