"""Claude on Google Vertex AI: the Messages API behind ``:streamRawPredict``, with a Google token.

The body is the Messages body without ``model`` (it is in the URL) and with Vertex's
``anthropic_version``; the stream is the same SSE plus a ``vertex_event`` the decoder skips.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote
from weakref import WeakKeyDictionary

from google.auth.exceptions import GoogleAuthError, TransportError

from .. import auth, vertex_settings
from ..attempt import AttemptFailed
from ..errors import AnthropicError, APIConnectionError, ConfigurationError
from ..models import vertex_model_id
from ..redaction import without_secret
from ..sse import SSEDecoder
from ..vertex_settings import VERTEX_ANTHROPIC_VERSION
from .base import CredentialRefresh, ErrorBody, Framing
from .envelopes import anthropic_envelope, parse_json, quoted
from .google_credentials import GoogleCredentials, RefreshFailed
from .vertex_errors import google_envelope

if TYPE_CHECKING:
    from ..transport import AnthropicTransport

__all__ = ["RefreshAttemptFailed", "VertexAI"]

logger = logging.getLogger("axio_transport_anthropic")
#: Headers of the direct API that Google has no use for (the key would only leak).
_NOT_SENT: Final = ("anthropic-version", "x-api-key", "authorization")


class VertexAI:
    """``POST {root}/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:streamRawPredict``."""

    provider = "gcp.vertex_ai"
    content_type = "text/event-stream"
    #: None is documented for Vertex; an error body's ``request_id`` (``req_vrtx_…``) is used instead.
    request_id_header = "request-id"

    __slots__ = ("_credentials", "_location", "_project", "_root", "_sent", "_transport")

    def __init__(self, transport: AnthropicTransport, credentials: GoogleCredentials) -> None:
        self._transport = transport
        self._credentials = credentials
        self._location = vertex_settings.location_of(transport)
        self._root = vertex_settings.api_root(transport, self._location)
        self._project = vertex_settings.project_of(transport) or credentials.project or ""
        # The token each task sent last: after a 401, only that token is refused (another
        # stream may already have replaced it).
        self._sent: WeakKeyDictionary[asyncio.Task[Any], str] = WeakKeyDictionary()

    async def prepare(self) -> None:
        """Load the credentials (once), and learn the project from them when none was named."""
        if self._project and self._credentials.loaded:
            return
        try:
            await self._credentials.load()
        except (GoogleAuthError, OSError, ValueError) as exc:
            raise ConfigurationError(f"no Google credentials for Vertex AI: {exc}") from exc
        if not self._project:
            self._project = self._credentials.project or ""
        if not self._project:
            raise ConfigurationError(vertex_settings.NO_PROJECT)

    def url(self) -> str:
        if not self._project:
            raise ConfigurationError(vertex_settings.NO_PROJECT)
        model = quote(vertex_model_id(self._transport.model.id), safe="@")
        return (
            f"{self._root}/projects/{self._project}/locations/{self._location}"
            f"/publishers/anthropic/models/{model}:streamRawPredict"
        )

    def shape(self, payload: dict[str, Any]) -> dict[str, Any]:
        shaped = {"anthropic_version": VERTEX_ANTHROPIC_VERSION}
        shaped.update((key, value) for key, value in payload.items() if key != "model")
        return shaped

    def headers(self) -> dict[str, str]:
        headers = auth.request_headers(self._transport)
        for name in [name for name in headers if name.lower() in _NOT_SENT]:
            del headers[name]
        return headers

    async def authorize(self, url: str, headers: dict[str, str], body: bytes) -> CredentialRefresh | None:
        try:
            access, refresh = await self._credentials.token()
        except RefreshFailed as failed:
            raise _refresh_failure(failed, self.secrets()) from failed.refresh.error
        except (GoogleAuthError, OSError, ValueError) as exc:
            raise ConfigurationError(f"no Google credentials for Vertex AI: {exc}") from exc
        task = asyncio.current_task()
        if task is not None:
            self._sent[task] = access.token
        headers["authorization"] = f"Bearer {access.token}"
        if access.quota_project:
            headers["x-goog-user-project"] = access.quota_project
        return refresh

    def rejected(self, status: int, error: AnthropicError) -> bool:
        if status != 401:
            return False  # Google's 403 is PERMISSION_DENIED: a new token has the same roles
        task = asyncio.current_task()
        self._credentials.refuse(self._sent.pop(task, None) if task is not None else None)
        logger.info("Vertex AI refused the access token (401): refreshing it for one more attempt")
        return True

    def secrets(self) -> tuple[str, ...]:
        return (*auth.secrets_of(self._transport), *self._credentials.tokens())

    def framing(self) -> Framing:
        return SSEDecoder()

    def error_body(self, status: int, headers: Mapping[str, str], text: str) -> ErrorBody:
        parsed = parse_json(text)
        return google_envelope(parsed) or anthropic_envelope(parsed) or quoted(text)


class RefreshAttemptFailed(AttemptFailed):
    """An attempt that ended before sending: no token could be had. ``refresh`` is the failed
    refresh, for telemetry to count as it counts the ones ``authorize`` returns."""

    refresh: CredentialRefresh

    def __init__(self, error: AnthropicError, refresh: CredentialRefresh, *, retryable: bool) -> None:
        super().__init__(error, retryable=retryable, reason="connection_error" if retryable else None, refresh=refresh)


def _refresh_failure(failed: RefreshFailed, secrets: tuple[str, ...]) -> RefreshAttemptFailed:
    """A token endpoint out of reach is retried like a connection error; a refusal is final."""
    cause = failed.refresh.error
    message = f"could not refresh the Google access token: {type(cause).__name__}: {cause}"
    for secret in secrets:
        message = without_secret(message, secret)
    if isinstance(cause, TransportError) or getattr(cause, "retryable", False):
        return RefreshAttemptFailed(APIConnectionError(message), failed.refresh, retryable=True)
    error = AnthropicError(message, error_type="authentication_error")
    return RefreshAttemptFailed(error, failed.refresh, retryable=False)
