"""The settings screen axio-tui shows for Bedrock (Ctrl+P → "Configure Anthropic Bedrock").

The Anthropic screen's layout and behaviour, with Bedrock's fields: region, profile, a Bedrock API
key and the endpoint; retries and timeouts as there.
"""

from __future__ import annotations

from typing import Final

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from axio_transport_anthropic.tui.bedrock_form import NUMBER_FIELDS, TEXT_FIELDS, app_model, check, result
from axio_transport_anthropic.tui.form import default_text, model_label, widget_id
from axio_transport_anthropic.tui.settings import AnthropicSettingsScreen

__all__ = ["BedrockSettingsScreen"]

_NOTE: Final = "Retries and timeouts, in seconds. Blank: the default shown; none: no limit."


class BedrockSettingsScreen(AnthropicSettingsScreen):
    """Edit the region, profile, API key, endpoint, retries and timeouts; shows the model the app
    uses. Dismisses with the transport's settings as text, or ``None``."""

    def __init__(self, settings: dict[str, str]) -> None:
        super().__init__(settings)
        self._model = app_model(None, self._settings)

    def compose(self) -> ComposeResult:
        self._model = app_model(self.app, self._settings)
        with VerticalScroll(id="dialog"):
            yield Static("Anthropic Bedrock settings", id="title")
            yield Static(self._status, id="status", markup=False, classes="" if self._status else "empty")
            with Grid(id="fields"):
                for name, label, placeholder, secret in TEXT_FIELDS:
                    yield Label(label)
                    yield Input(
                        self._settings.get(name, ""), placeholder=placeholder, password=secret, id=widget_id(name)
                    )
                yield Label("Model")
                yield Static(f"{model_label(self._model)}  (Ctrl+P → Change Model)", id="model", markup=False)
            yield Static(_NOTE, classes="hint")
            with Grid(id="numbers"):
                for name, label in NUMBER_FIELDS:
                    yield Label(label)
                    yield Input(self._settings.get(name, ""), placeholder=default_text(name), id=widget_id(name))
            yield Static("", id="error", markup=False, classes="empty")
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def _values(self) -> dict[str, str]:
        names = [field[0] for field in (*TEXT_FIELDS, *NUMBER_FIELDS)]
        return {name: self.query_one(f"#{widget_id(name)}", Input).value.strip() for name in names}

    def action_save(self) -> None:
        # The check reads the AWS config file for a named profile, in a thread: awaited in a worker.
        self.run_worker(self._save(), group="save", exclusive=True)

    async def _save(self) -> None:
        values = self._values()
        problem = await check(values)
        if problem is None:
            self.dismiss(result(self._settings, values, self._model))
            return
        self._show_error(problem.message)
        if problem.setting is not None:
            self.query_one(f"#{widget_id(problem.setting)}", Input).focus()
