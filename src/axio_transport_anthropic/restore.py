"""Saving and restoring a transport's settings.

Restoring is forgiving: a saved value that no longer reads is skipped with a warning naming it,
because one stale field must not lose a session. Values may be text, as axio-tui saves them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from axio.models import Capability, ModelRegistry, ModelSpec

from . import auth, vertex_settings
from .errors import ConfigurationError
from .models import ANTHROPIC_MODELS, DEFAULT_MODEL
from .settings import NULLABLE, NUMBERS, from_text, shown

if TYPE_CHECKING:
    from .transport import AnthropicTransport

__all__ = ["KNOWN", "dump", "load", "restore"]

logger = logging.getLogger("axio_transport_anthropic")

_REDACTED: Final = "[redacted]"
_FLAGS: Final = ("prompt_caching",)
_CREDENTIALS: Final = {"api_key": auth.env_api_key, "auth_token": auth.env_auth_token}
_VERTEX: Final = ("vertexai", "project", "location")
#: Every setting ``to_dict`` writes.
KNOWN: Final = frozenset(
    {"name", "base_url", "model", "models", "cache_ttl", "default_headers", "betas", *_CREDENTIALS, *NUMBERS, *_FLAGS}
) | frozenset(_VERTEX)


def dump(t: AnthropicTransport, *, redact: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": t.name,
        "base_url": t.base_url,
        **{name: _credential(getattr(t, name), redact) for name in _CREDENTIALS},
        "model": t.model.id,
        "models": [_spec_dict(spec) for spec in t.models.values()],
        "cache_ttl": t.cache_ttl,
        # Any header may carry a credential (a gateway's own key): none is shown redacted.
        "default_headers": dict.fromkeys(t.default_headers, _REDACTED) if redact else dict(t.default_headers),
        "betas": list(t.betas),
    }
    for name in (*NUMBERS, *_FLAGS):
        value = getattr(t, name)
        if value is not None or name in NULLABLE:
            out[name] = value
    if t.vertexai:
        out.update(vertexai=True, project=t.project, location=t.location)
        # Only a Vertex root given as such: the default names the direct API, not Google's host.
        if (override := vertex_settings.base_url_override(t)) is not None:
            out["base_url"] = override
        else:
            del out["base_url"]
    return out


def _credential(value: str, redact: bool) -> str:
    if redact:
        return _REDACTED if value else ""
    # One read from the environment is left there: the restore reads it again.
    return "" if auth.from_environment(value) else value


def _spec_dict(spec: ModelSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "context_window": spec.context_window,
        "max_output_tokens": spec.max_output_tokens,
        "capabilities": sorted(c.value for c in spec.capabilities),
        "input_cost": spec.input_cost,
        "output_cost": spec.output_cost,
    }


def restore[T: AnthropicTransport](
    cls: type[T], data: Any, *, session: aiohttp.ClientSession | None, require_credentials: bool
) -> T:
    """A transport from saved settings. Without a credential for Anthropic's own API it is built
    anyway, with a warning (``stream()`` refuses it), unless ``require_credentials``."""
    kwargs = load(data, ANTHROPIC_MODELS)
    with auth.lenient():
        transport = cls(**kwargs, session=session)
    if auth.missing_credentials(transport):
        if require_credentials:
            raise ConfigurationError(auth.NO_CREDENTIALS)
        logger.warning("Restored without an API key: requests to api.anthropic.com fail until one is set")
    return transport


def load(data: Any, catalogue: ModelRegistry) -> dict[str, Any]:
    """Constructor arguments from saved settings; credentials and URL fall back to the environment."""
    if not isinstance(data, dict):
        logger.warning("Saved Anthropic settings are a %s, not a mapping; using defaults", type(data).__name__)
        data = {}
    kwargs: dict[str, Any] = {}
    for unknown in sorted(set(data) - KNOWN, key=str):
        logger.warning("Ignoring unknown saved setting %s", shown(unknown))
    name = data.get("name")
    if isinstance(name, str) and name:
        kwargs["name"] = name
    elif name is not None:
        logger.warning("Ignoring saved name %s: not a string", shown(name))
    for credential, from_env in _CREDENTIALS.items():
        kwargs[credential] = _saved_credential(credential, data.get(credential), from_env)
    url = data.get("base_url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        kwargs["base_url"] = url
    elif url:
        logger.warning("Ignoring saved base_url %s: not an http(s) URL", shown(url))
    for field_name, convert in NUMBERS.items():
        if field_name in NULLABLE and field_name in data and data[field_name] is None:
            kwargs[field_name] = None
        elif (value := _number(data, field_name, convert)) is not _ABSENT:
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
    if (headers := _headers(data.get("default_headers"))) is not None:
        kwargs["default_headers"] = headers
    if (betas := _betas(data.get("betas"))) is not None:
        kwargs["betas"] = betas
    kwargs.update(_vertex(data))
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


def _vertex(data: dict[str, Any]) -> dict[str, Any]:
    """``vertexai`` as a flag or as text ("true"/"1", as 0.12.2 and axio-tui save it), and the
    project and location as text."""
    kept: dict[str, Any] = {}
    flag = data.get("vertexai")
    if isinstance(flag, bool):
        kept["vertexai"] = flag
    elif isinstance(flag, str) and flag.strip().lower() in ("true", "1", "false", "0", ""):
        kept["vertexai"] = flag.strip().lower() in ("true", "1")
    elif flag is not None:
        logger.warning("Ignoring saved vertexai %s: not true or false", shown(flag))
    for name in ("project", "location"):
        value = data.get(name)
        if isinstance(value, str):
            kept[name] = value.strip()
        elif value is not None:
            logger.warning("Ignoring saved %s %s: not text", name, shown(value))
    return kept


def _saved_credential(name: str, saved: Any, from_env: Callable[[], str]) -> str:
    """The saved credential, or the environment's where none (or only a redacted one) was saved."""
    if isinstance(saved, str) and saved and saved != _REDACTED:
        return saved
    if saved == _REDACTED:
        logger.warning("Saved %s is the redacted placeholder; using the environment's instead", name)
    elif saved is not None and not isinstance(saved, str):
        # Named by type only: whatever it is may still be a secret.
        logger.warning("Ignoring saved %s: a %s, not a string", name, type(saved).__name__)
    return from_env()


