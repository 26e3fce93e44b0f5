"""Google credentials for Vertex AI, through real google-auth against the simulator's OAuth
endpoint: loaded once, refreshed in a worker thread (never on the event loop) under one lock
before they expire, refreshed once and retried at once after a 401, rotated under concurrent
streams with one refresh, and what happens when a refresh fails."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path

import aiohttp
import google.oauth2.credentials
import pytest
from axio.events import IterationEnd
from google.auth.credentials import TokenState

from axio_transport_anthropic import AnthropicError, APIConnectionError, APIStatusError, ConfigurationError
from axio_transport_anthropic.backends.google_credentials import AccessToken, GoogleCredentials, RefreshFailed
from axio_transport_anthropic.simulator import Fault, Reply, Simulator

from .leaks import Captured
from .support import collect
from .vertex_support import (
    bearer,
    service_account_sim,
    spy_on_google_auth,
    vertex_requests,
    vertex_transport,
)

__all__ = ["service_account_sim"]  # fixtures

pytestmark = pytest.mark.timeout(30)

#: google-auth calls a token STALE 225 s before it expires: this lifetime is FRESH for about 1 s.
NEARLY_STALE = 226


async def test_loaded_once_refreshed_once_and_never_on_the_loop(
    sim: Simulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    default, refresh = spy_on_google_auth(monkeypatch)
    transport = vertex_transport(sim, session)
    results = await asyncio.gather(*(collect(transport) for _ in range(12)))
    results.append(await collect(transport))
    assert all(isinstance(events[-1], IterationEnd) for events in results)
    assert (len(default.threads), len(refresh.threads), sim.vertex.oauth.issued) == (1, 1, 1)
    loop_thread = threading.current_thread()
    assert loop_thread not in default.threads + refresh.threads
    assert len({bearer(sim, i) for i in range(len(sim.requests)) if bearer(sim, i)}) == 1


@pytest.mark.timeout(45)
async def test_the_loop_keeps_running_while_google_auth_blocks(sim: Simulator, session: aiohttp.ClientSession) -> None:
    # google-auth retries a token endpoint's 503 itself, sleeping 1 s and 2 s in between: in a
    # worker thread, so a ticker on the loop keeps its pace, and the stream gets its token.
    for _ in range(2):
        sim.vertex.oauth.fail_next(503, "temporarily_unavailable")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await collect(vertex_transport(sim, session))
    finally:
        task.cancel()
    elapsed = loop.time() - started
    assert elapsed > 2.5, "google-auth's own retries did not happen"
    assert ticks > elapsed * 100 * 0.5, f"{ticks} ticks in {elapsed:.1f} s: the loop was blocked"
    assert [g.status for g in sim.vertex.oauth.grants] == [503, 503, 200]


async def test_a_token_is_refreshed_before_it_expires(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.vertex.oauth.token_lifetime = NEARLY_STALE
    transport = vertex_transport(sim, session)
    await collect(transport)
    first = bearer(sim)
    await asyncio.sleep(1.2)  # now STALE in google-auth's eyes, still valid for minutes
    await collect(transport)
    second = bearer(sim)
    assert second != first and sim.vertex.oauth.issued == 2
    assert sim.vertex.oauth.live(first), "refreshed only once the old token had expired"
    assert len(vertex_requests(sim)) == 2  # no 401 was needed


async def test_a_401_refreshes_once_and_retries_at_once(sim: Simulator, session: aiohttp.ClientSession) -> None:
    captured = Captured()
    # max_retries=0: the refresh's attempt is not a retry of a failing service.
    transport = vertex_transport(sim, session, max_retries=0, retry_base_delay=30.0, telemetry=captured.config())
    await collect(transport)
    revoked = bearer(sim)
    sim.vertex.oauth.revoke()  # rotated or revoked early: the cached token still looks FRESH
    sim.enqueue(Reply.text("with a fresh token"))
    events = await asyncio.wait_for(collect(transport), 5)
    assert isinstance(events[-1], IterationEnd)
    assert [bearer(sim, i) == revoked for i in (-2, -1)] == [True, False]
    assert sim.vertex.oauth.issued == 2
    model = transport.model.id
    assert captured.by("axio_anthropic_attempts_total", "status", model) == {"200": 2.0, "401": 1.0}
    assert captured.by("axio_anthropic_retries_total", "reason", model) == {}
    posts = [span for span in captured.spans() if span.name == "POST"]
    assert [span.attributes["http.response.status_code"] for span in posts if span.attributes] == [200, 401, 200]


async def test_the_refresh_attempt_does_not_use_up_max_retries(sim: Simulator, session: aiohttp.ClientSession) -> None:
    transport = vertex_transport(sim, session, max_retries=1)
    await collect(transport)
    sim.vertex.oauth.revoke()
    sim.inject(Fault.resource_exhausted())  # drawn by the attempt after the refresh
    events = await collect(transport)
    assert isinstance(events[-1], IterationEnd)
    assert [r.fault for r in vertex_requests(sim)[1:]] == [None, "resource_exhausted", None]


async def test_a_second_401_in_one_call_is_raised(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(*[Fault.http_error(401, "authentication_error", "refused")] * 3)
    with pytest.raises(APIStatusError) as caught:
        await collect(vertex_transport(sim, session))
    error = caught.value
    assert (error.status, error.error_type, error.attempts) == (401, "authentication_error", 2)
    assert "UNAUTHENTICATED" in error.message
    assert sim.vertex.oauth.issued == 2
    assert len(vertex_requests(sim)) == 2


async def test_rotation_under_concurrent_streams_takes_one_refresh(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    transport = vertex_transport(sim, session)
    await collect(transport)
    sim.vertex.oauth.revoke()
    results = await asyncio.gather(*(collect(transport) for _ in range(16)))
    assert all(isinstance(events[-1], IterationEnd) for events in results)
    assert sim.vertex.oauth.issued == 2
    assert len(vertex_requests(sim)) == 1 + 2 * 16  # each stream: its 401, then its success


async def test_a_401_for_a_token_already_replaced_needs_no_new_refresh() -> None:
    # Stream A's 401 refreshed the token; stream B's 401, for the same old token, arrives after.
    creds = google.oauth2.credentials.Credentials(token="current")  # refresh() would raise: no refresh token
    store = GoogleCredentials(loader=lambda: (creds, "p"))
    assert await store.token() == (AccessToken("current", None), None)
    store.refuse("replaced-before")
    assert await store.token() == (AccessToken("current", None), None)
    store.refuse("current")
    with pytest.raises(RefreshFailed):
        await store.token()


class SlowCredentials:
    """Credentials as google-auth shapes them, whose refresh takes a while (in its thread)."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.quota_project_id = None
        self.refreshes = 0

    @property
    def token_state(self) -> TokenState:
        return TokenState.FRESH if self.token else TokenState.INVALID

    def refresh(self, request: object) -> None:
        time.sleep(0.05)
        self.refreshes += 1
        self.token = f"token-{self.refreshes}"


