"""Google's error envelope, as Vertex AI sends quota and gateway errors. Pure.

``{"error": {"code": 429, "message": "Quota exceeded ...", "status": "RESOURCE_EXHAUSTED"}}``,
sometimes wrapped in a one-element array. Each status is read as the Anthropic error type it
means, so metrics, spans and exceptions name it as they would on the direct API; whether it is
retried is decided by the HTTP status, as for every other error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .base import ErrorBody
from .envelopes import QUOTED

__all__ = ["ERROR_TYPE_OF_GOOGLE_STATUS", "google_envelope"]

ERROR_TYPE_OF_GOOGLE_STATUS: Final[Mapping[str, str]] = {
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "NOT_FOUND": "not_found_error",
    "INVALID_ARGUMENT": "invalid_request_error",
    "FAILED_PRECONDITION": "invalid_request_error",
    "OUT_OF_RANGE": "invalid_request_error",
    "ABORTED": "conflict_error",
    "DEADLINE_EXCEEDED": "timeout_error",
    "INTERNAL": "api_error",
    "UNAVAILABLE": "api_error",
    "UNKNOWN": "api_error",
}


def google_envelope(parsed: Any) -> ErrorBody | None:
    """The envelope's error type and message, or ``None`` when ``parsed`` is not one."""
    if isinstance(parsed, list) and len(parsed) == 1:
        parsed = parsed[0]
    if not isinstance(parsed, dict) or not isinstance(error := parsed.get("error"), dict):
        return None
    status = error.get("status")
    # Anthropic's own envelope has an error "type" and no status: not Google's to read.
    if "type" in error or (not isinstance(status, str) and not isinstance(error.get("code"), int)):
        return None
    message = str(error.get("message") or "")
    if isinstance(status, str) and status:
        message = f"{status}: {message}" if message else status
    error_type = ERROR_TYPE_OF_GOOGLE_STATUS.get(status) if isinstance(status, str) else None
    return ErrorBody(error_type, message[:QUOTED])
