"""Credential refreshes in telemetry, through real google-auth and botocore against the simulator.

Each refresh a backend does for an attempt (a Google token fetched or renewed, an AWS credential
set resolved or refreshed) is counted in ``axio_anthropic_credential_refreshes_total{provider,
outcome}`` and the OTel ``axio.anthropic.credential.refresh.duration`` histogram, and shows as a
``credential.refresh`` event on the request's span; a failed one is counted as ``error``. None of
it holds the token, the keys or a signature.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from axio.events import IterationEnd
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from prometheus_client import generate_latest

from axio_transport_anthropic import AnthropicError
from axio_transport_anthropic.backends.aws_credentials import CredentialsUnavailable
from axio_transport_anthropic.simulator import Simulator
from axio_transport_anthropic.telemetry import TelemetryConfig

from .bedrock_support import ROTATED_KEYS, SESSION_KEYS, CredentialProcess, bedrock, isolate_aws
from .leaks import Captured
from .support import collect
from .vertex_support import bearer, use_service_account, vertex_transport

pytestmark = pytest.mark.timeout(30)

REFRESHES = "axio_anthropic_credential_refreshes_total"
OTEL_REFRESHES = "axio.anthropic.credential.refresh.duration"


class Seen(Captured):
    """``Captured`` with an OTel meter provider as well: everything one test's telemetry recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])

    def config(self, *, logs: bool = True) -> TelemetryConfig:
        return TelemetryConfig(
            tracer_provider=self.provider, meter_provider=self.meters, registry=self.registry, logs=logs
        )

    def refreshes(self, provider: str) -> dict[str, float]:
        return {
            outcome: self.registry.get_sample_value(REFRESHES, {"provider": provider, "outcome": outcome}) or 0.0
            for outcome in ("ok", "error")
        }

    def otel_refreshes(self) -> list[tuple[dict[str, Any], int, float]]:
        """``(attributes, count, sum)`` of each point of the refresh histogram."""
        data = self.reader.get_metrics_data()
        return [
            (dict(point.attributes or {}), point.count, point.sum)
            for resource in (data.resource_metrics if data is not None else ())
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == OTEL_REFRESHES
            for point in metric.data.data_points
            if isinstance(point, HistogramDataPoint)
        ]

    def events(self) -> list[tuple[ReadableSpan, dict[str, Any]]]:
        """Each ``credential.refresh`` event, with the span it is on."""
        return [
            (span, dict(event.attributes or {}))
            for span in self.spans()
            for event in span.events
            if event.name == "credential.refresh"
        ]

    def everything(self) -> str:
        """Every span (attributes, events, status), the /metrics text and the OTel metrics, as text."""
        spans = [span.to_json() for span in self.spans()]
        data = self.reader.get_metrics_data()
        metrics = data.to_json() if data is not None else ""
        return "\n".join([*spans, generate_latest(self.registry).decode(), metrics])


@pytest.fixture
def seen() -> Iterator[Seen]:
    found = Seen()
    yield found
    found.meters.shutdown()


def _assert_no_secret(seen: Seen, secrets: list[str]) -> None:
    text = seen.everything()
    assert secrets and all(len(s) >= 16 for s in secrets)
    for secret in secrets:
        assert secret not in text and json.dumps(secret)[1:-1] not in text


# ── Vertex AI: a Google token from the simulator's OAuth endpoint ─────────────────────────────


@pytest.fixture
async def vertex_sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Simulator]:
    async with Simulator() as server:
        use_service_account(server, monkeypatch, tmp_path)
        yield server


