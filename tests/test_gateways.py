"""Gateways and proxies, over real loopback servers: a base URL without ``/v1``, the 404 that
follows a wrong prefix, and ``HTTP_PROXY``/``NO_PROXY`` for the sessions the transport opens.
The Bearer-token gateway, extra headers and betas: tests/test_gateway_auth.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from axio_transport_anthropic import AnthropicTransport, APIStatusError
from axio_transport_anthropic.simulator import Fault, Simulator

from .conftest import SECRET
from .forwarder import Forwarder
from .support import clear_environment, collect

#: Besides the transport's own variables: what aiohttp reads for proxies (REQUEST_METHOD marks a CGI
#: environment, where it ignores HTTP_PROXY).
_PROXY_ENVIRONMENT = (
    "REQUEST_METHOD",
    *(f"{scheme}_proxy" for scheme in ("http", "https", "all", "no")),
    *(f"{scheme}_PROXY" for scheme in ("HTTP", "HTTPS", "ALL", "NO")),
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_environment(monkeypatch, *_PROXY_ENVIRONMENT)


@pytest.fixture
async def proxy() -> AsyncIterator[Forwarder]:
    async with Forwarder() as server:
        yield server


# ── the base URL ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("path", ["", "/"])
async def test_a_base_url_with_an_empty_path_gets_v1(sim: Simulator, session: aiohttp.ClientSession, path: str) -> None:
    transport = AnthropicTransport(api_key=SECRET, base_url=f"http://127.0.0.1:{sim.port}{path}", session=session)
    assert transport.base_url == f"http://127.0.0.1:{sim.port}/v1"
    await collect(transport)
    assert [r.path for r in sim.requests] == ["/v1/messages"]
    assert transport.to_dict()["base_url"] == transport.base_url


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("https://gateway.internal", "https://gateway.internal/v1"),
        ("https://gateway.internal/", "https://gateway.internal/v1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        # A path is the gateway's own prefix: kept as given.
        ("https://gateway.internal/anthropic", "https://gateway.internal/anthropic"),
        ("https://gateway.internal/v1/", "https://gateway.internal/v1/"),
    ],
)
def test_only_an_empty_path_is_completed(given: str, used: str) -> None:
    assert AnthropicTransport(api_key=SECRET, base_url=given).base_url == used


def test_an_empty_path_from_the_environment_gets_v1_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://gateway.internal")
    assert AnthropicTransport(api_key=SECRET).base_url == "https://gateway.internal/v1"
    assert AnthropicTransport.from_dict({"api_key": SECRET}).base_url == "https://gateway.internal/v1"


async def test_a_404_on_a_base_url_without_v1_says_so(sim: Simulator, session: aiohttp.ClientSession) -> None:
    transport = AnthropicTransport(api_key=SECRET, base_url=f"http://127.0.0.1:{sim.port}/anthropic", session=session)
    with pytest.raises(APIStatusError) as caught:
        await collect(transport)
    assert caught.value.status == 404
    assert f"http://127.0.0.1:{sim.port}/anthropic does not end in /v1" in str(caught.value)
    assert [r.path for r in sim.requests] == ["/anthropic/messages"]


async def test_a_404_on_a_v1_base_url_has_no_such_hint(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.http_error(404, "not_found_error", "model: claude-nope"))
    with pytest.raises(APIStatusError) as caught:
        await collect(transport)
    assert caught.value.status == 404
    assert "/v1" not in str(caught.value)


def test_the_404_hint_quotes_no_credentials_in_the_url() -> None:
    from axio_transport_anthropic.attempt import api_root_hint

    hint = api_root_hint("https://user:pa55word@gw.internal:8443/anthropic/messages?key=abc")
    assert hint is not None
    assert "https://gw.internal:8443/anthropic does not end in /v1" in hint
    assert "pa55word" not in hint and "abc" not in hint
    assert api_root_hint("https://gw.internal/v1/messages") is None


# ── proxies ─────────────────────────────────────────────────────────────────────────────────


async def test_sessions_the_transport_opens_honour_http_proxy(
    sim: Simulator, proxy: Forwarder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    # One session per call, and the pooled one of ``async with``.
    await collect(AnthropicTransport(api_key=SECRET, base_url=sim.base_url))
    async with AnthropicTransport(api_key=SECRET, base_url=sim.base_url) as pooled:
        await collect(pooled)
    assert [seen.target for seen in proxy.seen] == [f"{sim.base_url}/messages"] * 2
    assert all(seen.headers["x-api-key"] == SECRET for seen in proxy.seen)
    assert len(sim.requests) == 2


async def test_no_proxy_is_honoured(sim: Simulator, proxy: Forwarder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    await collect(AnthropicTransport(api_key=SECRET, base_url=sim.base_url))
    assert proxy.seen == []
    assert len(sim.requests) == 1


async def test_a_callers_session_is_left_as_given(
    sim: Simulator, proxy: Forwarder, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    await collect(AnthropicTransport(api_key=SECRET, base_url=sim.base_url, session=session))
    assert proxy.seen == []
    assert len(sim.requests) == 1
