"""Anthropic's own Messages API (or a gateway in front of it): SSE, a key or a Bearer token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import auth
from ..errors import AnthropicError
from ..sse import SSEDecoder
from .base import CredentialRefresh, ErrorBody, Framing
from .envelopes import anthropic_envelope, parse_json, quoted

if TYPE_CHECKING:
    from ..transport import AnthropicTransport

__all__ = ["AnthropicAPI"]


class AnthropicAPI:
    """``POST {base_url}/messages`` with the transport's key, token and headers."""

    provider = "anthropic"
    content_type = "text/event-stream"
    request_id_header = "request-id"

    __slots__ = ("_transport",)

    def __init__(self, transport: AnthropicTransport) -> None:
        self._transport = transport

    async def prepare(self) -> None:
        return None  # the key or token is a setting: nothing to load

    def url(self) -> str:
        return f"{self._transport.base_url.rstrip('/')}/messages"

    def shape(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    def headers(self) -> dict[str, str]:
        return auth.request_headers(self._transport)

    async def authorize(self, url: str, headers: dict[str, str], body: bytes) -> CredentialRefresh | None:
        return None  # the key or token is in headers() already: nothing expires

    def rejected(self, status: int, error: AnthropicError) -> bool:
        return False  # a static key refused once is refused again; a 403 is a permission

    def secrets(self) -> tuple[str, ...]:
        return auth.secrets_of(self._transport)

    def framing(self) -> Framing:
        return SSEDecoder()

    def error_body(self, status: int, headers: Mapping[str, str], text: str) -> ErrorBody:
        return anthropic_envelope(parse_json(text)) or quoted(text)
