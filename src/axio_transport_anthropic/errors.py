"""What this transport raises. Every failure is an ``axio.exceptions.StreamError``.

Each one says what the API said (status, Anthropic error type and message), which request it
was (the ``request-id`` to quote to Anthropic support) and how many attempts were made.
"""

from __future__ import annotations

from typing import Literal

from axio.exceptions import StreamError

from .redaction import mask_keys

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AnthropicError",
    "ConfigurationError",
    "InStreamError",
    "ProtocolError",
]

TimeoutPhase = Literal["connect", "first_byte", "idle", "deadline"]


class ConfigurationError(ValueError):
    """A setting this transport cannot work with, named in the message."""


class AnthropicError(StreamError):
    """Base of every error a request can end with."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.request_id = request_id
        self.attempts = attempts

    # Both masked: the message is scrubbed of the transport's own key where it is made, but a
    # host prints an error in every way there is, and a server can quote any key back.
    def __str__(self) -> str:
        parts = [f"Anthropic {self._what()}: {self.message}"]
        if self.request_id:
            parts.append(f"request-id {self.request_id}")
        parts.append(f"after {self.attempts} attempt{'s' if self.attempts != 1 else ''}")
        return mask_keys("; ".join(parts))

    def __repr__(self) -> str:
        return mask_keys(
            f"{type(self).__name__}(status={self.status!r}, error_type={self.error_type!r}, "
            f"request_id={self.request_id!r}, attempts={self.attempts}, message={self.message!r})"
        )

    def _what(self) -> str:
        head = f"HTTP {self.status}" if self.status is not None else "request failed"
        return f"{head} {self.error_type}" if self.error_type else head


class APIStatusError(AnthropicError):
    """The API answered with a status other than 200."""


class InStreamError(AnthropicError):
    """An ``error`` event inside a 200 stream, e.g. ``overloaded_error`` mid-answer."""

    def _what(self) -> str:
        return f"in-stream error {self.error_type or 'unknown'}"


class ProtocolError(AnthropicError):
    """The stream broke the Messages API format: bad JSON, or a body that ended mid-turn."""

    def _what(self) -> str:
        return "protocol error"


class APIConnectionError(AnthropicError):
    """The connection failed or was cut before the turn was complete."""

    def _what(self) -> str:
        return "connection error"


class APITimeoutError(APIConnectionError):
    """A configured timeout ran out; ``phase`` says which one."""

    def __init__(self, message: str, *, phase: TimeoutPhase, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.phase: TimeoutPhase = phase

    def _what(self) -> str:
        return f"{self.phase.replace('_', ' ')} timeout"
