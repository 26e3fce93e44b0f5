"""What axio and axio-tui find through the installed entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

import aiohttp
from axio.testing import assert_static_model_transport_contract
from axio.transport import CompletionTransport, discover_transports, select_transport_model

from axio_transport_anthropic import ANTHROPIC_MODELS, AnthropicTransport
from axio_transport_anthropic.simulator import Reply, Simulator

from .support import collect


def test_axio_discovers_the_transport() -> None:
    entry = discover_transports().require("anthropic")
    assert entry.cls is AnthropicTransport
    assert entry.env_vars == ("ANTHROPIC_API_KEY",)
    assert isinstance(AnthropicTransport(api_key="k"), CompletionTransport)


def test_axio_tui_finds_the_settings_screen() -> None:
    [found] = [e for e in entry_points(group="axio.transport.settings") if e.name == "anthropic"]
    from axio_transport_anthropic.tui import AnthropicSettingsScreen

    assert found.load() is AnthropicSettingsScreen


async def test_an_app_opens_it_the_way_axio_does() -> None:
    entry = discover_transports().require("anthropic")
    async with (
        Simulator() as sim,
        aiohttp.ClientSession() as session,
        entry.open(session=session, api_key="k", base_url=sim.base_url, max_retries=1) as transport,
    ):
        assert isinstance(transport, AnthropicTransport)
        assert transport.session is session
        assert_static_model_transport_contract(transport)
        haiku = select_transport_model(transport, ANTHROPIC_MODELS["claude-haiku-4-5"])
        sim.enqueue(Reply.text("ok"))
        await collect(haiku)
        body = sim.requests[-1].body
        assert body is not None
        assert body["model"] == "claude-haiku-4-5"
        assert transport.model.id == "claude-sonnet-4-6"
