"""Checking, saving and restoring a transport's settings.

Construction is strict (a bad value raises, naming it); restoring is forgiving (a saved value that
no longer reads is skipped with a warning), because one stale field must not lose a session.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from axio.models import Capability, ModelRegistry, ModelSpec

from .errors import ConfigurationError
from .models import DEFAULT_MODEL
from .redaction import mask_keys

if TYPE_CHECKING:
    from .transport import AnthropicTransport

__all__ = ["dump", "load", "shown", "validate"]

logger = logging.getLogger("axio_transport_anthropic")

_REDACTED: Final = "[redacted]"
_NUMBERS: Final[dict[str, Callable[[Any], Any]]] = {
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
_FLAGS: Final = ("prompt_caching",)
#: Written even when None, which for these means "no limit" rather than "the default".
_NULLABLE: Final = frozenset({"connect_timeout", "first_byte_timeout", "idle_timeout", "deadline"})
_KNOWN: Final = frozenset({"name", "api_key", "base_url", "model", "models", "cache_ttl", *_NUMBERS, *_FLAGS})


def shown(value: Any) -> str:
    """A user's value as quoted in a message, with anything key-like hidden: a settings form is
    where a key gets pasted into the wrong box."""
    return mask_keys(repr(value))


def validate(t: AnthropicTransport) -> None:
    """Raise ``ConfigurationError`` naming the first setting that cannot work."""
    scheme = urlsplit(t.base_url).scheme
    if scheme not in ("http", "https") or not urlsplit(t.base_url).hostname:
        raise ConfigurationError(f"base_url must be an http(s) URL, got {shown(t.base_url)}")
    if not isinstance(t.model, ModelSpec):
        raise ConfigurationError(f"model must be an axio.models.ModelSpec, got {type(t.model).__name__}")
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


def dump(t: AnthropicTransport, *, redact: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": t.name,
        "base_url": t.base_url,
        "api_key": (_REDACTED if t.api_key else "") if redact else t.api_key,
        "model": t.model.id,
        "models": [_spec_dict(spec) for spec in t.models.values()],
        "cache_ttl": t.cache_ttl,
    }
    for name in (*_NUMBERS, *_FLAGS):
        value = getattr(t, name)
        if value is not None or name in _NULLABLE:
            out[name] = value
    return out


def _spec_dict(spec: ModelSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "context_window": spec.context_window,
        "max_output_tokens": spec.max_output_tokens,
        "capabilities": sorted(c.value for c in spec.capabilities),
        "input_cost": spec.input_cost,
        "output_cost": spec.output_cost,
    }


def load(data: dict[str, Any], catalogue: ModelRegistry) -> dict[str, Any]:
    """Constructor arguments from saved settings; the key and URL fall back to the environment."""
    if not isinstance(data, dict):
        logger.warning("Saved Anthropic settings are a %s, not a mapping; using defaults", type(data).__name__)
        data = {}
    kwargs: dict[str, Any] = {}
    for unknown in sorted(set(data) - _KNOWN, key=str):
        logger.warning("Ignoring unknown saved setting %s", shown(unknown))
    name = data.get("name")
    if isinstance(name, str) and name:
        kwargs["name"] = name
    elif name is not None:
        logger.warning("Ignoring saved name %s: not a string", shown(name))
    kwargs["api_key"] = _api_key(data.get("api_key"))
    url = data.get("base_url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        kwargs["base_url"] = url
    elif url:
        logger.warning("Ignoring saved base_url %s: not an http(s) URL", shown(url))
    for field_name, convert in _NUMBERS.items():
        if field_name in _NULLABLE and field_name in data and data[field_name] is None:
            kwargs[field_name] = None
        elif (value := _number(data, field_name, convert)) is not None:
            kwargs[field_name] = value
    for flag in _FLAGS:
        if isinstance(value := data.get(flag), bool):
            kwargs[flag] = value
        elif value is not None:
            logger.warning("Ignoring saved %s %s: not true or false", flag, shown(value))
    ttl = data.get("cache_ttl")
    if ttl in ("5m", "1h"):
        kwargs["cache_ttl"] = ttl
    elif ttl is not None:
        logger.warning("Ignoring saved cache_ttl %s: not '5m' or '1h'", shown(ttl))
    models = _models(data.get("models"), catalogue)
    kwargs["models"] = models
    saved_model = data.get("model")
    if isinstance(saved_model, str) and saved_model in models:
        kwargs["model"] = models[saved_model]
    elif saved_model is not None:
        logger.warning("Ignoring saved model %s: not in the model registry", shown(saved_model))
    if "model" not in kwargs and (default := next(iter(models.values()), None)) is not None:
        kwargs["model"] = models.get(DEFAULT_MODEL) or default
    _drop_invalid(kwargs)
    return kwargs


def _api_key(saved: Any) -> str:
    """The saved key, or the environment's where none (or only a redacted one) was saved."""
    if isinstance(saved, str) and saved and saved != _REDACTED:
        return saved
    if saved == _REDACTED:
        logger.warning("Saved api_key is the redacted placeholder; using ANTHROPIC_API_KEY instead")
    elif saved is not None and not isinstance(saved, str):
        # Named by type only: whatever it is may still be a secret.
        logger.warning("Ignoring saved api_key: a %s, not a string", type(saved).__name__)
    return os.environ.get("ANTHROPIC_API_KEY", "")