def test_one_transport_serves_more_than_one_event_loop() -> None:
    # A transport kept across asyncio.run() calls: the lock must not stay bound to the first loop.
    slow = SlowCredentials()
    store = GoogleCredentials(loader=lambda: (slow, "p"))

    async def burst() -> None:
        await asyncio.gather(*(store.token() for _ in range(3)))
        store.refuse(None)

    asyncio.run(burst())
    asyncio.run(burst())
    assert slow.refreshes == 2


async def test_a_refused_refresh_ends_the_call_without_retries(sim: Simulator, session: aiohttp.ClientSession) -> None:
    transport = vertex_transport(sim, session)
    await collect(transport)
    old = bearer(sim)
    sim.vertex.oauth.revoke()
    sim.vertex.oauth.fail_next(400, "invalid_grant")
    with pytest.raises(AnthropicError) as caught:
        await collect(transport)
    error = caught.value
    assert error.error_type == "authentication_error" and "invalid_grant" in error.message
    assert old not in str(error) and old not in repr(error)
    assert len(vertex_requests(sim)) == 2  # the 401, then no attempt without a token


async def test_an_unreachable_token_endpoint_is_retried_like_a_connection_error(
    sim: Simulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sa = credentials_file()
    sa["token_uri"] = "http://127.0.0.1:9/token"  # the discard port: refused
    moved = tmp_path / "unreachable.json"
    moved.write_text(json.dumps(sa))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(moved))
    with pytest.raises(APIConnectionError, match="could not refresh the Google access token") as caught:
        await collect(vertex_transport(sim, session, max_retries=2))
    assert caught.value.attempts == 3
    assert vertex_requests(sim) == []


async def test_a_stale_token_is_used_when_its_early_refresh_fails(
    sim: Simulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    sim.vertex.oauth.token_lifetime = NEARLY_STALE
    transport = vertex_transport(sim, session)
    await collect(transport)
    first = bearer(sim)
    await asyncio.sleep(1.2)
    sim.vertex.oauth.fail_next(400, "invalid_grant")
    with caplog.at_level(logging.WARNING):
        events = await collect(transport)
    assert isinstance(events[-1], IterationEnd)
    assert bearer(sim) == first
    assert any("using the current one" in r.getMessage() for r in caplog.records)


async def test_without_credentials_the_call_says_so(
    sim: Simulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigurationError, match="no Google credentials for Vertex AI"):
        await collect(vertex_transport(sim, session))
    with pytest.raises(ConfigurationError, match="no Google credentials"):
        async with vertex_transport(sim).open_for_app(base_url=sim.base_url):
            pass
    assert sim.requests == []


async def test_without_a_project_anywhere_the_call_says_so(
    sim: Simulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sa = credentials_file()
    del sa["project_id"]
    bare = tmp_path / "no-project.json"
    bare.write_text(json.dumps(sa))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(bare))
    with pytest.raises(ConfigurationError, match="no Google Cloud project"):
        await collect(vertex_transport(sim, session))


def credentials_file() -> dict[str, str]:
    info: dict[str, str] = json.loads(Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())
    return info
