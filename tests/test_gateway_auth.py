"""A gateway that takes a Bearer token (a real one on loopback, in front of the simulator), extra
headers and betas. The auth token, like the key, appears nowhere a person or a collector reads."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from axio_transport_anthropic import AnthropicTransport, APIStatusError, ConfigurationError
from axio_transport_anthropic.models import DEFAULT_MODEL
from axio_transport_anthropic.simulator import Fault, Reply, Simulator

from .conftest import SECRET
from .forwarder import Forwarder
from .leaks import Captured, assert_released, outputs_holding, stream_error, structlog_lines
from .support import collect

TOKEN = "gw-token-7f3a9c1e5b2d4068-GATEWAY"
ENV_KEY = "sk-ant-env-only-key-0123456789"

pytestmark = [pytest.mark.usefixtures("no_anthropic_env"), pytest.mark.timeout(30)]


@pytest.fixture
async def gateway(sim: Simulator) -> AsyncIterator[Forwarder]:
    async with Forwarder(upstream=f"http://127.0.0.1:{sim.port}", token=TOKEN, upstream_key=SECRET) as server:
        yield server


# ── a gateway that takes a Bearer token ─────────────────────────────────────────────────────


async def test_auth_token_is_sent_as_bearer(gateway: Forwarder, session: aiohttp.ClientSession) -> None:
    transport = AnthropicTransport(auth_token=TOKEN, base_url=f"{gateway.url}/v1", session=session)
    events = await collect(transport)
    assert events
    [seen] = gateway.seen
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in seen.headers


async def test_anthropic_auth_token_is_read_from_the_environment(
    gateway: Forwarder, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", TOKEN)
    await collect(AnthropicTransport(base_url=f"{gateway.url}/v1", session=session))
    assert gateway.seen[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_key_from_the_environment_is_not_sent_with_a_token(
    gateway: Forwarder, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ANTHROPIC_API_KEY is exported for Anthropic; a gateway given a token does not get it."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    transport = AnthropicTransport(auth_token=TOKEN, base_url=f"{gateway.url}/v1", session=session)
    await collect(transport)
    restored = AnthropicTransport.from_dict(transport.to_dict(), session=session)
    await collect(restored)
    assert [seen.headers.get("x-api-key") for seen in gateway.seen] == [None, None]
    assert ENV_KEY not in json.dumps(transport.to_dict())


async def test_a_key_given_with_a_token_sends_both(gateway: Forwarder, session: aiohttp.ClientSession) -> None:
    """As the official SDK does when it is given both: some gateways forward the caller's key."""
    transport = AnthropicTransport(api_key=ENV_KEY, auth_token=TOKEN, base_url=f"{gateway.url}/v1", session=session)
    await collect(transport)
    await collect(AnthropicTransport.from_dict(transport.to_dict(), session=session))
    for seen in gateway.seen:
        assert (seen.headers["authorization"], seen.headers["x-api-key"]) == (f"Bearer {TOKEN}", ENV_KEY)


def test_a_token_alone_is_a_credential_for_anthropics_host() -> None:
    assert AnthropicTransport(auth_token=TOKEN).base_url == "https://api.anthropic.com/v1"
    # So is a credential header given as such.
    assert AnthropicTransport(default_headers={"X-Api-Key": ENV_KEY}).api_key == ""
    assert AnthropicTransport(default_headers={"Authorization": f"Bearer {TOKEN}"}).auth_token == ""


# ── default_headers and betas ───────────────────────────────────────────────────────────────


async def test_default_headers_and_betas_are_sent(sim: Simulator, session: aiohttp.ClientSession) -> None:
    transport = AnthropicTransport(
        api_key=SECRET,
        base_url=sim.base_url,
        session=session,
        default_headers={"X-Gateway-Route": "claude", "anthropic-beta": "token-efficient-tools-2025-02-19"},
        betas=["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"],
    )
    await collect(transport)
    headers = sim.requests[0].headers
    assert headers["x-gateway-route"] == "claude"
    assert headers["anthropic-beta"] == (
        "token-efficient-tools-2025-02-19,context-1m-2025-08-07,interleaved-thinking-2025-05-14"
    )
    assert headers["x-api-key"] == SECRET
    assert headers["content-type"] == "application/json"


async def test_no_anthropic_beta_header_without_betas(sim: Simulator, transport: AnthropicTransport) -> None:
    await collect(transport)
    assert "anthropic-beta" not in sim.requests[0].headers


