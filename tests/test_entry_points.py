"""What axio and axio-tui find through the installed entry points."""

from __future__ import annotations

import importlib
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import aiohttp
import pytest
from axio.testing import assert_static_model_transport_contract
from axio.transport import CompletionTransport, discover_transports, select_transport_model

from axio_transport_anthropic import ANTHROPIC_MODELS, AnthropicTransport, BedrockTransport, VertexAITransport
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


@pytest.mark.parametrize(
    ("name", "cls", "env_vars", "screen"),
    [
        ("anthropic-vertex", VertexAITransport, ("GOOGLE_CLOUD_PROJECT",), "tui.vertex:VertexSettingsScreen"),
        (
            "anthropic-bedrock",
            BedrockTransport,
            ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"),
            "tui.bedrock_settings:BedrockSettingsScreen",
        ),
    ],
)
def test_axio_finds_the_cloud_transports_and_their_settings_screens(
    name: str, cls: type[AnthropicTransport], env_vars: tuple[str, ...], screen: str
) -> None:
    entry = discover_transports().require(name)
    assert entry.cls is cls and entry.env_vars == env_vars
    [found] = [e for e in entry_points(group="axio.transport.settings") if e.name == name]
    assert found.value == f"axio_transport_anthropic.{screen}"
    module, _, attribute = screen.partition(":")
    assert found.load() is getattr(importlib.import_module(f"axio_transport_anthropic.{module}"), attribute)


def test_every_extra_is_in_the_readmes_install_section() -> None:
    root = Path(__file__).resolve().parent.parent
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    install = (root / "README.md").read_text().split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    missing = [extra for extra in extras if extra != "dev" and f"axio-transport-anthropic[{extra}]" not in install]
    # [vertexai] is 0.12.2's name for [vertex]: said so on the [vertex] line.
    missing = [extra for extra in missing if not (extra == "vertexai" and "[vertexai]" in install)]
    assert missing == [], f"README.md's Install section does not mention {missing}"
    assert extras["vertexai"] == extras["vertex"], "0.12.2's [vertexai] installs what [vertex] does"
