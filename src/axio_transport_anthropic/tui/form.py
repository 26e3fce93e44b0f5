"""What the settings screen edits, checks and hands back to axio-tui. No widgets here.

axio-tui stores each setting as text and opens the transport with them (``open_for_app``), so
the screen returns text too, and only the transport's own settings: anything else the app put in
(its ``_error`` note) would be saved and passed back to the transport.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from axio.models import ModelSpec

from axio_transport_anthropic import auth
from axio_transport_anthropic.errors import ConfigurationError
from axio_transport_anthropic.models import ANTHROPIC_MODELS, DEFAULT_MODEL
from axio_transport_anthropic.restore import KNOWN
from axio_transport_anthropic.settings import DEFAULT_BASE_URL, NULLABLE, NUMBERS, from_text
from axio_transport_anthropic.transport import AnthropicTransport

__all__ = [
    "NUMBER_FIELDS",
    "TEXT_FIELDS",
    "Problem",
    "app_model",
    "chat_model",
    "check",
    "default_text",
    "model_label",
    "read_numbers",
    "refusal",
    "result",
    "saved",
    "validate_base_url",
    "widget_id",
]

#: (setting, label, placeholder, secret)
TEXT_FIELDS: Final = (
    ("api_key", "API key", "blank: ANTHROPIC_API_KEY", True),
    ("auth_token", "Auth token", "blank: ANTHROPIC_AUTH_TOKEN (Bearer, for gateways)", True),
    ("base_url", "Base URL", DEFAULT_BASE_URL, False),
)
#: (setting, label)
NUMBER_FIELDS: Final = (
    ("max_retries", "Max retries"),
    ("retry_base_delay", "Retry base delay"),
    ("retry_max_delay", "Retry max delay"),
    ("connect_timeout", "Connect timeout"),
    ("first_byte_timeout", "First-byte timeout"),
    ("idle_timeout", "Idle timeout"),
    ("deadline", "Deadline"),
)
_MANAGED: Final = frozenset({"model", *(f[0] for f in TEXT_FIELDS), *(f[0] for f in NUMBER_FIELDS)})
_LABELS: Final = {name: label for name, label, *_ in (*TEXT_FIELDS, *NUMBER_FIELDS)}
_DEFAULTS: Final = {f.name: f.default for f in dataclasses.fields(AnthropicTransport)}


@dataclass(frozen=True, slots=True)
class Problem:
    """What stops a save, and which setting's field to send the user back to (if one)."""

    setting: str | None
    message: str


def widget_id(setting: str) -> str:
    return setting.replace("_", "-")


def default_text(setting: str) -> str:
    """The default, as the field's placeholder shows it."""
    value = _DEFAULTS[setting]
    return "none" if value is None else f"{value:g}"


def model_label(spec: ModelSpec) -> str:
    """One line per model, e.g. ``claude-sonnet-4-6 · 1M ctx · $3/$15``."""
    return f"{spec.id} · {_tokens(spec.context_window)} ctx · ${spec.input_cost:g}/${spec.output_cost:g}"


def _tokens(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1_000:
        return f"{count / 1_000:g}K"
    return str(count)


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


def app_model(app: object, settings: Mapping[str, str]) -> ModelSpec:
    """The model the app will chat with through this transport: axio-tui's chat model when it is
    an Anthropic one (picked with Change Model), otherwise the transport's own, which is what
    axio-tui starts with."""
    if (model := chat_model(app, AnthropicTransport)) is not None:
        return model
    saved_id = settings.get("model", "")
    return ANTHROPIC_MODELS.get(saved_id) or ANTHROPIC_MODELS[DEFAULT_MODEL]


def chat_model(app: object, kind: type) -> ModelSpec | None:
    """axio-tui's chat model when its chat transport is a ``kind``; ``None`` when it is another or
    not known."""
    # axio-tui has no public accessor for its role bindings; any other shape means "not known".
    bindings = getattr(app, "_role_bindings", None)
    registry = getattr(app, "_transports", None)
    binding = bindings.get("chat") if isinstance(bindings, Mapping) else None
    name, model = getattr(binding, "transport", None), getattr(binding, "model", None)
    if not (isinstance(name, str) and isinstance(model, ModelSpec) and registry is not None):
        return None
    try:
        chat_transport = registry.get_transport(name)
    except (AttributeError, KeyError, TypeError):
        return None
    return model if isinstance(chat_transport, kind) else None


def read_numbers(values: Mapping[str, str], kwargs: dict[str, Any]) -> Problem | None:
    """The number fields' values into ``kwargs`` as the transport takes them (blank ones left to
    their defaults); the first one that is not a number is the problem."""
    for name, label in NUMBER_FIELDS:
        if not (text := values.get(name, "")):
            continue
        try:
            kwargs[name] = from_text(name, text)
        except ValueError:
            kind = "a whole number" if NUMBERS[name] is int else "a number of seconds"
            return Problem(name, f"{label} must be {kind}{', or none' if name in NULLABLE else ''}.")
    return None


def refusal(exc: ConfigurationError, labels: Mapping[str, str]) -> Problem:
    """The transport's refusal, sent back to the field of the setting it names (if one)."""
    setting = next((name for name in labels if str(exc).startswith(name)), None)
    return Problem(setting, str(exc))


def saved(
    settings: Mapping[str, str], values: Mapping[str, str], managed: frozenset[str], known: frozenset[str]
) -> dict[str, str]:
    """The stored settings the screen does not manage (the transport's own only: no ``_error``),
    with the screen's non-blank values over them."""
    kept = {k: v for k, v in settings.items() if k in known and k not in managed}
    kept.update((name, value) for name, value in values.items() if name in managed and value)
    return kept


def check(values: Mapping[str, str]) -> Problem | None:
    """The first thing that keeps these values from making a working transport, checked as the
    transport itself checks them; blank values stand for the defaults."""
    if (url_problem := validate_base_url(values.get("base_url", ""))) is not None:
        return Problem("base_url", url_problem)
    kwargs: dict[str, Any] = {name: values[name] for name, *_ in TEXT_FIELDS if values.get(name)}
    if (number_problem := read_numbers(values, kwargs)) is not None:
        return number_problem
    try:
        with auth.lenient():
            transport = AnthropicTransport(telemetry=None, **kwargs)
    except ConfigurationError as exc:
        return refusal(exc, _LABELS)
    if auth.missing_credentials(transport):
        return Problem("api_key", "No API key: enter one, or set ANTHROPIC_API_KEY before starting the app.")
    return None


def result(settings: Mapping[str, str], values: Mapping[str, str], model: ModelSpec) -> dict[str, str]:
    """What the screen saves: this transport's settings only, blank ones left to their defaults.
    The model is the one the app chats with, so the transport's own default agrees with it."""
    kept = saved(settings, values, _MANAGED, KNOWN)
    kept["model"] = model.id
    return kept
