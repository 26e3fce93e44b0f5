"""The Anthropic settings screen, driven through textual's Pilot."""

from __future__ import annotations

import builtins
import importlib
import sys
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from axio_transport_anthropic.models import ANTHROPIC_MODELS, DEFAULT_MODEL
from axio_transport_anthropic.tui import AnthropicSettingsScreen
from axio_transport_anthropic.tui.settings import model_label, validate_base_url

SECRET = "sk-ant-api03-TOPSECRETVALUE1234567890"
_PENDING = object()


class Host(App[None]):
    """Pushes the settings screen and records what it dismisses with."""

    def __init__(self, settings: dict[str, str]) -> None:
        super().__init__()
        self.settings = settings
        self.result: object = _PENDING

    def on_mount(self) -> None:
        self.push_screen(AnthropicSettingsScreen(self.settings), self._capture)

    def _capture(self, result: dict[str, str] | None) -> None:
        self.result = result


def _screen(app: Host) -> AnthropicSettingsScreen:
    screen = app.screen
    assert isinstance(screen, AnthropicSettingsScreen)
    return screen


def _input(app: Host, widget_id: str) -> Input:
    return _screen(app).query_one(widget_id, Input)


def _select(app: Host) -> Select[str]:
    select: Select[str] = _screen(app).query_one("#model", Select)
    return select


async def _fill(pilot: Pilot[None], widget_id: str, text: str) -> None:
    """Clear the field, then type *text* into it key by key, as a user would."""
    await pilot.click(widget_id)
    field = pilot.app.screen.query_one(widget_id, Input)
    field.value = ""
    if text:
        await pilot.press(*text)
    await pilot.pause()


async def test_save_returns_key_url_and_model() -> None:
    app = Host({})
    async with app.run_test(size=(100, 40)) as pilot:
        await _fill(pilot, "#api-key", "sk-typed")
        await _fill(pilot, "#base-url", "https://proxy.example.com/v1")
        _select(app).value = "claude-haiku-4-5"
        await pilot.pause()
        await pilot.click("#save")
        await pilot.pause()
    assert app.result == {
        "api_key": "sk-typed",
        "base_url": "https://proxy.example.com/v1",
        "model": "claude-haiku-4-5",
    }


async def test_prefilled_values_round_trip() -> None:
    settings = {"api_key": SECRET, "base_url": "http://localhost:8080/v1", "model": "claude-opus-4-6"}
    app = Host(settings)
    async with app.run_test(size=(100, 40)) as pilot:
        assert _input(app, "#api-key").value == SECRET
        assert _input(app, "#base-url").value == "http://localhost:8080/v1"
        assert _select(app).value == "claude-opus-4-6"
        await pilot.click("#save")
        await pilot.pause()
    assert app.result == settings
    assert app.result is not settings


async def test_blank_key_and_url_are_omitted() -> None:
    app = Host({"api_key": SECRET, "base_url": "https://old.example.com", "model": "claude-sonnet-4-5"})
    async with app.run_test(size=(100, 40)) as pilot:
        await _fill(pilot, "#api-key", "")
        await _fill(pilot, "#base-url", "   ")
        await pilot.click("#save")
        await pilot.pause()
    assert app.result == {"model": "claude-sonnet-4-5"}


async def test_unmanaged_settings_pass_through() -> None:
    app = Host({"model": DEFAULT_MODEL, "timeout": "30"})
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#save")
        await pilot.pause()
    assert app.result == {"model": DEFAULT_MODEL, "timeout": "30"}


async def test_enter_in_input_saves() -> None:
    app = Host({})
    async with app.run_test(size=(100, 40)) as pilot:
        await _fill(pilot, "#base-url", "https://gw.example.com")
        await pilot.press("enter")
        await pilot.pause()
    assert app.result == {"base_url": "https://gw.example.com", "model": DEFAULT_MODEL}


async def test_cancel_button_returns_none() -> None:
    app = Host({"api_key": SECRET})
    async with app.run_test(size=(100, 40)) as pilot:
        await _fill(pilot, "#api-key", "sk-changed")
        await pilot.click("#cancel")
        await pilot.pause()
    assert app.result is None


async def test_escape_returns_none() -> None:
    app = Host({"api_key": SECRET})
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AnthropicSettingsScreen)
    assert app.result is None


@pytest.mark.parametrize("bad", ["ftp://example.com", "example.com/v1", "https://", "https://exa mple.com"])
async def test_invalid_url_shows_error_and_does_not_dismiss(bad: str) -> None:
    app = Host({})
    async with app.run_test(size=(100, 40)) as pilot:
        await _fill(pilot, "#base-url", bad)
        await pilot.click("#save")
        await pilot.pause()
        screen = _screen(app)
        error = screen.query_one("#base-url-error", Static)
        assert error.display
        assert "Base URL" in str(error.render())
        assert app.result is _PENDING
        # Pressing Enter in the field is also a save attempt and must not dismiss either.
        await pilot.click("#base-url")
        await pilot.press("enter")
        await pilot.pause()
        assert app.result is _PENDING
        # Fixing the URL clears the error and lets Save through.
        await _fill(pilot, "#base-url", "https://ok.example.com")
        assert not error.display
        await pilot.click("#save")
        await pilot.pause()
    assert app.result == {"base_url": "https://ok.example.com", "model": DEFAULT_MODEL}


async def test_api_key_is_masked_everywhere() -> None:
    app = Host({"api_key": SECRET, "model": DEFAULT_MODEL})
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        field = _input(app, "#api-key")
        assert field.password
        assert field.value == SECRET
        # Focus the field too: the cursor view must stay masked.
        await pilot.click("#api-key")
        await pilot.pause()
        shot = app.export_screenshot()
        assert SECRET not in shot
        assert SECRET[:12] not in shot
        rendered = "\n".join(strip.text for strip in _screen(app)._compositor.render_strips())
        assert "API key" in rendered
        assert "•" in rendered
        assert SECRET[:12] not in rendered
        assert SECRET not in repr(_screen(app))


async def test_unknown_saved_model_falls_back_to_default() -> None:
    app = Host({"model": "claude-3-opus-20240229"})
    async with app.run_test(size=(100, 40)) as pilot:
        assert _select(app).value == DEFAULT_MODEL
        await pilot.click("#save")
        await pilot.pause()
    assert app.result == {"model": DEFAULT_MODEL}


async def test_model_list_matches_registry() -> None:
    app = Host({})
    async with app.run_test(size=(100, 40)):
        select = _select(app)
        values = [value for _, value in select._options if value is not Select.NULL]
    assert values == list(ANTHROPIC_MODELS.keys())


def test_model_label_format() -> None:
    assert model_label(ANTHROPIC_MODELS["claude-sonnet-4-6"]) == "claude-sonnet-4-6 · 1M ctx · $3/$15"
    assert model_label(ANTHROPIC_MODELS["claude-haiku-4-5"]) == "claude-haiku-4-5 · 200K ctx · $1/$5"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("", True),
        ("https://api.anthropic.com/v1", True),
        ("http://127.0.0.1:8080", True),
        ("HTTPS://Example.com", True),
        ("ftp://example.com", False),
        ("//example.com", False),
        ("https://example.com:notaport", False),
        ("not a url", False),
    ],
)
def test_validate_base_url(url: str, ok: bool) -> None:
    assert (validate_base_url(url) is None) is ok


def test_missing_textual_raises_helpful_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "textual" or name.startswith("textual."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m.startswith("axio_transport_anthropic.tui")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r'pip install "axio-transport-anthropic\[tui\]"'):
        importlib.import_module("axio_transport_anthropic.tui")