async def test_vertex_a_refresh_is_counted_and_an_event_on_the_request_span(
    vertex_sim: Simulator, session: aiohttp.ClientSession, seen: Seen
) -> None:
    transport = vertex_transport(vertex_sim, session, max_retries=0, telemetry=seen.config())
    await collect(transport)  # the first token: a refresh
    await collect(transport)  # still FRESH: none
    vertex_sim.vertex.oauth.revoke()  # a 401, one refresh, one more attempt
    assert isinstance((await collect(transport))[-1], IterationEnd)
    assert seen.refreshes("gcp.vertex_ai") == {"ok": 2.0, "error": 0.0}
    assert vertex_sim.vertex.oauth.issued == 2
    events = seen.events()
    assert [(span.name, attributes["credential.refresh.attempt"]) for span, attributes in events] == [
        ("chat claude-sonnet-4-6", 1),
        ("chat claude-sonnet-4-6", 2),
    ]
    chats = [span for span in seen.spans() if span.name.startswith("chat")]
    assert [len([e for e in span.events if e.name == "credential.refresh"]) for span in chats] == [1, 0, 1]
    for _, attributes in events:
        assert attributes["credential.refresh.outcome"] == "ok" and "error.type" not in attributes
        assert 0 < attributes["credential.refresh.duration_s"] < 10
    [(attributes, count, total)] = seen.otel_refreshes()
    assert attributes == {"gen_ai.provider.name": "gcp.vertex_ai", "server.address": "127.0.0.1"}
    assert count == 2 and total > 0
    tokens = [grant.token for grant in vertex_sim.vertex.oauth.grants if grant.token]
    _assert_no_secret(seen, [*tokens, bearer(vertex_sim)])


async def test_vertex_a_refused_refresh_is_counted_as_an_error(
    vertex_sim: Simulator, session: aiohttp.ClientSession, seen: Seen
) -> None:
    transport = vertex_transport(vertex_sim, session, telemetry=seen.config())
    await collect(transport)
    vertex_sim.vertex.oauth.revoke()
    vertex_sim.vertex.oauth.fail_next(400, "invalid_grant")
    with pytest.raises(AnthropicError):
        await collect(transport)
    assert seen.refreshes("gcp.vertex_ai") == {"ok": 1.0, "error": 1.0}
    [(span, attributes)] = [(s, a) for s, a in seen.events() if a["credential.refresh.outcome"] == "error"]
    assert attributes["error.type"] == "RefreshError" and attributes["credential.refresh.attempt"] == 2
    assert span.attributes is not None and span.attributes["error.type"] == "authentication_error"
    errors = [(a, n) for a, n, _ in seen.otel_refreshes() if "error.type" in a]
    assert errors == [({**errors[0][0], "error.type": "RefreshError"}, 1)]
    tokens = [grant.token for grant in vertex_sim.vertex.oauth.grants if grant.token]
    _assert_no_secret(seen, tokens)


async def test_vertex_an_unreachable_token_endpoint_counts_each_failed_attempt(
    vertex_sim: Simulator, session: aiohttp.ClientSession, seen: Seen, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_unreachable_token_uri(tmp_path)))
    with pytest.raises(AnthropicError):
        await collect(vertex_transport(vertex_sim, session, max_retries=2, telemetry=seen.config()))
    assert seen.refreshes("gcp.vertex_ai") == {"ok": 0.0, "error": 3.0}
    assert [a["credential.refresh.attempt"] for _, a in seen.events()] == [1, 2, 3]
    assert {a["error.type"] for _, a in seen.events()} == {"TransportError"}


def _unreachable_token_uri(home: Path) -> Path:
    """The service account in use, its ``token_uri`` on the discard port (refused)."""
    account = json.loads(Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())
    account["token_uri"] = "http://127.0.0.1:9/token"
    moved = home / "unreachable.json"
    moved.write_text(json.dumps(account))
    return moved


# ── Bedrock: botocore's default chain, a credential process ──────────────────────────────────


@pytest.fixture
async def bedrock_sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[tuple[Simulator, Path]]:
    config = isolate_aws(monkeypatch, tmp_path)
    async with Simulator() as server:
        yield server, config


def _signatures(sim: Simulator) -> list[str]:
    return [r.headers["authorization"].rpartition("Signature=")[2] for r in sim.requests]


