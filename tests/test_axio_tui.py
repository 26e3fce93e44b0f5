"""The settings screen inside the real axio-tui app, driven with textual's Pilot: found through
the ``axio.transport.settings`` entry point, opened with Ctrl+P → "Configure Anthropic", saved to
axio-tui's own database, then used for real turns against the simulator, across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import axio_tui.app  # type: ignore[import-untyped]  # axio-tui ships no py.typed
import pytest
from axio_tui.app import AgentApp
from axio_tui.options import StartupOptions  # type: ignore[import-untyped]  # axio-tui ships no py.typed
from axio_tui.paths import ConfigPaths  # type: ignore[import-untyped]  # axio-tui ships no py.typed
from axio_tui.sqlite_config import GLOBAL_PROJECT, ProjectConfig  # type: ignore[import-untyped]  # axio-tui ships no py.typed
from textual.pilot import Pilot
from textual.widgets import Input, Markdown, Static

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.models import DEFAULT_MODEL
from axio_transport_anthropic.simulator import Fault, Reply, Simulator
from axio_transport_anthropic.tui import AnthropicSettingsScreen

from .support import clear_environment

KEY = "sk-ant-tui-0123456789abcdef"
SIZE = (110, 44)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own: axio-tui keeps its database under ``~/.local/share/axio-tui``, a path it
    computes once at import, so that constant is pointed here too."""
    clear_environment(monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setattr(axio_tui.app, "DB_PATH", tmp_path / "axio.db")
    return tmp_path


def new_app(home: Path) -> AgentApp:
    return AgentApp(paths=ConfigPaths.discover(home, home), options=StartupOptions(isolated=True))


async def until(pilot: Pilot[None], done: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(20):
        while not done():
            await pilot.pause(0.05)
    assert done(), what


def log_text(app: AgentApp) -> str:
    parts: list[str] = []
    for widget in app.query("#log > *"):
        if isinstance(widget, Markdown):
            parts.append(widget.source)
        elif isinstance(widget, Static):
            parts.append(str(widget.render()))
    return "\n".join(parts)


async def started(pilot: Pilot[None]) -> AgentApp:
    app = pilot.app
    assert isinstance(app, AgentApp)
    async with asyncio.timeout(20):
        await app.ready.wait()
    await pilot.pause()
    return app


async def open_settings(pilot: Pilot[None]) -> AnthropicSettingsScreen:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"Configure Anthropic")
    await pilot.pause(0.3)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, AnthropicSettingsScreen), "the settings screen opens")
    screen = pilot.app.screen
    assert isinstance(screen, AnthropicSettingsScreen)
    return screen


async def type_into(pilot: Pilot[None], widget_id: str, text: str) -> None:
    """Clear a field, then type *text* key by key, as a user would."""
    await pilot.click(widget_id)
    pilot.app.screen.query_one(widget_id, Input).value = ""
    if text:
        await pilot.press(*text)
    await pilot.pause()


async def save(pilot: Pilot[None]) -> None:
    await pilot.click("#save")
    await until(pilot, lambda: not isinstance(pilot.app.screen, AnthropicSettingsScreen), "the screen saves")
    await pilot.pause(0.2)


async def turn(pilot: Pilot[None], sim: Simulator, text: str, expect: str) -> None:
    app = pilot.app
    assert isinstance(app, AgentApp)
    before = len(sim.requests)
    field = app.query_one("#input", Input)
    field.focus()
    await pilot.press(*text)
    await pilot.press("enter")
    await until(pilot, lambda: expect in log_text(app), f"{expect!r} in the chat log:\n{log_text(app)}")
    await until(pilot, lambda: not app._is_running, "the run ends")
    assert len(sim.requests) > before


async def stored(home: Path) -> dict[str, str]:
    config = ProjectConfig(home / "axio.db", project=GLOBAL_PROJECT)
    try:
        found: dict[str, str] = await config.get_prefix("transport.anthropic.")
        return found
    finally:
        await config.close()


async def store(home: Path, values: dict[str, str], *, project: str = GLOBAL_PROJECT) -> None:
    config = ProjectConfig(home / "axio.db", project=project)
    try:
        for key, value in values.items():
            await config.set(key, value)
    finally:
        await config.close()


def shown_model(screen: AnthropicSettingsScreen) -> str:
    return str(screen.query_one("#model", Static).render())


