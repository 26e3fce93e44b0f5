"""The Vertex AI settings screen inside the real axio-tui app, driven with textual's Pilot: found
through the ``axio.transport.settings`` entry point, opened with Ctrl+P → "Configure Anthropic
Vertex", saved to axio-tui's database, then used for real turns against the simulator's Vertex
route with real google-auth credentials, across a restart."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from axio_transport_anthropic import VertexAITransport
from axio_transport_anthropic.models import DEFAULT_MODEL
from axio_transport_anthropic.simulator import Reply, Simulator
from axio_transport_anthropic.tui.vertex import VertexSettingsScreen

from .test_axio_tui import SIZE, home, log_text, new_app, started, turn, type_into, until
from .vertex_support import bearer, clear_google_environment, vertex_requests

__all__ = ["home"]  # the fixture, shared with the Anthropic screen's tests

pytestmark = pytest.mark.timeout(90)

NAME = "anthropic-vertex"


async def open_vertex_settings(pilot: Pilot[None]) -> VertexSettingsScreen:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"Configure Anthropic Vertex")
    await pilot.pause(0.3)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, VertexSettingsScreen), "the Vertex screen opens")
    screen = pilot.app.screen
    assert isinstance(screen, VertexSettingsScreen)
    return screen


async def save(pilot: Pilot[None]) -> None:
    await pilot.click("#save")
    await until(pilot, lambda: not isinstance(pilot.app.screen, VertexSettingsScreen), "the screen saves")
    await pilot.pause(0.2)


async def stored(home: Path) -> dict[str, str]:
    from axio_tui.sqlite_config import GLOBAL_PROJECT, ProjectConfig  # type: ignore[import-untyped]

    config = ProjectConfig(home / "axio.db", project=GLOBAL_PROJECT)
    try:
        found: dict[str, str] = await config.get_prefix(f"transport.{NAME}.")
        return found
    finally:
        await config.close()


def test_axio_tui_finds_the_vertex_screen() -> None:
    [found] = [e for e in entry_points(group="axio.transport.settings") if e.name == NAME]
    assert found.load() is VertexSettingsScreen


async def test_configure_save_run_restart_run(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Google credentials at first: listed as unavailable and why. With them, configure the
    project, region and the simulator's URL in the screen, chat, restart, chat again."""
    clear_google_environment(monkeypatch, home)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(home / "not-there.json"))
    async with Simulator() as sim:
        sim.enqueue(Reply.text("first answer over vertex"), Reply.text("second answer after a restart"))
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            assert f"{NAME} unavailable: no Google credentials for Vertex AI" in log_text(app), log_text(app)
            key_file = sim.vertex.service_account(home / "sa.json")
            monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
            screen = await open_vertex_settings(pilot)
            assert "no Google credentials" in str(screen.query_one("#status", Static).render())
            await type_into(pilot, "#location", "us-east5/x")
            await type_into(pilot, "#project", "tui-project")
            await pilot.click("#save")
            await until(pilot, lambda: "location" in str(screen.query_one("#error", Static).render()), "an error")
            assert screen.focused is screen.query_one("#location", Input)
            await type_into(pilot, "#location", "us-east5")
            await type_into(pilot, "#base-url", sim.base_url)
            await save(pilot)
            await turn(pilot, sim, "hello", "first answer over vertex")
        [request] = vertex_requests(sim)
        path = "/v1/projects/tui-project/locations/us-east5/publishers/anthropic/models/"
        assert request.path == f"{path}{DEFAULT_MODEL}:streamRawPredict"
        assert bearer(sim).startswith("ya29.sim-") and "model" not in request.body
        assert await stored(home) == {
            f"transport.{NAME}.project": "tui-project",
            f"transport.{NAME}.location": "us-east5",
            f"transport.{NAME}.base_url": sim.base_url,
            f"transport.{NAME}.vertexai": "true",
            f"transport.{NAME}.model": DEFAULT_MODEL,
        }

        restarted = new_app(home)
        async with restarted.run_test(size=SIZE) as pilot:
            await started(pilot)
            assert f"{NAME} unavailable" not in log_text(restarted), log_text(restarted)
            await turn(pilot, sim, "again", "second answer after a restart")
            chat = restarted._chat_transport
            assert isinstance(chat, VertexAITransport)
            assert (chat.project, chat.location) == ("tui-project", "us-east5")
            screen = await open_vertex_settings(pilot)
            assert screen.query_one("#project", Input).value == "tui-project"
        assert len(vertex_requests(sim)) == 2
        # Opening loads the credentials; the first request of each app run gets its token.
        assert sim.vertex.oauth.issued == 2
