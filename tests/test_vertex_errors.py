"""Vertex AI's error bodies read into one shape: Google's envelope (plain or in a one-element
array), Anthropic's envelope behind it, anything else quoted."""

from __future__ import annotations

import json

import pytest

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.backends import ErrorBody
from axio_transport_anthropic.retry import STATUS_OF_ERROR_TYPE, reason_for, should_retry

QUOTA = {
    "error": {
        "code": 429,
        "message": "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model",
        "status": "RESOURCE_EXHAUSTED",
    }
}


def read(status: int, body: object) -> ErrorBody:
    backend = AnthropicTransport(vertexai=True, project="p").backend()
    text = body if isinstance(body, str) else json.dumps(body)
    return backend.error_body(status, {}, text)


@pytest.mark.parametrize("body", [QUOTA, [QUOTA]], ids=["plain", "array"])
def test_resource_exhausted_reads_as_a_rate_limit_retried_like_a_429(body: object) -> None:
    said = read(429, body)
    assert said.error_type == "rate_limit_error"
    assert said.message.startswith("RESOURCE_EXHAUSTED: Quota exceeded for aiplatform.googleapis.com/")
    assert STATUS_OF_ERROR_TYPE[said.error_type] == 429
    assert should_retry(429) and reason_for(429) == "rate_limited"


@pytest.mark.parametrize(
    ("status", "google_status", "error_type"),
    [
        (401, "UNAUTHENTICATED", "authentication_error"),
        (403, "PERMISSION_DENIED", "permission_error"),
        (404, "NOT_FOUND", "not_found_error"),
        (400, "INVALID_ARGUMENT", "invalid_request_error"),
        (503, "UNAVAILABLE", "api_error"),
        (504, "DEADLINE_EXCEEDED", "timeout_error"),
    ],
)
def test_googles_statuses_read_as_anthropics_error_types(status: int, google_status: str, error_type: str) -> None:
    said = read(status, {"error": {"code": status, "message": "why", "status": google_status}})
    assert (said.error_type, said.message) == (error_type, f"{google_status}: why")


def test_anthropics_envelope_behind_vertex_keeps_its_request_id() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_vrtx_1"}
    assert read(529, body) == ErrorBody("overloaded_error", "Overloaded", "req_vrtx_1")


def test_anything_else_is_quoted() -> None:
    assert read(502, "<html><title>502 Bad Gateway</title></html>") == ErrorBody(None, "502 Bad Gateway")
    assert read(500, [1, 2]).error_type is None
    assert read(500, {"error": {"code": "x"}}).error_type is None
