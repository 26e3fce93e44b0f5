"""Saving and restoring a BedrockTransport: the shared settings as ``restore.py`` reads them, plus
the AWS ones. As forgiving: a saved value that no longer reads is skipped with a warning."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from . import bedrock_settings
from . import restore as shared
from .backends.aws_credentials import CredentialsUnavailable
from .bedrock_settings import BEDROCK_DEFAULT_MODEL, BEDROCK_MODELS
from .errors import ConfigurationError
from .settings import shown

if TYPE_CHECKING:
    from .bedrock_transport import BedrockTransport

__all__ = ["KNOWN", "dump", "require_credentials", "restore"]

logger = logging.getLogger("axio_transport_anthropic")

_REDACTED: Final = "[redacted]"
_SECRETS: Final = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_PLAIN: Final = ("aws_region", "aws_profile")
#: Not Bedrock's: the gateway token and Vertex AI's settings.
_OTHERS: Final = frozenset({"auth_token", "vertexai", "project", "location"})
#: Every setting ``dump`` writes (the shared ones, and the AWS ones).
KNOWN: Final = (shared.KNOWN - _OTHERS) | {*_SECRETS, *_PLAIN}
#: Read here rather than by ``restore.load``, which knows them as Anthropic's.
_OWN: Final = frozenset({"api_key", "auth_token", "base_url", "model", *_SECRETS, *_PLAIN})


def dump(t: BedrockTransport, *, redact: bool) -> dict[str, Any]:
    out = shared.dump(t, redact=redact)
    del out["auth_token"]
    out["base_url"] = t.base_url  # empty: the region's endpoint, derived again on restore
    if redact:
        out["api_key"] = _REDACTED if t.api_key else ""
    elif bedrock_settings.from_environment(t.api_key):
        out["api_key"] = ""  # left in AWS_BEARER_TOKEN_BEDROCK, read there again
    for name in _PLAIN:
        out[name] = getattr(t, name)
    for name in _SECRETS:
        value = getattr(t, name)
        out[name] = (_REDACTED if value else "") if redact else value
    return out


def restore[T: BedrockTransport](cls: type[T], data: Any, *, session: aiohttp.ClientSession | None) -> T:
    """A transport from saved settings (strings too, as axio-tui saves them)."""
    if not isinstance(data, dict):
        logger.warning("Saved Bedrock settings are a %s, not a mapping; using defaults", type(data).__name__)
        data = {}
    for unknown in sorted(set(data) - KNOWN - {"auth_token"}, key=str):
        logger.warning("Ignoring unknown saved setting %s", shown(unknown))
    common = {key: value for key, value in data.items() if key in KNOWN and key not in _OWN}
    kwargs = shared.load(common, BEDROCK_MODELS)
    # shared.load fills Anthropic's credentials and model from Anthropic's environment: not ours.
    for name in ("api_key", "auth_token", "model"):
        kwargs.pop(name, None)
    kwargs.update(_own(data, kwargs["models"]))
    with bedrock_settings.lenient():
        while True:
            try:
                return cls(**kwargs, session=session)
            except ConfigurationError as exc:
                # A value that reads but cannot work (a profile with a line break): drop it, keep the rest.
                bad = next((key for key in kwargs if str(exc).startswith(key)), None)
                if bad is None:
                    raise
                logger.warning("Ignoring saved %s: %s", bad, exc)
                del kwargs[bad]


async def require_credentials(t: BedrockTransport) -> None:
    """Refuse a transport no credential resolves for, saying why (for axio-tui's list)."""
    from .backends.bedrock import Bedrock

    backend = t.backend()
    assert isinstance(backend, Bedrock)
    try:
        await backend.check_credentials()
    except CredentialsUnavailable as exc:
        raise ConfigurationError(exc.message) from exc


def _own(data: dict[str, Any], models: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    key = data.get("api_key")
    if isinstance(key, str) and key and key != _REDACTED:
        kwargs["api_key"] = key
    elif key == _REDACTED:
        logger.warning("Saved api_key is the redacted placeholder; using the environment's instead")
    url = data.get("base_url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        kwargs["base_url"] = url
    elif url:
        logger.warning("Ignoring saved base_url %s: not an http(s) URL", shown(url))
    for name in _PLAIN:
        if isinstance(value := data.get(name), str):
            kwargs[name] = value.strip()
        elif value is not None:
            logger.warning("Ignoring saved %s %s: not a string", name, shown(value))
    region = kwargs.get("aws_region", "")
    if region and not bedrock_settings.REGION.fullmatch(region):
        logger.warning("Ignoring saved aws_region %s: not an AWS region", shown(region))
        del kwargs["aws_region"]
    saved = {name: data.get(name) for name in _SECRETS}
    pair = (saved["aws_access_key_id"], saved["aws_secret_access_key"])
    if all(isinstance(v, str) and v and v != _REDACTED for v in pair):
        kwargs.update((name, value) for name, value in saved.items() if isinstance(value, str) and value != _REDACTED)
    elif any(saved.values()):
        # Named, never quoted: whatever was saved may be a secret.
        logger.warning("Ignoring saved AWS keys: both an access key id and a secret key are needed, unredacted")
    kwargs["model"] = _model(data.get("model"), models)
    return kwargs


def _model(saved: Any, models: Any) -> Any:
    if isinstance(saved, str) and saved:
        try:
            return bedrock_settings.spec_for(saved, models)
        except ConfigurationError:
            logger.warning("Ignoring saved model %s: no Claude model this transport knows", shown(saved))
    elif saved is not None:
        logger.warning("Ignoring saved model %s: not a model id", shown(saved))
    return models.get(BEDROCK_DEFAULT_MODEL) or next(iter(models.values()))
