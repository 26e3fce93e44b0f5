"""The settings screen axio-tui shows for the Anthropic transport."""

from __future__ import annotations

from typing import ClassVar, Final
from urllib.parse import urlsplit

from axio.models import ModelSpec
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from axio_transport_anthropic.models import ANTHROPIC_MODELS, DEFAULT_MODEL

__all__ = ["DEFAULT_BASE_URL", "AnthropicSettingsScreen", "model_label", "validate_base_url"]

DEFAULT_BASE_URL: Final = "https://api.anthropic.com/v1"

# Keys this screen owns; anything else in the incoming settings is passed through untouched.
_MANAGED: Final = frozenset({"api_key", "base_url", "model"})


def _tokens(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1_000:
        return f"{count / 1_000:g}K"
    return str(count)


def model_label(spec: ModelSpec) -> str:
    """One line per model for the picker, e.g. ``claude-sonnet-4-6 · 1M ctx · $3/$15``."""
    return f"{spec.id} · {_tokens(spec.context_window)} ctx · ${spec.input_cost:g}/${spec.output_cost:g}"


def validate_base_url(value: str) -> str | None:
    """The problem with *value* as a base URL, or ``None`` when it is usable (blank included)."""
    value = value.strip()
    if not value:
        return None
    if any(ch.isspace() for ch in value):
        return "Base URL must not contain spaces."
    try:
        parts = urlsplit(value)
        # Touching .port makes urlsplit reject a malformed port number.
        _ = parts.port
    except ValueError:
        return "Base URL is not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Base URL must start with http:// or https://."
    if not parts.hostname:
        return "Base URL must include a host name."
    return None


class AnthropicSettingsScreen(ModalScreen[dict[str, str] | None]):
    """Edit the API key, base URL and model; dismisses with the saved settings or ``None``."""

    DEFAULT_CSS = """
    AnthropicSettingsScreen {
        align: center middle;
    }
    AnthropicSettingsScreen > #dialog {
        width: 80;
        max-width: 100%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    AnthropicSettingsScreen #title {
        text-style: bold;
        margin-bottom: 1;
    }
    AnthropicSettingsScreen .field-label {
        margin-top: 1;
    }
    AnthropicSettingsScreen .hint {
        color: $text-muted;
    }
    AnthropicSettingsScreen #base-url-error {
        color: $error;
        display: none;
    }
    AnthropicSettingsScreen #base-url-error.visible {
        display: block;
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

    def __init__(self, settings: dict[str, str]) -> None:
        super().__init__()
        # Copy so the caller's dict is never mutated; the key lives only here and in the masked Input.
        self._settings = dict(settings)
        model = self._settings.get("model", "")
        self._initial_model = model if model in ANTHROPIC_MODELS else DEFAULT_MODEL

    def __repr__(self) -> str:
        # Explicit so no future attribute (like the settings dict) can leak the key through repr.
        return f"{type(self).__name__}(model={self._initial_model!r})"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Anthropic settings", id="title")
            yield Label("API key", classes="field-label")
            yield Input(
                value=self._settings.get("api_key", ""),
                placeholder="blank: use ANTHROPIC_API_KEY",
                password=True,
                id="api-key",
            )
            yield Label("Base URL", classes="field-label")
            yield Input(
                value=self._settings.get("base_url", ""),
                placeholder=DEFAULT_BASE_URL,
                id="base-url",
            )
            yield Static("", id="base-url-error")
            yield Label("Model", classes="field-label")
            yield Select(
                [(model_label(spec), model_id) for model_id, spec in ANTHROPIC_MODELS.items()],
                value=self._initial_model,
                allow_blank=False,
                id="model",
            )
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def _show_url_error(self, message: str | None) -> None:
        error = self.query_one("#base-url-error", Static)
        error.update(message or "")
        error.set_class(message is not None, "visible")

    def _collect(self) -> dict[str, str] | None:
        base_url = self.query_one("#base-url", Input).value.strip()
        problem = validate_base_url(base_url)
        self._show_url_error(problem)
        if problem is not None:
            self.query_one("#base-url", Input).focus()
            return None
        result = {k: v for k, v in self._settings.items() if k not in _MANAGED}
        api_key = self.query_one("#api-key", Input).value.strip()
        if api_key:
            result["api_key"] = api_key
        if base_url:
            result["base_url"] = base_url
        model = self.query_one("#model", Select).value
        result["model"] = model if isinstance(model, str) else DEFAULT_MODEL
        return result

    def action_save(self) -> None:
        result = self._collect()
        if result is not None:
            self.dismiss(result)

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

    @on(Input.Changed, "#base-url")
    def _on_url_changed(self, event: Input.Changed) -> None:
        # Drop a stale error as soon as the user edits the field; it is re-checked on save.
        if self.query_one("#base-url-error", Static).has_class("visible"):
            self._show_url_error(None)
