"""Checking a transport's settings, and completing them: a model given by its id, a base URL
given without a path. Construction is strict: a value that cannot work raises, naming it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from axio.models import ModelRegistry, ModelSpec

from . import auth
from .auth import shown
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .transport import AnthropicTransport

__all__ = [
    "DEFAULT_BASE_URL",
    "NULLABLE",
    "NUMBERS",
    "DefaultBaseURL",
    "env_base_url",
    "from_text",
    "prepare",
    "shown",
    "validate",
]

DEFAULT_BASE_URL: Final = "https://api.anthropic.com/v1"
NUMBERS: Final[dict[str, Callable[[Any], Any]]] = {
    "temperature": float,
    "top_p": float,
    "top_k": int,
    "thinking_budget": int,
    "max_tokens": int,
    "max_retries": int,
    "retry_base_delay": float,
    "retry_max_delay": float,
    "connect_timeout": float,
    "first_byte_timeout": float,
    "idle_timeout": float,
    "deadline": float,
}
#: None means "no limit" for these rather than "the default"; as text it is spelled "none".
NULLABLE: Final = frozenset({"connect_timeout", "first_byte_timeout", "idle_timeout", "deadline"})


class DefaultBaseURL(str):
    """A base URL the caller did not give (the default, or ``ANTHROPIC_BASE_URL``): it names the
    direct API, so a Vertex transport goes to Google's host instead."""

    __slots__ = ()


def env_base_url() -> str:
    return DefaultBaseURL(os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL)


def from_text(name: str, text: str) -> Any:
    """A number setting written as text (a form, axio-tui's database). Raises ``ValueError``."""
    text = text.strip()
    if name in NULLABLE and text.lower() == "none":
        return None
    value = NUMBERS[name](text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite")
    return value


def prepare(t: AnthropicTransport) -> None:
    """Complete and check a transport being built; raise naming the first setting that cannot work."""
    if isinstance(t.model, str):
        t.model = _model_by_id(t.model, t.models)
    validate(t)
    auth.validate_headers(t)
    parts = urlsplit(t.base_url)
    if parts.path in ("", "/"):
        # The SDK's convention leaves /v1 out of the base URL (ANTHROPIC_BASE_URL=https://gw).
        t.base_url = type(t.base_url)(urlunsplit(parts._replace(path="/v1")))
    t.default_headers = dict(t.default_headers)
    t.betas = tuple(t.betas)
    auth.check_credentials(t)


def _model_by_id(model_id: str, models: ModelRegistry) -> ModelSpec:
    spec = models.get(model_id) if isinstance(models, ModelRegistry) else None
    if spec is None:
        known = ", ".join(models.keys()) if isinstance(models, ModelRegistry) else ""
        raise ConfigurationError(
            f"model {shown(model_id)} is not in the model registry (known: {known}); "
            "for a model it does not list, pass an axio.models.ModelSpec"
        )
    return spec


def validate(t: AnthropicTransport) -> None:
    """Raise ``ConfigurationError`` naming the first setting that cannot work."""
    scheme = urlsplit(t.base_url).scheme
    if scheme not in ("http", "https") or not urlsplit(t.base_url).hostname:
        raise ConfigurationError(f"base_url must be an http(s) URL, got {shown(t.base_url)}")
    if not isinstance(t.model, ModelSpec):
        raise ConfigurationError(f"model must be a model id or an axio.models.ModelSpec, got {type(t.model).__name__}")
    if not isinstance(t.prompt_caching, bool):
        raise ConfigurationError(f"prompt_caching must be True or False, got {shown(t.prompt_caching)}")
    for name in ("max_retries", "retry_base_delay", "retry_max_delay"):
        if getattr(t, name) is None:
            raise ConfigurationError(f"{name} must be a number, got None")
    for name in ("top_k", "thinking_budget", "max_tokens", "max_retries"):
        value = getattr(t, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigurationError(f"{name} must be a whole number, got {shown(value)}")
    _range("temperature", t.temperature, 0.0, 1.0)
    _range("top_p", t.top_p, 0.0, 1.0)
    _range("top_k", t.top_k, 1, None)
    _range("thinking_budget", t.thinking_budget, 1, None)
    _range("max_tokens", t.max_tokens, 1, None)
    _range("max_retries", t.max_retries, 0, None)
    _range("retry_base_delay", t.retry_base_delay, 0.0, None)
    _range("retry_max_delay", t.retry_max_delay, 0.0, None)
    for name in ("connect_timeout", "first_byte_timeout", "idle_timeout", "deadline"):
        value = getattr(t, name)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (number and value > 0 and math.isfinite(value)):
            raise ConfigurationError(f"{name} must be a positive number of seconds or None, got {shown(value)}")
    if t.cache_ttl not in ("5m", "1h"):
        raise ConfigurationError(f"cache_ttl must be '5m' or '1h', got {shown(t.cache_ttl)}")


def _range(name: str, value: float | None, low: float, high: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a number, got {shown(value)}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigurationError(f"{name} must be {bounds}, got {shown(value)}")
