"""Shared fixtures: a real simulator on loopback and a transport pointed at it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import Simulator

from .support import clear_environment

SECRET = "sk-ant-test-0123456789-SECRET"

#: A hard per-test limit that also ends a loop holding the GIL (see tests/time_limit.py).
pytest_plugins = ["tests.time_limit"]


@pytest.fixture
def no_anthropic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, token or base URL from the environment: use it with
    ``pytestmark = pytest.mark.usefixtures("no_anthropic_env")``."""
    clear_environment(monkeypatch)


@pytest.fixture
def env_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A key in the environment, for tests about the defaults (Anthropic's URL needs a key)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-environment-0123")
    return "sk-ant-from-the-environment-0123"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=SECRET) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def transport(sim: Simulator, session: aiohttp.ClientSession) -> AnthropicTransport:
    return AnthropicTransport(
        api_key=SECRET,
        base_url=sim.base_url,
        session=session,
        max_retries=3,
        retry_base_delay=0.001,
        retry_max_delay=0.01,
        first_byte_timeout=5.0,
        idle_timeout=5.0,
    )


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """An OTLP collector that takes the connection and never answers: only a time bound ends the wait."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