async def test_bedrock_resolutions_and_refreshes_are_counted_and_on_the_span(
    bedrock_sim: tuple[Simulator, Path], tmp_path: Path, seen: Seen
) -> None:
    sim, config = bedrock_sim
    process = CredentialProcess(tmp_path, config, lifetime=timedelta(minutes=5))  # botocore refreshes it
    process.set(SESSION_KEYS)
    sim.bedrock.auth.rotate(SESSION_KEYS)
    t = bedrock(sim, keys=None, aws_profile=process.profile, telemetry=seen.config())
    async with t:
        await collect(t)
        process.set(ROTATED_KEYS)
        sim.bedrock.auth.rotate(ROTATED_KEYS)
        await collect(t)
    assert seen.refreshes("aws.bedrock") == {"ok": 2.0, "error": 0.0}
    assert [(a["credential.refresh.outcome"], a["credential.refresh.attempt"]) for _, a in seen.events()] == [
        ("ok", 1),
        ("ok", 1),
    ]
    [(attributes, count, _)] = seen.otel_refreshes()
    assert attributes["gen_ai.provider.name"] == "aws.bedrock" and count == 2
    keys = [k for pair in (SESSION_KEYS, ROTATED_KEYS) for k in (pair.secret_access_key, pair.session_token) if k]
    _assert_no_secret(seen, [*keys, *_signatures(sim)])


async def test_bedrock_static_keys_are_never_refreshed(bedrock_sim: tuple[Simulator, Path], seen: Seen) -> None:
    sim, _ = bedrock_sim
    await collect(bedrock(sim, telemetry=seen.config()))
    assert seen.refreshes("aws.bedrock") == {"ok": 0.0, "error": 0.0}  # at 0, and present
    assert seen.events() == [] and seen.otel_refreshes() == []


async def test_bedrock_no_credentials_is_a_failed_refresh(bedrock_sim: tuple[Simulator, Path], seen: Seen) -> None:
    sim, _ = bedrock_sim
    with pytest.raises(CredentialsUnavailable):
        await collect(bedrock(sim, keys=None, telemetry=seen.config()))
    assert seen.refreshes("aws.bedrock") == {"ok": 0.0, "error": 1.0}
    [(span, attributes)] = seen.events()
    assert attributes["credential.refresh.outcome"] == "error" and attributes["error.type"] == "credentials_error"
    assert span.attributes is not None and span.attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert sim.requests == []


async def test_vertex_a_failed_early_refresh_is_an_error_on_a_call_that_succeeds(
    vertex_sim: Simulator, session: aiohttp.ClientSession, seen: Seen
) -> None:
    """A STALE token is still valid for minutes: its failed refresh is counted and shown, and the
    call goes on with it."""
    vertex_sim.vertex.oauth.token_lifetime = 226  # FRESH for about 1 s in google-auth's eyes
    transport = vertex_transport(vertex_sim, session, telemetry=seen.config(logs=False))
    await collect(transport)
    await asyncio.sleep(1.2)
    vertex_sim.vertex.oauth.fail_next(400, "invalid_grant")
    assert isinstance((await collect(transport))[-1], IterationEnd)
    assert seen.refreshes("gcp.vertex_ai") == {"ok": 1.0, "error": 1.0}
    chats = [span for span in seen.spans() if span.name.startswith("chat")]
    assert [span.status.status_code for span in chats] == [StatusCode.UNSET, StatusCode.UNSET]
    outcomes = [a["credential.refresh.outcome"] for _, a in seen.events()]
    assert outcomes == ["ok", "error"]


class _OldSink:
    """A sink written before ``credential_refresh`` existed."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, info: Any, span: Any) -> _OldSink:
        return self

    def __getattr__(self, name: str) -> Any:
        if name == "credential_refresh":
            raise AttributeError(name)
        return lambda *args: self.calls.append(name)


async def test_a_sink_without_the_hook_is_skipped_silently(
    vertex_sim: Simulator, session: aiohttp.ClientSession, seen: Seen, caplog: pytest.LogCaptureFixture
) -> None:
    old = _OldSink()
    config = seen.config(logs=False)
    config.sinks = (old,)
    with caplog.at_level(logging.WARNING, logger="axio_transport_anthropic.telemetry"):
        await collect(vertex_transport(vertex_sim, session, telemetry=config))
    assert seen.refreshes("gcp.vertex_ai")["ok"] == 1.0
    assert "attempt_started" in old.calls and "finished" in old.calls
    assert not [r for r in caplog.records if "credential_refresh" in r.getMessage()]
