"""What the simulator's Bedrock route sends: rest-json errors, event-stream frames, and the shapes
the existing faults take on Bedrock (a 529 has no Bedrock form: it becomes a 503)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from ..backends.eventstream import encode_frame
from .faults import Fault
from .wire import dumps

__all__ = [
    "chunk_frame",
    "exception_frame",
    "fault_error",
    "request_id",
    "rest_error",
    "stream_exception_type",
]

#: Bedrock's error type per status, for faults that name an Anthropic one.
_TYPE_BY_STATUS: Final = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_MESSAGES: Final = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
    "InternalServerException": "The server encountered an internal error while processing the request.",
}
#: An in-stream Anthropic error type as Bedrock's in-stream exception reports it.
_EXCEPTION_OF: Final = {
    "rate_limit_error": "throttlingException",
    "overloaded_error": "serviceUnavailableException",
    "api_error": "internalServerException",
    "timeout_error": "modelTimeoutException",
    "invalid_request_error": "validationException",
}
_CHUNK_HEADERS: Final = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}


def request_id(seed: str) -> str:
    """A UUID, as Bedrock's ``x-amzn-RequestId`` is, made from the simulator's own id."""
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def rest_error(
    status: int, error_type: str, message: str, rid: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An error before the stream, as Bedrock's rest-json protocol writes it."""
    return web.Response(
        status=status,
        body=dumps({"message": message}).encode(),
        content_type="application/json",
        headers={
            **(headers or {}),
            "x-amzn-RequestId": rid,
            "x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        },
    )


def fault_error(fault: Fault) -> tuple[int, str, str]:
    """Status, Bedrock error type and message for a fault that replaces the response."""
    status = 503 if fault.kind == "overloaded" else fault.status
    kind = fault.error_type if fault.error_type.endswith("Exception") else None
    kind = (
        kind or _TYPE_BY_STATUS.get(status) or ("InternalServerException" if status >= 500 else "ValidationException")
    )
    return status, kind, _MESSAGES.get(kind, fault.message)


def stream_exception_type(error_type: str) -> str:
    """The ``:exception-type`` an in-stream fault is sent as (a Bedrock type is kept as given)."""
    if error_type.endswith("Exception"):
        return error_type
    return _EXCEPTION_OF.get(error_type, "modelStreamErrorException")


def chunk_frame(data: Mapping[str, Any]) -> bytes:
    encoded = dumps(data).encode()
    # Bedrock pads each chunk with "p" so that lengths do not reveal the text; clients ignore it.
    padding = "abcdefghijklmnopqrstuvwxyz"[: len(encoded) % 26]
    payload = dumps({"bytes": base64.b64encode(encoded).decode(), "p": padding}).encode()
    return encode_frame(_CHUNK_HEADERS, payload)


def exception_frame(exception_type: str, message: str) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_frame(headers, dumps({"message": message}).encode())
