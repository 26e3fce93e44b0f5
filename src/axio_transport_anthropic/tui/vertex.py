"""The settings screen axio-tui shows for Claude on Vertex AI (Ctrl+P → "Configure Anthropic
Vertex AI"): project, location and a base URL, retries and timeouts, and the model in use. It is
the Anthropic screen's layout and behaviour with Vertex's fields, so it subclasses that screen."""

from __future__ import annotations

from typing import Final

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from axio_transport_anthropic.tui.form import NUMBER_FIELDS, app_model, default_text, model_label, widget_id
from axio_transport_anthropic.tui.settings import AnthropicSettingsScreen
from axio_transport_anthropic.tui.vertex_form import CREDENTIALS_NOTE, VERTEX_FIELDS, check, result

__all__ = ["VertexSettingsScreen"]

_NOTE: Final = "Retries and timeouts, in seconds. Blank: the default shown; none: no limit."


class VertexSettingsScreen(AnthropicSettingsScreen):
    """Edit where Vertex requests go, retries and timeouts; dismisses with the settings as text."""

    def compose(self) -> ComposeResult:
        self._model = app_model(self.app, self._settings)
        with VerticalScroll(id="dialog"):
            yield Static("Anthropic Vertex AI settings", id="title")
            yield Static(self._status, id="status", markup=False, classes="" if self._status else "empty")
            with Grid(id="fields"):
                for name, label, placeholder in VERTEX_FIELDS:
                    yield Label(label)
                    yield Input(self._settings.get(name, ""), placeholder=placeholder, id=widget_id(name))
                yield Label("Model")
                yield Static(f"{model_label(self._model)}  (Ctrl+P → Change Model)", id="model", markup=False)
            yield Static(CREDENTIALS_NOTE, classes="hint", markup=False)
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
        names = [field[0] for field in (*VERTEX_FIELDS, *NUMBER_FIELDS)]
        return {name: self.query_one(f"#{widget_id(name)}", Input).value.strip() for name in names}

    def action_save(self) -> None:
        values = self._values()
        problem = check(values)
        if problem is None:
            self.dismiss(result(self._settings, values, self._model))
            return
        self._show_error(problem.message)
        if problem.setting is not None:
            self.query_one(f"#{widget_id(problem.setting)}", Input).focus()
