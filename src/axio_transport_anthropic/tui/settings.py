"""The settings screen axio-tui shows for the Anthropic transport (Ctrl+P → "Configure Anthropic")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final

from axio.models import ModelSpec
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from axio_transport_anthropic.tui.form import (
    NUMBER_FIELDS,
    TEXT_FIELDS,
    Problem,
    app_model,
    check,
    default_text,
    model_label,
    result,
    validate_base_url,
    widget_id,
)

__all__ = ["AnthropicSettingsScreen", "model_label", "validate_base_url"]

_NOTE: Final = "Retries and timeouts, in seconds. Blank: the default shown; none: no limit."


class AnthropicSettingsScreen(ModalScreen[dict[str, str] | None]):
    """Edit the credentials, base URL, retries and timeouts; shows the model the app uses.
    Dismisses with the transport's settings as text, or ``None``."""

    DEFAULT_CSS = """
    AnthropicSettingsScreen {
        align: center middle;
    }
    AnthropicSettingsScreen > #dialog {
        width: 92;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    AnthropicSettingsScreen #title {
        text-style: bold;
    }
    AnthropicSettingsScreen #status {
        color: $warning;
        margin-top: 1;
    }
    AnthropicSettingsScreen #status.empty {
        display: none;
    }
    AnthropicSettingsScreen Grid {
        height: auto;
        grid-gutter: 0 1;
        margin-top: 1;
    }
    AnthropicSettingsScreen #fields {
        grid-size: 2;
        grid-columns: 12 1fr;
    }
    AnthropicSettingsScreen #numbers {
        grid-size: 4;
        grid-columns: 19 1fr 19 1fr;
    }
    AnthropicSettingsScreen Grid > Label, AnthropicSettingsScreen Grid > Static {
        height: 1;
    }
    AnthropicSettingsScreen #model {
        height: auto;
        padding: 0 1;
    }
    AnthropicSettingsScreen Input, AnthropicSettingsScreen Input:focus {
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    AnthropicSettingsScreen Input:focus {
        background: $primary 30%;
    }
    AnthropicSettingsScreen .hint {
        color: $text-muted;
        margin-top: 1;
    }
    AnthropicSettingsScreen #error {
        color: $error;
        margin-top: 1;
    }
    AnthropicSettingsScreen #error.empty {
        display: none;
    }
    AnthropicSettingsScreen #buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    AnthropicSettingsScreen #buttons Button {
        margin-left: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]
    #: What the other clouds' screens change; the layout and behaviour are this screen's.
    HEADING: ClassVar[str] = "Anthropic settings"
    #: (setting, label, placeholder, masked)
    FIELDS: ClassVar[tuple[tuple[str, str, str, bool], ...]] = TEXT_FIELDS
    #: Hints shown above the retries and timeouts, as plain text.
    NOTES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: dict[str, str]) -> None:
        super().__init__()
        # A copy, never the caller's dict; the credentials live only here and in masked inputs.
        self._settings = {k: v for k, v in settings.items() if isinstance(v, str)}
        # axio-tui's note on why the transport is unavailable: shown, never saved.
        self._status = self._settings.pop("_error", "")
        self._model = self._app_model(None)

    def __repr__(self) -> str:
        # Explicit, so no attribute (the settings hold the key) can leak through repr.
        return f"{type(self).__name__}(model={self._model.id!r})"

    def compose(self) -> ComposeResult:
        self._model = self._app_model(self.app)
        with VerticalScroll(id="dialog"):
            yield Static(self.HEADING, id="title")
            yield Static(self._status, id="status", markup=False, classes="" if self._status else "empty")
            with Grid(id="fields"):
                for name, label, placeholder, secret in self.FIELDS:
                    yield Label(label)
                    yield Input(
                        self._settings.get(name, ""), placeholder=placeholder, password=secret, id=widget_id(name)
                    )
                yield Label("Model")
                yield Static(f"{model_label(self._model)}  (Ctrl+P → Change Model)", id="model", markup=False)
            for note in self.NOTES:
                yield Static(note, classes="hint", markup=False)
            yield Static(_NOTE, classes="hint")
            with Grid(id="numbers"):
                for name, label in NUMBER_FIELDS:
                    yield Label(label)
                    yield Input(self._settings.get(name, ""), placeholder=default_text(name), id=widget_id(name))
            yield Static("", id="error", markup=False, classes="empty")
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def _app_model(self, app: object) -> ModelSpec:
        return app_model(app, self._settings)

    def _values(self) -> dict[str, str]:
        names = [field[0] for field in self.FIELDS] + [field[0] for field in NUMBER_FIELDS]
        return {name: self.query_one(f"#{widget_id(name)}", Input).value.strip() for name in names}

    def _result(self, values: Mapping[str, str]) -> dict[str, str]:
        return result(self._settings, values, self._model)

    def _conclude(self, values: Mapping[str, str], problem: Problem | None) -> None:
        """Dismiss with the settings, or show what is wrong and focus its input."""
        if problem is None:
            self.dismiss(self._result(values))
            return
        self._show_error(problem.message)
        if problem.setting is not None:
            self.query_one(f"#{widget_id(problem.setting)}", Input).focus()

    def _show_error(self, message: str | None) -> None:
        error = self.query_one("#error", Static)
        error.update(message or "")
        error.set_class(message is None, "empty")

    def action_save(self) -> None:
        values = self._values()
        self._conclude(values, check(values))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _on_save(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _on_cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    @on(Input.Submitted)
    def _on_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Input.Changed)
    def _on_changed(self, event: Input.Changed) -> None:
        # A stale error goes as soon as the user edits; everything is checked again on save.
        if not self.query_one("#error", Static).has_class("empty"):
            self._show_error(None)
