"""The Anthropic settings screen, driven through textual's Pilot: what it shows and what it saves.
Its checks: tests/test_tui_checks.py; inside the real axio-tui app: tests/test_axio_tui.py."""

from __future__ import annotations

import builtins
import importlib
import sys
from typing import Any

import pytest

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.models import ANTHROPIC_MODELS, DEFAULT_MODEL
from axio_transport_anthropic.tui import AnthropicSettingsScreen
from axio_transport_anthropic.tui.settings import model_label

from .tui_host import Host, fill, input_of, save, screen_of, text_of

SECRET = "sk-ant-api03-TOPSECRETVALUE1234567890"
TOKEN = "gw-token-TOPSECRET-0987654321"

pytestmark = [pytest.mark.usefixtures("no_anthropic_env"), pytest.mark.timeout(60)]


async def test_save_returns_the_transports_settings_only_as_text() -> None:
    # "_error" is axio-tui's note; "timeout" no setting of this transport. Saved, either would be
    # passed back to the transport's constructor on the next start.
    app = Host({"_error": "no API key", "timeout": "30", "temperature": "0.2"})
    async with app.run_test(size=(100, 40)) as pilot:
        await fill(pilot, "#api-key", "sk-typed")
        await fill(pilot, "#auth-token", "tok")
        await fill(pilot, "#base-url", "https://proxy.example.com/v1")
        await fill(pilot, "#max-retries", "3")
        await fill(pilot, "#first-byte-timeout", "45")
        await save(pilot)
    assert app.result == {
        "api_key": "sk-typed",
        "auth_token": "tok",
        "base_url": "https://proxy.example.com/v1",
        "max_retries": "3",
        "first_byte_timeout": "45",
        "temperature": "0.2",
        "model": DEFAULT_MODEL,
    }


async def test_what_it_saves_makes_the_transport_it_shows() -> None:
    app = Host({"api_key": SECRET, "model": "claude-haiku-4-5"})
    async with app.run_test(size=(100, 40)) as pilot:
        await fill(pilot, "#retry-base-delay", "0.5")
        await fill(pilot, "#deadline", "none")
        await fill(pilot, "#idle-timeout", "30")
        await save(pilot)
    assert isinstance(app.result, dict)
    async with AnthropicTransport.open_for_app(**app.result) as transport:
        assert transport.api_key == SECRET
        assert transport.model.id == "claude-haiku-4-5"
        assert (transport.retry_base_delay, transport.deadline, transport.idle_timeout) == (0.5, None, 30.0)


async def test_prefilled_values_round_trip() -> None:
    settings = {
        "api_key": SECRET,
        "auth_token": TOKEN,
        "base_url": "http://localhost:8080/v1",
        "model": "claude-opus-4-6",
        "max_retries": "4",
        "retry_base_delay": "0.25",
        "retry_max_delay": "12.5",
        "connect_timeout": "3",
        "first_byte_timeout": "45",
        "idle_timeout": "none",
        "deadline": "600",
    }
    app = Host(settings)
    async with app.run_test(size=(100, 40)) as pilot:
        assert input_of(app, "#api-key").value == SECRET
        assert input_of(app, "#auth-token").value == TOKEN
        assert input_of(app, "#base-url").value == "http://localhost:8080/v1"
        assert input_of(app, "#idle-timeout").value == "none"
        assert "claude-opus-4-6" in text_of(app, "#model")
        await save(pilot)
    assert app.result == settings
    assert app.result is not settings


async def test_blank_fields_are_left_to_their_defaults_which_they_show() -> None:
    app = Host({"api_key": SECRET, "base_url": "https://old.example.com", "max_retries": "2"})
    async with app.run_test(size=(100, 40)) as pilot:
        placeholders = {
            name: input_of(app, f"#{name}").placeholder
            for name in (
                "max-retries",
                "retry-base-delay",
                "retry-max-delay",
                "connect-timeout",
                "first-byte-timeout",
                "idle-timeout",
                "deadline",
            )
        }
        assert placeholders == {
            "max-retries": "10",
            "retry-base-delay": "5",
            "retry-max-delay": "60",
            "connect-timeout": "10",
            "first-byte-timeout": "120",
            "idle-timeout": "120",
            "deadline": "none",
        }
        await fill(pilot, "#base-url", "   ")
        await fill(pilot, "#max-retries", "")
        await save(pilot)
    assert app.result == {"api_key": SECRET, "model": DEFAULT_MODEL}


async def test_the_apps_note_on_why_the_transport_is_unavailable_is_shown() -> None:
    app = Host({"_error": "no API key: set ANTHROPIC_API_KEY", "api_key": SECRET})
    async with app.run_test(size=(100, 40)) as pilot:
        assert text_of(app, "#status") == "no API key: set ANTHROPIC_API_KEY"
        await save(pilot)
    assert app.result == {"api_key": SECRET, "model": DEFAULT_MODEL}


async def test_enter_in_input_saves() -> None:
    app = Host({"api_key": SECRET})
    async with app.run_test(size=(100, 40)) as pilot:
        await fill(pilot, "#base-url", "https://gw.example.com")
        await pilot.press("enter")
        await pilot.pause()
    assert app.result == {"api_key": SECRET, "base_url": "https://gw.example.com", "model": DEFAULT_MODEL}


async def test_cancel_button_returns_none() -> None:
    app = Host({"api_key": SECRET})
    async with app.run_test(size=(100, 40)) as pilot:
        await fill(pilot, "#api-key", "sk-changed")
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


async def test_credentials_are_masked_everywhere() -> None:
    app = Host({"api_key": SECRET, "auth_token": TOKEN, "model": DEFAULT_MODEL})
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        for widget_id, secret in (("#api-key", SECRET), ("#auth-token", TOKEN)):
            field = input_of(app, widget_id)
            assert field.password
            assert field.value == secret
            # Focus the field too: the cursor view must stay masked.
            await pilot.click(widget_id)
            await pilot.pause()
            shot = app.export_screenshot()
            assert secret not in shot
            assert secret[:12] not in shot
            rendered = "\n".join(strip.text for strip in screen_of(app)._compositor.render_strips())
            assert "API key" in rendered and "Auth token" in rendered
            assert "•" in rendered
            assert secret[:12] not in rendered
            assert secret not in repr(screen_of(app))


@pytest.mark.parametrize(
    ("saved", "shown"),
    [
        ({}, DEFAULT_MODEL),
        ({"model": "claude-haiku-4-5"}, "claude-haiku-4-5"),
        # An id the catalogue no longer lists: the transport falls back to its default, so does this.
        ({"model": "claude-3-opus-20240229"}, DEFAULT_MODEL),
    ],
)
async def test_the_model_shown_is_the_one_the_transport_will_use(saved: dict[str, str], shown: str) -> None:
    app = Host({"api_key": SECRET, **saved})
    async with app.run_test(size=(100, 40)) as pilot:
        assert text_of(app, "#model").startswith(model_label(ANTHROPIC_MODELS[shown]))
        await save(pilot)
    assert isinstance(app.result, dict)
    assert app.result["model"] == shown
    async with AnthropicTransport.open_for_app(**app.result) as transport:
        assert transport.model.id == shown


def test_model_label_format() -> None:
    assert model_label(ANTHROPIC_MODELS["claude-sonnet-4-6"]) == "claude-sonnet-4-6 · 1M ctx · $3/$15"
    assert model_label(ANTHROPIC_MODELS["claude-haiku-4-5"]) == "claude-haiku-4-5 · 200K ctx · $1/$5"


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
