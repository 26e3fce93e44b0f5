"""Credentials and the headers of each request: the API key, a gateway's Bearer token, extra
headers and betas, and which of them are secrets to scrub."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .redaction import mask_keys

if TYPE_CHECKING:
    from .transport import AnthropicTransport

__all__ = [
    "ANTHROPIC_API_VERSION",
    "NO_CREDENTIALS",
    "check_beta",
    "check_credentials",
    "check_header",
    "env_api_key",
    "env_auth_token",
    "from_environment",
    "lenient",
    "missing_credentials",
    "request_headers",
    "secrets_of",
    "shown",
    "validate_headers",
]

ANTHROPIC_API_VERSION: Final = "2023-06-01"
_USER_AGENT: Final = "axio-transport-anthropic/0.13"
_ANTHROPIC_HOST: Final = "api.anthropic.com"
#: Headers the transport must set itself for the stream to work at all.
_RESERVED: Final = frozenset({"content-type", "accept", "content-length", "transfer-encoding", "host", "connection"})
#: What a header name, and a beta name, may be made of (RFC 9110 ``token``).
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CREDENTIAL_HEADERS: Final = frozenset({"x-api-key", "authorization"})
#: Header names whose values are credentials: scrubbed from errors like the key.
_SECRET_NAME: Final = re.compile(r"auth|key|token|secret|cookie|signature", re.IGNORECASE)
NO_CREDENTIALS: Final = (
    "no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN for a gateway), or pass api_key= to AnthropicTransport"
)

_lenient: ContextVar[bool] = ContextVar("axio_anthropic_lenient_credentials", default=False)


class _FromEnvironment(str):
    """A credential read from the environment, not given. A key that only sits in
    ANTHROPIC_API_KEY is not sent to a gateway that was given a token, nor written by to_dict."""

    __slots__ = ()


def env_api_key() -> str:
    return _FromEnvironment(os.environ.get("ANTHROPIC_API_KEY", ""))


def env_auth_token() -> str:
    return _FromEnvironment(os.environ.get("ANTHROPIC_AUTH_TOKEN", ""))


def from_environment(value: str) -> bool:
    return isinstance(value, _FromEnvironment)


@contextmanager
def lenient() -> Iterator[None]:
    """Build without the missing-credential check: restoring must never fail on it."""
    token = _lenient.set(True)
    try:
        yield
    finally:
        _lenient.reset(token)


def missing_credentials(t: AnthropicTransport) -> bool:
    """Anthropic's own API needs a key or a token; a gateway or the simulator may need neither."""
    if t.vertexai:
        return False  # Google credentials: loaded, and refused if missing, when first used
    if t.api_key or t.auth_token or any(name.lower() in _CREDENTIAL_HEADERS for name in t.default_headers):
        return False
    return urlsplit(t.base_url).hostname == _ANTHROPIC_HOST


def check_credentials(t: AnthropicTransport) -> None:
    if not _lenient.get() and missing_credentials(t):
        raise ConfigurationError(NO_CREDENTIALS)


def validate_headers(t: AnthropicTransport) -> None:
    """Raise naming the setting; a header's value is never quoted, it may be a credential."""
    for name in ("api_key", "auth_token"):
        value = getattr(t, name)
        if not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, got a {type(value).__name__}")
        if _unsafe(value):
            raise ConfigurationError(f"{name} must not contain line breaks or control characters")
    if not isinstance(t.default_headers, Mapping):
        raise ConfigurationError(f"default_headers must be a mapping, got a {type(t.default_headers).__name__}")
    for name, value in t.default_headers.items():
        check_header(name, value)
    if isinstance(t.betas, str) or not isinstance(t.betas, tuple | list):
        raise ConfigurationError(f"betas must be a list of beta names, got a {type(t.betas).__name__}")
    for beta in t.betas:
        check_beta(beta)


def check_header(name: object, value: object) -> None:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ConfigurationError(f"default_headers has a name that is not a valid header name: {shown(name)}")
    if name.lower() in _RESERVED:
        raise ConfigurationError(f"default_headers may not set {name}: the transport sets it for the stream")
    if not isinstance(value, str) or _unsafe(value):
        raise ConfigurationError(f"default_headers[{name!r}] must be a string without line breaks")


def check_beta(beta: object) -> None:
    if not isinstance(beta, str) or not _TOKEN.fullmatch(beta):
        raise ConfigurationError(f"betas must hold beta names like 'context-1m-2025-08-07', got {shown(beta)}")


def shown(value: object) -> str:
    """A user's value as quoted in a message, with anything key-like hidden: a settings form is
    where a key gets pasted into the wrong box."""
    return mask_keys(repr(value))


def _unsafe(value: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def request_headers(t: AnthropicTransport) -> dict[str, str]:
    """The headers of every request. ``default_headers`` override the transport's own (the API
    version, or a key sent beside a token) except those the stream needs."""
    if missing_credentials(t):
        raise ConfigurationError(NO_CREDENTIALS)
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "anthropic-version": ANTHROPIC_API_VERSION,
        "user-agent": _USER_AGENT,
    }
    if t.auth_token:
        headers["authorization"] = f"Bearer {t.auth_token}"
    if t.api_key and not (t.auth_token and from_environment(t.api_key)):
        headers["x-api-key"] = t.api_key
    betas: list[str] = []
    for name, value in t.default_headers.items():
        if name.lower() == "anthropic-beta":
            betas.extend(b.strip() for b in value.split(",") if b.strip())
        else:
            headers.pop(name.lower(), None)
            headers[name] = value
    betas.extend(t.betas)
    if betas:
        headers["anthropic-beta"] = ",".join(dict.fromkeys(betas))
    return headers


def secrets_of(t: AnthropicTransport) -> tuple[str, ...]:
    """Everything that must be scrubbed from what the server says back."""
    found = [t.api_key, t.auth_token]
    found.extend(value for name, value in t.default_headers.items() if _SECRET_NAME.search(name))
    return tuple(s for s in found if s)
