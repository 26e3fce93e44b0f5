"""What a backend must answer. Pure where it can be: only ``prepare`` and ``authorize`` may do IO
(a credential lookup or a token refresh, off the event loop)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import AnthropicError
from ..sse import ServerSentEvent

__all__ = ["Backend", "CredentialRefresh", "ErrorBody", "Framing"]


class Framing(Protocol):
    """Response bytes to the events in them, as SSE names them: ``(event name, JSON bytes)``."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]: ...

    def flush(self) -> list[ServerSentEvent]:
        """At end of body: whatever a last unterminated frame completes."""
        ...


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error response said: its error type, message and request id, as far as it said."""

    error_type: str | None
    message: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialRefresh:
    """A credential refresh that ``authorize`` did (or tried) for this attempt: what telemetry counts."""

    seconds: float
    error: BaseException | None = None
    """Why it failed; ``None`` when fresh credentials were obtained."""


class Backend(Protocol):
    provider: str
    """``gen_ai.provider.name``: ``anthropic``, ``gcp.vertex_ai`` or ``aws.bedrock``."""
    content_type: str
    """What a 200 that carries the stream says it is."""
    request_id_header: str
    """The response header naming the request, for support tickets and traces."""

    async def prepare(self) -> None:
        """Load, once, what ``url()`` needs: Vertex AI's credentials, which may name the project.
        Called before ``url()`` in every ``stream()`` call; raises ``ConfigurationError``."""
        ...

    def url(self) -> str:
        """Where the stream is requested, for the transport's current model."""
        ...

    def shape(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The Messages API body as this backend takes it (Vertex and Bedrock move the model into
        the URL and name their own ``anthropic_version``)."""
        ...

    def headers(self) -> dict[str, str]:
        """The headers of every attempt, before ``authorize``."""
        ...

    async def authorize(self, url: str, headers: dict[str, str], body: bytes) -> CredentialRefresh | None:
        """Adds this attempt's credentials to ``headers``: a token, or a signature over exactly
        what is sent. Called before every attempt, so each retry is signed again. Returns the
        refresh it had to do first, if any (a failed one also raises)."""
        ...

    def rejected(self, status: int, error: AnthropicError) -> bool:
        """After a 401 or 403: whether the credentials were refused (not the caller's permissions)
        and one more attempt with fresh ones may succeed; if so, cached ones are forgotten. A
        static key would only be refused again, and a 403 for a missing permission is final."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Everything that must be scrubbed from what the server says back."""
        ...

    def framing(self) -> Framing:
        """A new framing decoder for one response."""
        ...

    def error_body(self, status: int, headers: Mapping[str, str], text: str) -> ErrorBody:
        """An error response's body, read in this backend's envelope."""
        ...