def test_default_headers_and_betas_round_trip_through_to_dict() -> None:
    original = AnthropicTransport(
        api_key=SECRET,
        auth_token=TOKEN,
        default_headers={"X-Gateway-Route": "claude"},
        betas=("context-1m-2025-08-07",),
    )
    saved = json.loads(json.dumps(original.to_dict()))
    assert saved["default_headers"] == {"X-Gateway-Route": "claude"}
    assert saved["betas"] == ["context-1m-2025-08-07"]
    assert saved["auth_token"] == TOKEN
    restored = AnthropicTransport.from_dict(saved)
    assert restored == original
    assert (restored.auth_token, restored.default_headers, restored.betas) == (
        TOKEN,
        {"X-Gateway-Route": "claude"},
        ("context-1m-2025-08-07",),
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_headers", {"content-type": "text/plain"}),
        ("default_headers", {"Content-Length": "5"}),
        ("default_headers", {"accept": "application/json"}),
        ("default_headers", {"x-ok": "line\r\nInjected: yes"}),
        ("default_headers", {"bad name": "v"}),
        ("default_headers", {"x-n": 5}),
        ("default_headers", [("x-a", "b")]),
        ("betas", "context-1m-2025-08-07"),
        ("betas", ["a,b"]),
        ("betas", [""]),
        ("betas", ["has space"]),
        ("betas", [5]),
        ("auth_token", 12345),
        ("auth_token", "tok\nen"),
    ],
    ids=repr,
)
def test_a_header_setting_that_cannot_work_is_refused_naming_it(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field) as caught:
        AnthropicTransport(api_key=SECRET, **{field: value})  # type: ignore[arg-type]
    assert "Injected" not in str(caught.value)


def test_default_headers_may_replace_the_version_and_send_a_key_beside_a_token() -> None:
    from axio_transport_anthropic.auth import request_headers

    transport = AnthropicTransport(
        auth_token=TOKEN, default_headers={"anthropic-version": "2025-01-01", "X-Api-Key": "forwarded"}
    )
    headers = {k.lower(): v for k, v in request_headers(transport).items()}
    assert headers["anthropic-version"] == "2025-01-01"
    assert headers["x-api-key"] == "forwarded"
    assert headers["authorization"] == f"Bearer {TOKEN}"


# ── the token goes nowhere ──────────────────────────────────────────────────────────────────

TOKEN_SCENARIOS: dict[str, tuple[Fault, ...]] = {
    "ok": (),
    "retried-then-ok": (Fault.overloaded(),),
    "server-echoes-the-token-in-an-http-error": (
        Fault.http_error(401, "authentication_error", f"invalid bearer token: {TOKEN}"),
    ),
    "server-echoes-the-token-in-an-in-stream-error": (
        Fault.stream_error("invalid_request_error", f"token {TOKEN} is not allowed here", after_events=4),
    ),
}


@pytest.mark.parametrize("scenario", sorted(TOKEN_SCENARIOS))
@pytest.mark.parametrize("logs", ["stdlib", "structlog"])
async def test_the_auth_token_is_in_no_error_log_span_metric_or_repr(
    sim: Simulator,
    gateway: Forwarder,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    scenario: str,
    logs: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    captured = Captured()
    with structlog_lines(logs) as rendered:
        transport = AnthropicTransport(
            auth_token=TOKEN,
            base_url=f"{gateway.url}/v1",
            session=session,
            telemetry=captured.config(),
            max_retries=2,
            retry_base_delay=0.001,
            retry_max_delay=0.01,
        )
        sim.enqueue(Reply.text("fine"))
        sim.inject(*TOKEN_SCENARIOS[scenario])
        error = await stream_error(transport)
    await assert_released(session, captured, (DEFAULT_MODEL,), sim)
    assert gateway.seen and all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in gateway.seen)

    leaked = outputs_holding(
        TOKEN, transport=transport, error=error, captured=captured, caplog=caplog, rendered=rendered
    )
    assert not leaked, f"the auth token is in: {leaked}"


def test_to_dict_redacted_hides_the_token_and_header_values() -> None:
    transport = AnthropicTransport(
        api_key=SECRET, auth_token=TOKEN, default_headers={"cf-aig-authorization": "Bearer cf-secret-123"}
    )
    data = transport.to_dict(redact=True)
    text = json.dumps(data)
    assert TOKEN not in text and SECRET not in text and "cf-secret-123" not in text
    assert data["auth_token"] == "[redacted]"
    assert data["default_headers"] == {"cf-aig-authorization": "[redacted]"}
    assert "cf-secret-123" not in repr(transport)


def test_a_redacted_dump_restores_the_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    saved = AnthropicTransport(api_key=SECRET, auth_token=TOKEN, default_headers={"x-a": "b"}).to_dict(redact=True)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-from-env")
    restored = AnthropicTransport.from_dict(saved)
    assert restored.auth_token == "tok-from-env"
    # A redacted header value is dropped, never sent as "[redacted]".
    assert restored.default_headers == {}
    assert "auth_token" in caplog.text and "x-a" in caplog.text


async def test_a_gateway_error_quoting_a_secret_header_value_is_scrubbed(sim: Simulator) -> None:
    """A credential passed in default_headers is scrubbed from errors as the key and token are."""
    cf = "cf-aig-secret-value-0123456789"
    sim.inject(Fault.http_error(403, "permission_error", f"gateway refused cf-aig-authorization {cf}"))
    async with aiohttp.ClientSession() as session:
        transport = AnthropicTransport(
            api_key=SECRET,
            base_url=sim.base_url,
            session=session,
            default_headers={"cf-aig-authorization": cf},
        )
        with pytest.raises(APIStatusError) as caught:
            await collect(transport)
    assert cf not in str(caught.value) and cf not in repr(caught.value)
    assert sim.requests[0].headers["cf-aig-authorization"] == cf