def _number(data: dict[str, Any], key: str, convert: Callable[[Any], Any]) -> Any:
    if (found := data.get(key)) is None:
        return None
    try:
        if isinstance(found, bool):
            raise TypeError
        value = convert(found)
    except (TypeError, ValueError, OverflowError):
        logger.warning("Ignoring saved %s %s: not a number", key, shown(found))
        return None
    if isinstance(value, float) and not math.isfinite(value):
        logger.warning("Ignoring saved %s %s: not finite", key, shown(found))
        return None
    return value


def _models(saved: Any, catalogue: ModelRegistry) -> ModelRegistry:
    if saved is None:
        return ModelRegistry(catalogue.values())
    specs: list[ModelSpec] = []
    for entry in saved if isinstance(saved, list) else []:
        try:
            specs.append(_spec(entry))
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
            logger.warning("Ignoring a saved model entry that does not read (%s): %s", exc, shown(entry))
    if not specs:
        if saved:
            logger.warning("No saved model entry was readable; using the bundled catalogue")
        return ModelRegistry(catalogue.values())
    return ModelRegistry(specs)


def _spec(entry: Any) -> ModelSpec:
    model_id = entry["id"]
    if not isinstance(model_id, str) or not model_id or model_id != model_id.strip():
        raise ValueError(f"model id {shown(model_id)} is not a bare non-empty string")
    caps = frozenset(Capability(c) for c in entry.get("capabilities", []) if c in Capability.__members__)
    spec = ModelSpec(
        id=model_id,
        context_window=int(entry.get("context_window", 200_000)),
        max_output_tokens=int(entry.get("max_output_tokens", 8_192)),
        capabilities=caps | {Capability.text},
        input_cost=float(entry.get("input_cost", 0.0)),
        output_cost=float(entry.get("output_cost", 0.0)),
    )
    if spec.context_window <= 0 or spec.max_output_tokens <= 0:
        raise ValueError("token limits must be positive")
    for cost in (spec.input_cost, spec.output_cost):
        if not math.isfinite(cost) or cost < 0:
            raise ValueError("prices must be finite and not negative")
    return spec


def _drop_invalid(kwargs: dict[str, Any]) -> None:
    """Drop saved values construction would refuse, one at a time, so the rest still apply."""
    from .transport import AnthropicTransport

    for name in list(kwargs):
        if name in ("models", "model", "api_key"):
            continue
        try:
            AnthropicTransport(**{"api_key": "", name: kwargs[name]})
        except ConfigurationError as exc:
            logger.warning("Ignoring saved %s: %s", name, exc)
            del kwargs[name]
