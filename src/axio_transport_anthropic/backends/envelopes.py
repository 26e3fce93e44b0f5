"""Error bodies as each service wraps them, read into one ``ErrorBody``. Pure."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from .base import ErrorBody

__all__ = ["QUOTED", "anthropic_envelope", "parse_json", "quoted"]

#: The most of a body quoted in an exception.
QUOTED: Final = 500
_TITLE: Final = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG: Final = re.compile(r"<[^>]+>")


def quoted(text: str) -> ErrorBody:
    """A body in no known envelope: an HTML page by its title, anything else on one line, cut."""
    text = text.strip()
    if (title := _TITLE.search(text)) is not None:
        text = title.group(1)
    elif text.startswith("<"):
        text = _TAG.sub(" ", text)
    return ErrorBody(None, " ".join(text.split())[:QUOTED])


def parse_json(text: str) -> Any:
    """The body's JSON, or ``None`` when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def anthropic_envelope(parsed: Any) -> ErrorBody | None:
    """``{"type": "error", "error": {"type", "message"}, "request_id"}``, or ``None``."""
    if not isinstance(parsed, dict) or not isinstance(parsed.get("error"), dict):
        return None
    error = parsed["error"]
    request_id = parsed.get("request_id")
    return ErrorBody(
        str(error.get("type") or "")[:QUOTED] or None,
        str(error.get("message") or "")[:QUOTED],
        request_id if isinstance(request_id, str) else None,
    )
