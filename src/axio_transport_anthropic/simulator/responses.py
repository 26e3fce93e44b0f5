"""Whole (non-streamed) HTTP responses: JSON bodies, API errors and injected HTTP faults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .faults import Fault
from .wire import STATUS_BY_ERROR_TYPE, ApiError, dumps, error_body

__all__ = ["error_response", "fault_response", "json_response", "stream_error_as_http"]


def json_response(payload: Any, headers: Mapping[str, str], status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(payload).encode(), headers=headers, content_type="application/json")


def error_response(error: ApiError, request_id: str, headers: Mapping[str, str]) -> web.Response:
    return json_response(error_body(error.error_type, error.message, request_id), headers, error.status)


def fault_response(fault: Fault, request_id: str, headers: Mapping[str, str]) -> web.Response:
    """The response for a fault that replaces the whole reply (not resets: those send nothing)."""
    if fault.kind == "server_error_plain":
        # A proxy in front of the API answers here, so none of the API's own headers are present.
        return web.Response(status=fault.status, text=fault.message, content_type="text/plain")
    merged = {**headers, **dict(fault.headers)}
    return error_response(ApiError(fault.status, fault.error_type, fault.message), request_id, merged)


def stream_error_as_http(fault: Fault) -> ApiError:
    """What a non-streaming request gets for an error that a stream would report in-band."""
    return ApiError(STATUS_BY_ERROR_TYPE.get(fault.error_type, 500), fault.error_type, fault.message)
