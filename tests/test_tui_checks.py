"""The settings screen checks what it saves as the transport would: the base URL, each number,
and a key where Anthropic's own API needs one. A refused save names the problem and keeps the
screen, with the focus on the field to fix."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from axio_transport_anthropic.models import DEFAULT_MODEL
from axio_transport_anthropic.tui.settings import validate_base_url

from .tui_host import PENDING, Host, fill, refused, save, screen_of

SECRET = "sk-ant-api03-TOPSECRETVALUE1234567890"

pytestmark = [pytest.mark.usefixtures("no_anthropic_env"), pytest.mark.timeout(60)]


@pytest.mark.parametrize("bad", ["ftp://example.com", "example.com/v1", "https://", "https://exa mple.com"])
async def test_invalid_url_shows_error_and_does_not_dismiss(bad: str) -> None:
    app = Host({"api_key": SECRET})
    async with app.run_test(size=(100, 40)) as pilot:
        await fill(pilot, "#base-url", bad)
        await refused(pilot, app, "Base URL", "base-url")
        # Pressing Enter in the field is also a save attempt and must not dismiss either.
        await pilot.click("#base-url")
        await pilot.press("enter")
        await pilot.pause()
        assert app.result is PENDING
        # Fixing the URL clears the error and lets Save through.
        await fill(pilot, "#base-url", "https://ok.example.com")
        assert not screen_of(app).query_one("#error", Static).display
        await save(pilot)
    assert app.result == {"api_key": SECRET, "base_url": "https://ok.example.com", "model": DEFAULT_MODEL}


@pytest.mark.parametrize(
    ("field", "text", "fragment"),
    [
        ("max-retries", "2.5", "Max retries must be a whole number."),
        ("max-retries", "many", "Max retries must be a whole number."),
        ("max-retries", "-1", "max_retries must be at least 0"),
        ("retry-base-delay", "soon", "Retry base delay must be a number of seconds."),
        ("retry-max-delay", "-3", "retry_max_delay must be at least 0"),
        ("retry-max-delay", "inf", "Retry max delay must be a number of seconds."),
        ("connect-timeout", "0", "connect_timeout must be a positive number of seconds"),
        ("first-byte-timeout", "nan", "First-byte timeout must be a number of seconds, or none."),
        ("deadline", "never", "Deadline must be a number of seconds, or none."),
        ("idle-timeout", "-5", "idle_timeout must be a positive number of seconds"),
    ],
)
async def test_a_number_that_cannot_work_is_refused_naming_it(field: str, text: str, fragment: str) -> None:
    app = Host({"api_key": SECRET})
    async with app.run_test(size=(100, 40)) as pilot:
        await fill(pilot, f"#{field}", text)
        await refused(pilot, app, fragment, field)


async def test_a_missing_key_is_refused_where_anthropic_needs_one() -> None:
    app = Host({})
    async with app.run_test(size=(100, 40)) as pilot:
        await refused(pilot, app, "No API key", "api-key")
        # A gateway that takes a token needs no key.
        await fill(pilot, "#auth-token", "tok")
        await save(pilot)
    assert app.result == {"auth_token": "tok", "model": DEFAULT_MODEL}


async def test_no_key_is_needed_for_another_host_and_the_environment_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Host({"base_url": "http://127.0.0.1:8765/v1"})
    async with app.run_test(size=(100, 40)) as pilot:
        await save(pilot)
    assert app.result == {"base_url": "http://127.0.0.1:8765/v1", "model": DEFAULT_MODEL}
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    app = Host({})
    async with app.run_test(size=(100, 40)) as pilot:
        await save(pilot)
    # The key stays in the environment: nothing writes it into the app's database.
    assert app.result == {"model": DEFAULT_MODEL}


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
