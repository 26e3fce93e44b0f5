"""Bedrock's errors before the stream: rest-json, the code in ``x-amzn-ErrorType``, the text in ``message``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .base import ErrorBody
from .envelopes import QUOTED, parse_json, quoted

__all__ = ["bedrock_error", "error_type_header", "stale_credentials"]

#: 403s that refuse the credentials themselves: a session token expired or revoked, keys rotated
#: out. Not AccessDeniedException (a missing permission) nor a malformed signature.
_STALE: Final = frozenset({"ExpiredTokenException", "UnrecognizedClientException"})


def stale_credentials(error_type: str | None, message: str) -> bool:
    """Whether a 403 says the credentials or the signature's time went stale, so that the same
    request signed again with freshly resolved credentials may be let in."""
    if error_type in _STALE:
        return True
    # Signed longer than 5 minutes before it arrived (a clock that jumped, a long stall): a new
    # signature carries a new time. A wrongly scoped one fails again, and is not retried.
    return error_type == "InvalidSignatureException" and "Signature expired" in message


def error_type_header(headers: Mapping[str, str]) -> str | None:
    """``ThrottlingException`` from ``ThrottlingException:http://internal.amazon.com/coral/...``."""
    raw = headers.get("x-amzn-ErrorType") or headers.get("x-amzn-errortype")
    if not raw:
        return None
    return raw.split(":", 1)[0].strip()[:QUOTED] or None


def bedrock_error(headers: Mapping[str, str], text: str) -> ErrorBody:
    """The error type from the header (or the body's ``__type``) and the body's message."""
    parsed: Any = parse_json(text)
    kind = error_type_header(headers)
    if isinstance(parsed, dict):
        message = parsed.get("message") or parsed.get("Message")
        if kind is None and isinstance(parsed.get("__type"), str):
            # "com.amazon.coral.service#ThrottlingException" in some responses
            kind = parsed["__type"].rpartition("#")[2][:QUOTED] or None
        if isinstance(message, str):
            return ErrorBody(kind, " ".join(message.split())[:QUOTED])
    fallback = quoted(text)
    return ErrorBody(kind or fallback.error_type, fallback.message)