_ABSENT: Final = object()


def _number(data: dict[str, Any], key: str, convert: Callable[[Any], Any]) -> Any:
    if (found := data.get(key)) is None:
        return _ABSENT
    try:
        if isinstance(found, bool):
            raise TypeError
        value = from_text(key, found) if isinstance(found, str) else convert(found)
    except (TypeError, ValueError, OverflowError):
        logger.warning("Ignoring saved %s %s: not a number", key, shown(found))
        return _ABSENT
    if isinstance(value, float) and not math.isfinite(value):
        logger.warning("Ignoring saved %s %s: not finite", key, shown(found))
        return _ABSENT
    return value


def _headers(saved: Any) -> dict[str, str] | None:
    if saved is None:
        return None
    if not isinstance(saved, dict):
        logger.warning("Ignoring saved default_headers: a %s, not a mapping", type(saved).__name__)
        return None
    kept: dict[str, str] = {}
    for name, value in saved.items():
        try:
            auth.check_header(name, value)
        except ConfigurationError as exc:
            logger.warning("Ignoring a saved header: %s", exc)
            continue
        if value == _REDACTED:
            # Sending the placeholder would be worse than sending nothing.
            logger.warning("Ignoring saved header %s: its value was redacted", shown(name))
            continue
        kept[name] = value
    return kept


def _betas(saved: Any) -> tuple[str, ...] | None:
    if saved is None:
        return None
    if isinstance(saved, str):
        saved = [beta.strip() for beta in saved.split(",") if beta.strip()]
    if not isinstance(saved, list):
        logger.warning("Ignoring saved betas: a %s, not a list", type(saved).__name__)
        return None
    kept: list[str] = []
    for beta in saved:
        try:
            auth.check_beta(beta)
        except ConfigurationError as exc:
            logger.warning("Ignoring a saved beta: %s", exc)
            continue
        kept.append(beta)
    return tuple(kept)


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
        # vertexai is never dropped: without google-auth the restore must fail saying so, not
        # quietly send the conversation to another provider.
        if name in ("models", "model", "vertexai"):
            continue
        try:
            with auth.lenient():
                AnthropicTransport(**{"api_key": "", name: kwargs[name], "telemetry": None})
        except ConfigurationError as exc:
            # A credential dropped here falls back to the environment, as an absent one does.
            logger.warning("Ignoring saved %s: %s", name, exc)
            del kwargs[name]