async def test_configure_save_run_restart_run(home: Path) -> None:
    """The issue's path: no key anywhere, configure it in the screen, chat, restart, chat again."""
    async with Simulator(api_key=KEY) as sim:
        sim.enqueue(Reply.text("first answer from the simulator"), Reply.text("second answer after a restart"))
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            # Without a key the transport refuses to be built, so axio-tui lists it as unavailable.
            assert "anthropic unavailable: no API key" in log_text(app)
            screen = await open_settings(pilot)
            assert "no API key" in str(screen.query_one("#status", Static).render())
            await type_into(pilot, "#api-key", KEY)
            await type_into(pilot, "#base-url", sim.base_url)
            assert DEFAULT_MODEL in shown_model(screen)
            await save(pilot)
            assert "Anthropic activated" in log_text(app), log_text(app)
            await turn(pilot, sim, "hello", "first answer from the simulator")
        assert sim.requests[-1].headers["x-api-key"] == KEY
        assert sim.requests[-1].body["model"] == DEFAULT_MODEL
        saved = await stored(home)
        assert saved == {
            "transport.anthropic.api_key": KEY,
            "transport.anthropic.base_url": sim.base_url,
            "transport.anthropic.model": DEFAULT_MODEL,
        }

        restarted = new_app(home)
        async with restarted.run_test(size=SIZE) as pilot:
            await started(pilot)
            assert "anthropic unavailable" not in log_text(restarted), log_text(restarted)
            await turn(pilot, sim, "again", "second answer after a restart")
        assert sim.requests[-1].body["model"] == DEFAULT_MODEL


async def test_a_database_written_by_the_broken_screen_still_works_and_is_repaired(home: Path) -> None:
    """0.13's first screen saved a model id the constructor refused and, on the next save,
    axio-tui's own ``_error`` key; the transport must start from such a database anyway."""
    async with Simulator(api_key=KEY) as sim:
        await store(
            home,
            {
                "transport.anthropic._error": "model must be an axio.models.ModelSpec, got str",
                "transport.anthropic.api_key": KEY,
                "transport.anthropic.base_url": sim.base_url,
                "transport.anthropic.model": "claude-haiku-4-5",
            },
        )
        sim.enqueue(Reply.text("works despite the stale key"))
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            assert "anthropic unavailable" not in log_text(app), log_text(app)
            await turn(pilot, sim, "hi", "works despite the stale key")
            screen = await open_settings(pilot)
            assert screen.query_one("#api-key", Input).value == KEY
            await save(pilot)
        assert "transport.anthropic._error" not in await stored(home)


async def test_the_screen_shows_the_model_the_app_chats_with(home: Path) -> None:
    async with Simulator(api_key=KEY) as sim:
        await store(home, {"transport.anthropic.api_key": KEY, "transport.anthropic.base_url": sim.base_url})
        sim.enqueue(Reply.text("default model answer"), Reply.text("haiku answer"))
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            # Nothing chosen yet: the app's default for this transport is the transport's default.
            assert app.sub_title == DEFAULT_MODEL
            screen = await open_settings(pilot)
            assert DEFAULT_MODEL in shown_model(screen)
            await save(pilot)
            await turn(pilot, sim, "hi", "default model answer")
        assert sim.requests[-1].body["model"] == DEFAULT_MODEL

        # A model picked with "Change Model" is what the screen then shows, and what is used.
        await store(home, {"model.chat": "anthropic:claude-haiku-4-5"}, project=str(Path.cwd().resolve()))
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            screen = await open_settings(pilot)
            assert "claude-haiku-4-5" in shown_model(screen)
            await save(pilot)
            await turn(pilot, sim, "hi", "haiku answer")
        assert sim.requests[-1].body["model"] == "claude-haiku-4-5"
        assert (await stored(home))["transport.anthropic.model"] == "claude-haiku-4-5"


async def test_retry_settings_from_the_screen_are_the_ones_used(home: Path) -> None:
    async with Simulator(api_key=KEY) as sim:
        await store(home, {"transport.anthropic.api_key": KEY, "transport.anthropic.base_url": sim.base_url})
        app = new_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            await open_settings(pilot)
            await type_into(pilot, "#max-retries", "0")
            await type_into(pilot, "#first-byte-timeout", "30")
            await save(pilot)
            sim.inject(Fault.overloaded())
            await turn(pilot, sim, "no retries", "overloaded")
            assert len(sim.requests) == 1

            screen = await open_settings(pilot)
            assert screen.query_one("#max-retries", Input).value == "0"
            await type_into(pilot, "#max-retries", "2")
            await type_into(pilot, "#retry-base-delay", "0.01")
            await save(pilot)
            sim.inject(Fault.overloaded())
            sim.enqueue(Reply.text("answered on the second attempt"))
            await turn(pilot, sim, "retry once", "answered on the second attempt")
            assert len(sim.requests) == 3
        assert await stored(home) == {
            "transport.anthropic.api_key": KEY,
            "transport.anthropic.base_url": sim.base_url,
            "transport.anthropic.model": DEFAULT_MODEL,
            "transport.anthropic.max_retries": "2",
            "transport.anthropic.retry_base_delay": "0.01",
            "transport.anthropic.first_byte_timeout": "30",
        }

        restarted = new_app(home)
        async with restarted.run_test(size=SIZE) as pilot:
            await started(pilot)
            screen = await open_settings(pilot)
            assert screen.query_one("#max-retries", Input).value == "2"
            assert screen.query_one("#first-byte-timeout", Input).value == "30"
            chat = restarted._chat_transport
            assert isinstance(chat, AnthropicTransport)
            assert (chat.max_retries, chat.retry_base_delay, chat.first_byte_timeout) == (2, 0.01, 30.0)
