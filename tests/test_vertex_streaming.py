"""Claude on Vertex AI end to end: the transport, real google-auth and the simulator's Vertex route
and OAuth endpoint over loopback. The wire as Vertex takes it, Google's quota errors retried like
429s (a storm of them included), errors mid-stream never replayed after output, the telemetry
that names the provider and the real host, and the token in no output."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from axio.events import IterationEnd, ProviderEvent, TextDelta

from axio_transport_anthropic import APIConnectionError, APIStatusError, InStreamError, VertexAITransport
from axio_transport_anthropic.simulator import Fault, FaultProfile, Reply, Simulator
from axio_transport_anthropic.simulator.vertex import PATH as VERTEX_PATH

from .leaks import Captured, assert_released, outputs_holding, stream_error, structlog_lines
from .support import collect, text_of, user
from .vertex_support import PROJECT, bearer, service_account_sim, vertex_requests, vertex_transport

__all__ = ["service_account_sim"]  # fixtures

pytestmark = pytest.mark.timeout(30)

PATH = f"/v1/projects/{PROJECT}/locations/us-east5/publishers/anthropic/models"


async def test_a_turn_over_the_vertex_wire(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.enqueue(Reply.text("hello from vertex"))
    events = await collect(vertex_transport(sim, session, model="claude-haiku-4-5"), system="be brief")
    assert text_of(events) == "hello from vertex"
    # The extra vertex_event is skipped, not passed on.
    assert not [e for e in events if isinstance(e, ProviderEvent)]
    [request] = sim.requests[-1:]
    assert request.path == f"{PATH}/claude-haiku-4-5@20251001:streamRawPredict"
    assert request.body["anthropic_version"] == "vertex-2023-10-16" and "model" not in request.body
    assert request.headers["authorization"] == f"Bearer {bearer(sim)}" and bearer(sim).startswith("ya29.sim-")
    assert "x-api-key" not in request.headers and "anthropic-version" not in request.headers
    assert sim.vertex.oauth.grants[0].scope == "https://www.googleapis.com/auth/cloud-platform"


async def test_the_project_comes_from_the_credentials_unless_named(
    sim: Simulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await collect(vertex_transport(sim, session))
    assert vertex_requests(sim)[-1].path.startswith(f"/v1/projects/{PROJECT}/")
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", "named-in-env")
    await collect(vertex_transport(sim, session))
    assert vertex_requests(sim)[-1].path.startswith("/v1/projects/named-in-env/")
    await collect(vertex_transport(sim, session, project="named-here"))
    assert vertex_requests(sim)[-1].path.startswith("/v1/projects/named-here/")


async def test_a_quota_project_is_sent_as_x_goog_user_project(
    sim: Simulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await collect(vertex_transport(sim, session))
    assert "x-goog-user-project" not in sim.requests[-1].headers
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "billing-project")
    await collect(vertex_transport(sim, session))
    assert sim.requests[-1].headers["x-goog-user-project"] == "billing-project"


@pytest.mark.parametrize("wrapped", [False, True], ids=["plain", "array"])
async def test_googles_429_is_retried_like_a_429(sim: Simulator, session: aiohttp.ClientSession, wrapped: bool) -> None:
    captured = Captured()
    transport = vertex_transport(sim, session, telemetry=captured.config())
    sim.inject(Fault.resource_exhausted(wrapped=wrapped), Fault.rate_limited(retry_after=None))
    sim.enqueue(Reply.text("after the quota"))
    events = await collect(transport)
    assert text_of(events) == "after the quota"
    assert [r.fault for r in vertex_requests(sim)] == ["resource_exhausted", "rate_limited", None]
    model = transport.model.id
    assert captured.by("axio_anthropic_retries_total", "reason", model) == {"rate_limited": 2.0}
    assert captured.by("axio_anthropic_attempts_total", "status", model) == {"429": 2.0, "200": 1.0}
    assert sim.vertex.oauth.issued == 1  # a retry reuses the fresh token


async def test_quota_exhausted_to_the_end_names_googles_error(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(*[Fault.resource_exhausted(wrapped=True)] * 2)
    with pytest.raises(APIStatusError) as caught:
        await collect(vertex_transport(sim, session, max_retries=1))
    error = caught.value
    assert (error.status, error.error_type, error.attempts) == (429, "rate_limit_error", 2)
    assert "RESOURCE_EXHAUSTED: Quota exceeded" in error.message


async def test_an_anthropic_error_body_gives_its_request_id(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.http_error(400, "invalid_request_error", "messages: roles must alternate"))
    with pytest.raises(APIStatusError) as caught:
        await collect(vertex_transport(sim, session))
    assert caught.value.request_id == vertex_requests(sim)[-1].request_id
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_vrtx_")


@pytest.mark.timeout(50)
async def test_a_throttling_storm_on_many_concurrent_streams(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim._profile = FaultProfile({"rate_limited": 0.4, "overloaded": 0.1}, seed=5)
    captured = Captured()
    transport = vertex_transport(sim, session, max_retries=30, telemetry=captured.config())
    results = await asyncio.gather(*(collect(transport) for _ in range(40)))
    assert all(isinstance(events[-1], IterationEnd) for events in results)
    faults = [r.fault for r in vertex_requests(sim)]
    assert faults.count("rate_limited") >= 10
    assert captured.value("axio_anthropic_requests_total", transport.model.id, outcome="ok") == 40
    # Retries reuse the token; one load, one refresh, however many streams.
    assert sim.vertex.oauth.issued == 1
    await assert_released(session, captured, (transport.model.id,), sim)


@pytest.mark.parametrize(
    "fault", [Fault.stream_error(after_events=4), Fault.reset(after_events=4)], ids=["error", "cut"]
)
async def test_a_failure_after_output_is_never_replayed(
    sim: Simulator, session: aiohttp.ClientSession, fault: Fault
) -> None:
    sim.enqueue(Reply.text("a fairly long answer that streams word by word"))
    sim.inject(fault)
    seen: list[str] = []

    async def consume() -> None:
        async for event in vertex_transport(sim, session).stream(user("hi"), [], ""):
            if isinstance(event, TextDelta):
                seen.append(event.delta)

    with pytest.raises((InStreamError, APIConnectionError)):
        await consume()
    assert seen, "output reached the caller before the failure"
    assert len(vertex_requests(sim)) == 1


async def test_a_failure_before_output_is_retried(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.enqueue(Reply.text("whole"))
    sim.inject(Fault.stream_error(after_events=1), Fault.reset(after_events=1))
    events = await collect(vertex_transport(sim, session))
    assert text_of(events) == "whole"
    assert len(vertex_requests(sim)) == 3


async def test_spans_name_the_provider_and_the_real_host(sim: Simulator, session: aiohttp.ClientSession) -> None:
    captured = Captured()
    await collect(vertex_transport(sim, session, telemetry=captured.config()))
    spans = {span.name: span for span in captured.spans()}
    chat, attempt = spans["chat claude-sonnet-4-6"], spans["POST"]
    assert chat.attributes is not None and attempt.attributes is not None
    assert chat.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert chat.attributes["server.address"] == "127.0.0.1"
    assert str(attempt.attributes["url.full"]).endswith(":streamRawPredict")


class HostOnLoopback(AbstractResolver):
    """Resolves every name to 127.0.0.1, where nothing listens on 443: the real host, offline."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


