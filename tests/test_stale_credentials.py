"""A refusal of the credentials gets one attempt with fresh ones; a refusal of the caller does not.

A 401 (any provider whose credentials expire) and Bedrock's stale-credential 403s
(``ExpiredTokenException``, ``UnrecognizedClientException``, an ``InvalidSignatureException``
saying the signature expired) are answered at once with freshly resolved credentials and a new
signature, outside ``max_retries``. An ordinary 403 (``AccessDeniedException``, Anthropic's
``permission_error``, Google's ``PERMISSION_DENIED``) is final: new credentials carry the same
permissions. Bedrock's ExpiredTokenException case is in test_bedrock_streaming.py.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from axio.events import IterationEnd

from axio_transport_anthropic import AnthropicTransport, APIStatusError
from axio_transport_anthropic.simulator import Fault, Simulator

from .bedrock_support import SESSION_KEYS, CredentialProcess, bedrock, isolate_aws
from .conftest import SECRET
from .leaks import Captured
from .support import collect, keyless_sim
from .vertex_support import use_service_account, vertex_requests, vertex_transport

__all__ = ["keyless_sim"]  # fixtures

pytestmark = pytest.mark.timeout(30)

SIGNATURE_EXPIRED = (
    "Signature expired: 20261205T000000Z is now earlier than 20261205T000500Z (20261205T001000Z - 5 min.)"
)
NOT_ALLOWED = "User: arn:aws:sts::123456789012:assumed-role/app is not authorized to perform: bedrock:InvokeModel"


@pytest.fixture
def process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> CredentialProcess:
    """The default chain through a credential process, its keys accepted by the simulator."""
    found = CredentialProcess(tmp_path, isolate_aws(monkeypatch, tmp_path))
    found.set(SESSION_KEYS)
    sim.bedrock.auth.rotate(SESSION_KEYS)
    return found


def _signature(sim: Simulator, index: int) -> str:
    return sim.requests[index].headers["authorization"].rpartition("Signature=")[2]


async def test_bedrock_a_stale_signature_403_is_signed_again_with_fresh_credentials(
    sim: Simulator, process: CredentialProcess
) -> None:
    captured = Captured()
    t = bedrock(sim, keys=None, aws_profile=process.profile, max_retries=0, telemetry=captured.config())
    sim.inject(Fault.http_error(403, "InvalidSignatureException", SIGNATURE_EXPIRED))
    async with t:
        events = await collect(t)
    assert isinstance(events[-1], IterationEnd)
    # Signed again, over credentials the chain resolved again (the same keys here: a signature
    # made within the same second over them is the same, as SigV4 is deterministic).
    assert len(sim.requests) == 2 and all(_signature(sim, i) for i in (0, 1))
    assert process.runs == 2
    assert [r.fault for r in sim.requests] == ["http_error", None]
    model = t.model.id
    assert captured.by("axio_anthropic_attempts_total", "status", model) == {"403": 1.0, "200": 1.0}
    assert captured.by("axio_anthropic_retries_total", "reason", model) == {}
    # Resolved for the first attempt, and again after the refusal: two refreshes, both on the span.
    ok = {"provider": "aws.bedrock", "outcome": "ok"}
    assert captured.registry.get_sample_value("axio_anthropic_credential_refreshes_total", ok) == 2
    [chat] = [span for span in captured.spans() if span.name.startswith("chat")]
    assert [
        e.attributes["credential.refresh.attempt"]
        for e in chat.events
        if e.attributes and e.name == "credential.refresh"
    ] == [1, 2]


async def test_bedrock_only_one_fresh_attempt_per_call(sim: Simulator, process: CredentialProcess) -> None:
    sim.inject(
        *[Fault.http_error(403, "ExpiredTokenException", "The security token included in the request is expired")] * 2
    )
    t = bedrock(sim, keys=None, aws_profile=process.profile, max_retries=3)
    async with t:
        with pytest.raises(APIStatusError) as caught:
            await collect(t)
    assert (caught.value.status, caught.value.error_type, caught.value.attempts) == (403, "ExpiredTokenException", 2)
    assert len(sim.requests) == 2


async def test_bedrock_access_denied_is_final_and_the_chain_is_not_walked_again(
    sim: Simulator, process: CredentialProcess
) -> None:
    sim.inject(Fault.http_error(403, "AccessDeniedException", NOT_ALLOWED))
    t = bedrock(sim, keys=None, aws_profile=process.profile, max_retries=3)
    async with t:
        with pytest.raises(APIStatusError) as caught:
            await collect(t)
        runs = process.runs
        assert isinstance((await collect(t))[-1], IterationEnd)
    assert (caught.value.status, caught.value.error_type, caught.value.attempts) == (403, "AccessDeniedException", 1)
    assert process.runs == runs, "the cached credentials were dropped after a permission error"
    assert len(sim.requests) == 2


@pytest.mark.parametrize("error_type", ["InvalidSignatureException", "IncompleteSignatureException"])
async def test_bedrock_a_malformed_signature_is_not_signed_again(
    sim: Simulator, process: CredentialProcess, error_type: str
) -> None:
    sim.inject(Fault.http_error(403, error_type, "Credential should be scoped to correct service: 'bedrock'."))
    t = bedrock(sim, keys=None, aws_profile=process.profile, max_retries=3)
    async with t:
        with pytest.raises(APIStatusError) as caught:
            await collect(t)
    assert caught.value.attempts == 1 and len(sim.requests) == 1


async def test_bedrock_an_api_key_refused_as_expired_is_not_retried(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws(monkeypatch, tmp_path)
    sim.bedrock.auth.api_keys.add("bedrock-api-key-under-test")
    sim.inject(Fault.http_error(403, "ExpiredTokenException", "The security token included in the request is expired"))
    t = bedrock(sim, keys=None, api_key="bedrock-api-key-under-test", max_retries=3)
    with pytest.raises(APIStatusError) as caught:
        await collect(t)
    assert caught.value.attempts == 1 and len(sim.requests) == 1


async def test_anthropic_a_403_is_never_retried_whatever_it_says(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    sim.inject(
        Fault.http_error(
            403, "permission_error", "Your API key does not have permission to use the specified resource."
        ),
        Fault.http_error(403, "ExpiredTokenException", SIGNATURE_EXPIRED),
    )
    t = AnthropicTransport(api_key=SECRET, base_url=sim.base_url, session=session, max_retries=3)
    for error_type in ("permission_error", "ExpiredTokenException"):
        with pytest.raises(APIStatusError) as caught:
            await collect(t)
        assert (caught.value.status, caught.value.error_type, caught.value.attempts) == (403, error_type, 1)
    assert len(sim.requests) == 2


async def test_vertex_permission_denied_is_final_and_takes_no_new_token(
    sim: Simulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_service_account(sim, monkeypatch, tmp_path)
    sim.inject(Fault.http_error(403, "permission_error", "Permission denied on resource project sim-project."))
    with pytest.raises(APIStatusError) as caught:
        await collect(vertex_transport(sim, session, max_retries=3))
    assert (caught.value.status, caught.value.attempts) == (403, 1)
    assert len(vertex_requests(sim)) == 1 and sim.vertex.oauth.issued == 1
