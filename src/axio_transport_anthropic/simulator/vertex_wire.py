"""What Vertex AI says back, besides the stream: Google's error envelope for quota and credential
errors (Anthropic's envelope for the rest), and the extra ``vertex_event`` in the stream."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiohttp import web

from ..models import VERTEX_MODEL_IDS
from .events import SseEvent
from .faults import Fault
from .wire import ApiError, dumps, error_body

__all__ = ["PATH", "anthropic_error", "catalogue_id", "fault_response", "google_error", "with_vertex_event"]

PATH: Final = (
    "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model:[^/:]+}"
    ":{method:streamRawPredict|rawPredict}"
)
UNAUTHENTICATED: Final = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential."
)
_GOOGLE_STATUS: Final = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
#: Vertex's model names back to the catalogue's (both 4.5 Haiku ids name one Vertex model).
_CATALOGUE: Final = {vertex: ours for ours, vertex in reversed(list(VERTEX_MODEL_IDS.items()))}


def catalogue_id(vertex_model: str) -> str | None:
    return _CATALOGUE.get(vertex_model)


def google_error(status: int, message: str, *, wrapped: bool = False) -> web.Response:
    """``{"error": {"code", "message", "status"}}``, or that inside a one-element array."""
    envelope: Any = {"error": {"code": status, "message": message, "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}}
    if wrapped:
        envelope = [envelope]
    return web.Response(status=status, body=dumps(envelope).encode(), content_type="application/json")


def anthropic_error(error: ApiError, request_id: str, headers: Mapping[str, str] | None = None) -> web.Response:
    body = dumps(error_body(error.error_type, error.message, request_id)).encode()
    return web.Response(status=error.status, body=body, headers=headers, content_type="application/json")


def fault_response(fault: Fault, request_id: str) -> web.Response:
    """A fault that replaces the reply, as Vertex would show it: quota and 401s in Google's words."""
    if fault.kind == "server_error_plain":
        return web.Response(status=fault.status, text=fault.message, content_type="text/plain")
    if fault.kind in ("rate_limited", "resource_exhausted"):
        return google_error(429, _quota_message(fault), wrapped=fault.wrapped)
    if fault.status == 401:
        return google_error(401, UNAUTHENTICATED)
    headers = dict(fault.headers) if fault.kind == "http_error" else None
    return anthropic_error(ApiError(fault.status, fault.error_type, fault.message), request_id, headers)


def _quota_message(fault: Fault) -> str:
    if fault.kind == "resource_exhausted":
        return fault.message
    return "Quota exceeded for aiplatform.googleapis.com/online_prediction_tokens_per_minute_per_base_model."


def with_vertex_event(events: Sequence[SseEvent], usage: dict[str, Any]) -> list[SseEvent]:
    """The stream with Vertex's own usage report before ``message_stop``."""
    extra = SseEvent("vertex_event", {"type": "vertex_event", "usage": usage})
    out = list(events)
    out.insert(len(out) - 1 if out and out[-1].name == "message_stop" else len(out), extra)
    return out
