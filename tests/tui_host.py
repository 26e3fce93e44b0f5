"""An app that shows the Anthropic settings screen and records what it dismisses with, and the
Pilot steps the screen tests share."""

from __future__ import annotations

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Static

from axio_transport_anthropic.tui import AnthropicSettingsScreen

PENDING = object()


class Host(App[None]):
    """Pushes the settings screen and records what it dismisses with."""

    def __init__(self, settings: dict[str, str]) -> None:
        super().__init__()
        self.settings = settings
        self.result: object = PENDING

    def on_mount(self) -> None:
        self.push_screen(AnthropicSettingsScreen(self.settings), self._capture)

    def _capture(self, result: dict[str, str] | None) -> None:
        self.result = result


def screen_of(app: Host) -> AnthropicSettingsScreen:
    screen = app.screen
    assert isinstance(screen, AnthropicSettingsScreen)
    return screen


def input_of(app: Host, widget_id: str) -> Input:
    return screen_of(app).query_one(widget_id, Input)


def text_of(app: Host, widget_id: str) -> str:
    return str(screen_of(app).query_one(widget_id, Static).render())


async def fill(pilot: Pilot[None], widget_id: str, text: str) -> None:
    """Clear the field, then type *text* into it key by key, as a user would."""
    await pilot.click(widget_id)
    field = pilot.app.screen.query_one(widget_id, Input)
    field.value = ""
    if text:
        await pilot.press(*text)
    await pilot.pause()


async def save(pilot: Pilot[None]) -> None:
    await pilot.click("#save")
    await pilot.pause()


async def refused(pilot: Pilot[None], app: Host, fragment: str, focused: str) -> None:
    """Save is refused: the error names *fragment*, the screen stays, *focused* has the focus."""
    await save(pilot)
    error = screen_of(app).query_one("#error", Static)
    assert error.display
    assert fragment in str(error.render())
    assert app.result is PENDING
    assert app.focused is not None and app.focused.id == focused
