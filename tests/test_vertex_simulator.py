"""The simulator's Vertex AI route and OAuth endpoint, spoken to directly: what it accepts and
refuses, and the shapes it answers in (Google's envelope, the vertex_event, no request-id)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from axio_transport_anthropic.simulator import Fault, Simulator

from .vertex_support import clear_google_environment

pytestmark = pytest.mark.timeout(30)

MODEL_PATH = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001"
BODY = {
    "anthropic_version": "vertex-2023-10-16",
    "max_tokens": 64,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Simulator]:
    clear_google_environment(monkeypatch, tmp_path)
    async with Simulator() as server:
        yield server


def refreshed(path: Path) -> service_account.Credentials:
    """google-auth's own refresh of a service-account file: blocking, so tests run it in a thread
    (the simulator answers on the test's event loop)."""
    creds: service_account.Credentials = service_account.Credentials.from_service_account_file(
        str(path), scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    creds.refresh(Request())
    return creds


async def token(sim: Simulator, path: Path) -> str:
    sim.vertex.service_account(path)
    creds = await asyncio.to_thread(refreshed, path)
    assert isinstance(creds.token, str)
    return creds.token


async def post(
    session: aiohttp.ClientSession, sim: Simulator, bearer: str, body: Any = BODY, path: str = MODEL_PATH
) -> tuple[int, dict[str, str], bytes]:
    url = sim.base_url.removesuffix("/v1") + path + ":streamRawPredict"
    async with session.post(url, json=body, headers={"authorization": f"Bearer {bearer}"}) as response:
        return response.status, dict(response.headers), await response.read()


async def test_a_signed_grant_gets_a_token_and_a_forged_one_does_not(sim: Simulator, tmp_path: Path) -> None:
    assert (await token(sim, tmp_path / "a.json")).startswith("ya29.sim-")
    # The same account, signed with a key the simulator never made for it: refused.
    genuine = json.loads((tmp_path / "a.json").read_text())
    other = json.loads(sim.vertex.service_account(tmp_path / "b.json").read_text())
    (tmp_path / "forged.json").write_text(json.dumps({**other, "client_email": genuine["client_email"]}))
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        await asyncio.to_thread(refreshed, tmp_path / "forged.json")
    sim.vertex.oauth.forget(genuine["client_email"])
    with pytest.raises(RefreshError, match="account not found"):
        await asyncio.to_thread(refreshed, tmp_path / "a.json")
    assert [g.status for g in sim.vertex.oauth.grants] == [200, 400, 400]


async def test_the_stream_has_a_vertex_event_and_no_request_id(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    status, headers, raw = await post(session, sim, await token(sim, tmp_path / "sa.json"))
    assert status == 200
    text = raw.decode()
    assert "event: vertex_event" in text
    assert text.index("event: vertex_event") < text.index("event: message_stop")
    assert '"id":"msg_vrtx_' in text
    assert "request-id" not in {name.lower() for name in headers}
    assert not any(name.lower().startswith("anthropic-ratelimit") for name in headers)


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"model": "claude-haiku-4-5"}, 400, "model: Extra inputs are not permitted"),
        ({"anthropic_version": "2023-06-01"}, 400, "anthropic_version"),
        ({"max_tokens": 0}, 400, "max_tokens"),
    ],
)
async def test_the_body_is_checked_as_vertex_takes_it(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path, change: dict[str, Any], status: int, says: str
) -> None:
    got, _, raw = await post(session, sim, await token(sim, tmp_path / "sa.json"), {**BODY, **change})
    assert got == status
    assert says in json.loads(raw)["error"]["message"]
    assert json.loads(raw)["request_id"].startswith("req_vrtx_")


async def test_a_direct_api_model_id_is_not_found_in_googles_words(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = MODEL_PATH.replace("claude-haiku-4-5@20251001", "claude-haiku-4-5-20251001")
    status, _, raw = await post(session, sim, await token(sim, tmp_path / "sa.json"), path=path)
    assert status == 404
    assert json.loads(raw)["error"]["status"] == "NOT_FOUND"


async def test_tokens_are_checked(sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    good = await token(sim, tmp_path / "sa.json")
    for bearer in ("", "ya29.made-up", "sk-ant-an-anthropic-key"):
        status, _, raw = await post(session, sim, bearer)
        assert (status, json.loads(raw)["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert (await post(session, sim, good))[0] == 200
    sim.vertex.oauth.revoke()
    assert (await post(session, sim, good))[0] == 401


@pytest.mark.parametrize("wrapped", [False, True])
async def test_quota_faults_come_in_googles_envelope(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path, wrapped: bool
) -> None:
    bearer = await token(sim, tmp_path / "sa.json")
    sim.inject(Fault.resource_exhausted(wrapped=wrapped), Fault.rate_limited(), Fault.http_error(401, "x", "y"))
    status, _, raw = await post(session, sim, bearer)
    envelope = json.loads(raw)
    assert status == 429
    assert isinstance(envelope, list) is wrapped
    error = (envelope[0] if wrapped else envelope)["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert json.loads((await post(session, sim, bearer))[2])["error"]["status"] == "RESOURCE_EXHAUSTED"
    status, _, raw = await post(session, sim, bearer)
    assert (status, json.loads(raw)["error"]["status"]) == (401, "UNAUTHENTICATED")
