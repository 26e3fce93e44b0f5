"""Bedrock's errors before the stream: rest-json, the code in ``x-amzn-ErrorType``, the text in ``message``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ErrorBody
from .envelopes import QUOTED, parse_json, quoted

__all__ = ["bedrock_error", "error_type_header"]


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
