"""Request checks in the order the API applies them, reported with the API's error types."""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from typing import Any, Final

from .wire import ApiError

__all__ = ["check_headers", "check_message_request", "parse_json"]

_VERSIONS: Final = frozenset({"2023-06-01", "2023-01-01"})


def check_headers(headers: Mapping[str, str], api_key: str | None) -> ApiError | None:
    """`headers` has lower-case names."""
    key = headers.get("x-api-key", "")
    if not key:
        return ApiError(401, "authentication_error", "x-api-key header is required")
    if api_key is not None and key != api_key:
        return ApiError(401, "authentication_error", "invalid x-api-key")
    version = headers.get("anthropic-version")
    if version is None:
        return ApiError(400, "invalid_request_error", "anthropic-version: header is required")
    if version not in _VERSIONS:
        return ApiError(400, "invalid_request_error", f'anthropic-version: "{version}" is not a valid version')
    return None


def parse_json(raw: bytes) -> tuple[Any, ApiError | None]:
    try:
        return json.loads(raw), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, ApiError(400, "invalid_request_error", f"The request body is not valid JSON: {exc}")


def check_message_request(body: Any, models: Container[str]) -> ApiError | None:
    if not isinstance(body, Mapping):
        return _invalid("The request body must be a JSON object")
    model = body.get("model")
    if model is None:
        return _invalid("model: Field required")
    if not isinstance(model, str):
        return _invalid("model: Input should be a valid string")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        return _invalid("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        return _invalid("max_tokens: Input should be an integer greater than or equal to 1")
    messages = body.get("messages")
    if messages is None:
        return _invalid("messages: Field required")
    if not isinstance(messages, list) or not messages:
        return _invalid("messages: at least one message is required")
    for index, message in enumerate(messages):
        problem = _check_message(index, message)
        if problem is not None:
            return problem
    if "stream" in body and not isinstance(body["stream"], bool):
        return _invalid("stream: Input should be a valid boolean")
    if model not in models:
        return ApiError(404, "not_found_error", f"model: {model}")
    return None


def _check_message(index: int, message: Any) -> ApiError | None:
    if not isinstance(message, Mapping):
        return _invalid(f"messages.{index}: Input should be an object")
    if message.get("role") not in ("user", "assistant"):
        return _invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
    content = message.get("content")
    if content is None:
        return _invalid(f"messages.{index}.content: Field required")
    if not isinstance(content, str | list):
        return _invalid(f"messages.{index}.content: Input should be a string or a list of content blocks")
    return None


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)