async def test_spans_name_googles_host_as_the_server(sim: Simulator) -> None:
    captured = Captured()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=HostOnLoopback())) as offline:
        transport = VertexAITransport(location="eu", session=offline, max_retries=0, telemetry=captured.config())
        error = await stream_error(transport)
    assert isinstance(error, APIConnectionError)
    [chat] = [span for span in captured.spans() if span.name.startswith("chat")]
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert (chat.attributes["server.address"], chat.attributes["server.port"]) == (
        "aiplatform.eu.rep.googleapis.com",
        443,
    )


async def test_a_token_refreshed_for_the_attempt_is_scrubbed_from_its_error(sim: Simulator) -> None:
    """A proxy that quotes the request's Authorization header back: the first attempt of a new
    transport sends a token that did not exist when the call began."""

    async def echo(request: web.Request) -> web.Response:
        said = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": request.headers["authorization"]},
        }
        return web.json_response(said, status=400)

    app = web.Application()
    app.router.add_post(VERTEX_PATH, echo)
    async with TestServer(app) as proxy, aiohttp.ClientSession() as session:
        base_url = str(proxy.make_url("/v1"))
        error = await stream_error(vertex_transport(sim, session, base_url=base_url))
    assert isinstance(error, APIStatusError)
    [grant] = sim.vertex.oauth.grants
    assert grant.token is not None and grant.token not in f"{error!s} {error!r} {error.message}"
    assert error.message == "Bearer [redacted]"


SCENARIOS = {
    "ok": (),
    "quota-then-ok": (Fault.resource_exhausted(),),
    "token-refused-then-ok": (Fault.http_error(401, "authentication_error", "no"),),
    "echoed-in-an-error": (Fault.http_error(400, "invalid_request_error", "{token}"),),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("logs", ["stdlib", "structlog"])
async def test_the_token_is_in_no_log_span_metric_repr_or_exception(
    sim: Simulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, scenario: str, logs: str
) -> None:
    caplog.set_level(logging.DEBUG)
    captured = Captured()
    with structlog_lines(logs) as rendered:
        transport = vertex_transport(sim, session, telemetry=captured.config())
        await collect(transport)  # the token is known from here on
        token = bearer(sim)
        faults = [
            Fault.http_error(f.status, f.error_type, f.message.format(token=token)) if f.kind == "http_error" else f
            for f in SCENARIOS[scenario]
        ]
        sim.inject(*faults)
        error = await stream_error(transport)
    await assert_released(session, captured, (transport.model.id,), sim)
    tokens = {bearer(sim, i) for i in range(len(sim.requests)) if bearer(sim, i)}
    for secret in tokens:
        leaked = outputs_holding(
            secret, transport=transport, error=error, captured=captured, caplog=caplog, rendered=rendered
        )
        assert not leaked, f"the access token is in: {leaked}"
