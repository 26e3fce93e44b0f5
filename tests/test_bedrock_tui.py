"""The Bedrock settings screen inside the real axio-tui app, driven with textual's Pilot: found
through the ``axio.transport.settings`` entry point, opened with Ctrl+P → "Configure Anthropic
Bedrock", saved to axio-tui's database, then used for real turns against the simulator's Bedrock
route (which checks the signature's region and keys), across a restart."""

from __future__ import annotations

from pathlib import Path

import axio_tui.app  # type: ignore[import-untyped]  # axio-tui ships no py.typed
import pytest
from axio_tui.sqlite_config import GLOBAL_PROJECT, ProjectConfig  # type: ignore[import-untyped]
from textual.pilot import Pilot
from textual.widgets import Input, Static

from axio_transport_anthropic.simulator import Reply, Simulator
from axio_transport_anthropic.simulator.bedrock_auth import TEST_KEYS
from axio_transport_anthropic.tui.bedrock_settings import BedrockSettingsScreen

from .bedrock_support import isolate_aws
from .test_axio_tui import SIZE, log_text, new_app, save, started, turn, type_into, until

PREFIX = "transport.anthropic-bedrock."

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own (axio-tui's database, and AWS files with a ``sim`` profile's keys)."""
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setattr(axio_tui.app, "DB_PATH", tmp_path / "axio.db")
    (tmp_path / "aws-credentials").write_text(
        f"[sim]\naws_access_key_id = {TEST_KEYS.access_key_id}\naws_secret_access_key = {TEST_KEYS.secret_access_key}\n"
    )
    (tmp_path / "aws-config").write_text("[profile sim]\nregion = us-west-2\n")
    return tmp_path


async def open_settings(pilot: Pilot[None]) -> BedrockSettingsScreen:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"Configure Anthropic Bedrock")
    await pilot.pause(0.3)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, BedrockSettingsScreen), "the Bedrock screen opens")
    screen = pilot.app.screen
    assert isinstance(screen, BedrockSettingsScreen)
    return screen


async def saved_settings(home: Path) -> dict[str, str]:
    config = ProjectConfig(home / "axio.db", project=GLOBAL_PROJECT)
    try:
        found: dict[str, str] = await config.get_prefix(PREFIX)
        return {key.removeprefix(PREFIX): value for key, value in found.items()}
    finally:
        await config.close()


def scope(sim: Simulator) -> str:
    return sim.requests[-1].headers["authorization"].split("Credential=")[1].split(",")[0]


async def test_configure_region_and_profile_run_restart_run(home: Path) -> None:
    async with Simulator() as sim:
        sim.bedrock.auth.region = "eu-west-3"  # only a signature for the region typed in is let in
        sim.enqueue(Reply.text("first answer from Bedrock"), Reply.text("second answer after a restart"))
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            # No credentials in the default profile: the app lists the transport as unavailable.
            assert "anthropic-bedrock unavailable: no AWS credentials found" in log_text(app)
            screen = await open_settings(pilot)
            assert "no AWS credentials found" in str(screen.query_one("#status", Static).render())
            assert "global.anthropic.claude-sonnet-4-6" in str(screen.query_one("#model", Static).render())
            await type_into(pilot, "#aws-region", "eu-west-3")
            await type_into(pilot, "#aws-profile", "sim")
            await type_into(pilot, "#base-url", sim.bedrock.endpoint)
            await save(pilot)
            assert "Anthropic Bedrock activated" in log_text(app), log_text(app)
            await turn(pilot, sim, "hello", "first answer from Bedrock")
        assert scope(sim) == f"{TEST_KEYS.access_key_id}/{scope(sim).split('/')[1]}/eu-west-3/bedrock/aws4_request"
        assert sim.requests[-1].path == "/model/global.anthropic.claude-sonnet-4-6/invoke-with-response-stream"
        assert await saved_settings(home) == {
            "aws_region": "eu-west-3",
            "aws_profile": "sim",
            "base_url": sim.bedrock.endpoint,
            "model": "global.anthropic.claude-sonnet-4-6",
        }

        restarted = new_app(home)
        async with restarted.run_test(size=SIZE) as pilot:
            await started(pilot)
            assert "anthropic-bedrock unavailable" not in log_text(restarted), log_text(restarted)
            await turn(pilot, sim, "again", "second answer after a restart")
            screen = await open_settings(pilot)
            assert screen.query_one("#aws-region", Input).value == "eu-west-3"
            assert screen.query_one("#aws-profile", Input).value == "sim"


async def test_without_a_region_the_profiles_is_used(home: Path) -> None:
    async with Simulator() as sim:
        sim.bedrock.auth.region = "us-west-2"  # the sim profile's region in the AWS config file
        sim.enqueue(Reply.text("signed for the profile's region"))
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            await open_settings(pilot)
            await type_into(pilot, "#aws-profile", "sim")
            await type_into(pilot, "#base-url", sim.bedrock.endpoint)
            await save(pilot)
            await turn(pilot, sim, "hello", "signed for the profile's region")
        assert "/us-west-2/bedrock/" in scope(sim)
        assert "aws_region" not in await saved_settings(home)


async def test_a_profile_that_does_not_exist_is_named_and_nothing_is_saved(home: Path) -> None:
    app = new_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        screen = await open_settings(pilot)
        await type_into(pilot, "#aws-profile", "nowhere")
        await type_into(pilot, "#aws-region", "mars-1")
        await pilot.click("#save")
        await pilot.pause(0.3)
        assert "aws_region must be an AWS region" in str(screen.query_one("#error", Static).render())
        await type_into(pilot, "#aws-region", "eu-west-1")
        await pilot.click("#save")
        await until(pilot, lambda: "nowhere" in str(screen.query_one("#error", Static).render()), "the error shows")
        assert "aws_profile 'nowhere' is not in the AWS config files" in str(
            screen.query_one("#error", Static).render()
        )
        assert app.screen is screen and app.focused is screen.query_one("#aws-profile", Input)
    assert await saved_settings(home) == {}


async def test_a_bedrock_api_key_from_the_screen(home: Path) -> None:
    async with Simulator() as sim:
        sim.bedrock.auth.api_keys.add("bedrock-api-key-typed-in-the-screen")
        sim.enqueue(Reply.text("answered for the API key"))
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            screen = await open_settings(pilot)
            assert screen.query_one("#api-key", Input).password
            await type_into(pilot, "#api-key", "bedrock-api-key-typed-in-the-screen")
            await type_into(pilot, "#base-url", sim.bedrock.endpoint)
            await save(pilot)
            await turn(pilot, sim, "hello", "answered for the API key")
            assert "bedrock-api-key-typed-in-the-screen" not in repr(screen)
        assert sim.requests[-1].headers["authorization"] == "Bearer bedrock-api-key-typed-in-the-screen"
        assert (await saved_settings(home))["api_key"] == "bedrock-api-key-typed-in-the-screen"
