"""Amazon Bedrock's InvokeModelWithResponseStream: the Anthropic wire inside AWS event-stream frames.

``POST {endpoint}/model/{model id}/invoke-with-response-stream``, signed with SigV4 (service
``bedrock``) or sent with a Bedrock API key as a Bearer token. The body is the Messages API body
without ``model`` and ``stream``, naming Bedrock's ``anthropic_version``; betas go in the body.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from yarl import URL

from .. import bedrock_settings
from ..attempt import AttemptFailed
from ..errors import AnthropicError, ConfigurationError
from .aws_credentials import AwsCredentials, CredentialsUnavailable, Frozen
from .base import CredentialRefresh, ErrorBody, Framing
from .bedrock_errors import bedrock_error, stale_credentials
from .bedrock_stream import BedrockEventStream
from .sigv4 import load_signer, sign

if TYPE_CHECKING:
    from ..bedrock_transport import BedrockTransport

__all__ = ["BEDROCK_ANTHROPIC_VERSION", "Bedrock"]

BEDROCK_ANTHROPIC_VERSION: Final = "bedrock-2023-05-31"
_USER_AGENT: Final = "axio-transport-anthropic/0.13"
#: Signatures kept for scrubbing: an echo of the request's headers would quote a recent one.
_RECENT: Final = 8


class Bedrock:
    """Claude on Amazon Bedrock, for the transport's region, endpoint and credentials."""

    provider = "aws.bedrock"
    content_type = "application/vnd.amazon.eventstream"
    request_id_header = "x-amzn-RequestId"

    __slots__ = ("_credentials", "_region", "_signatures", "_transport")

    def __init__(self, transport: BedrockTransport, credentials: AwsCredentials) -> None:
        self._transport = transport
        self._credentials = credentials
        self._signatures: deque[str] = deque(maxlen=_RECENT)
        # Given, or from the environment; the profile's config may still name one (see prepare).
        self._region = transport.aws_region or bedrock_settings.env_region()

    @staticmethod
    def credentials_for(t: BedrockTransport) -> AwsCredentials:
        """The transport's keys, or the default chain for its profile."""
        static = Frozen(t.aws_access_key_id, t.aws_secret_access_key, t.aws_session_token or None)
        return AwsCredentials(t.aws_profile, static if t.aws_access_key_id else None)

    @property
    def region(self) -> str:
        """The region requests are signed for (and sent to, without an endpoint override)."""
        return self._region or bedrock_settings.DEFAULT_REGION

    async def prepare(self) -> None:
        if self._region:
            return
        # Off the event loop: botocore's import and the AWS config file (the profile's region).
        try:
            self._region = await asyncio.to_thread(self._load)
        except CredentialsUnavailable as exc:
            raise ConfigurationError(exc.message) from exc

    def _load(self) -> str:
        if not self._transport.api_key:
            load_signer()
        return bedrock_settings.config_region(self._transport.aws_profile)

    def url(self) -> str:
        # The SDK's quoting (":" kept, "/" of an ARN as %2F), then the form yarl, and so aiohttp,
        # writes on the wire: the signature covers the path exactly as it is sent.
        model = quote(self._transport.model.id, safe=":")
        root = bedrock_settings.endpoint(self._transport, self.region)
        return str(URL(f"{root}/model/{model}/invoke-with-response-stream"))

    def shape(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = {key: value for key, value in payload.items() if key not in ("model", "stream")}
        body["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
        if betas := self._betas():
            body["anthropic_beta"] = betas
        return body

    def headers(self) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": self.content_type,
            "user-agent": _USER_AGENT,
        }
        for name, value in self._transport.default_headers.items():
            if name.lower() != "anthropic-beta":
                headers.pop(name.lower(), None)
                headers[name] = value
        return headers

    async def authorize(self, url: str, headers: dict[str, str], body: bytes) -> CredentialRefresh | None:
        t = self._transport
        if t.api_key:
            headers["Authorization"] = f"Bearer {t.api_key}"
            return None
        try:
            credentials, refresh = await self._credentials.get()
        except CredentialsUnavailable as exc:
            raise AttemptFailed(exc, retryable=exc.transient, reason="connection_error", refresh=exc.refresh) from exc
        self._signatures.append(sign(credentials, self.region, url, headers, body))
        return refresh

    async def check_credentials(self) -> None:
        """Resolve credentials now (off the event loop); raises ``CredentialsUnavailable``."""
        if not self._transport.api_key:
            await self._credentials.get()

    def rejected(self, status: int, error: AnthropicError) -> bool:
        if self._transport.api_key:
            return False  # a Bedrock API key is a setting: refused once, refused again
        if status == 403 and not stale_credentials(error.error_type, error.message):
            return False  # AccessDeniedException and the like: the permissions, not the keys
        # Keys rotated (or a session revoked) before their expiry, or a signature gone stale:
        # walk the chain again and sign anew.
        return self._credentials.forget()

    def secrets(self) -> tuple[str, ...]:
        t = self._transport
        given = (t.api_key, t.aws_access_key_id, t.aws_secret_access_key, t.aws_session_token)
        return tuple(s for s in (*given, *self._credentials.secrets(), *self._signatures) if s)

    def framing(self) -> Framing:
        return BedrockEventStream()

    def error_body(self, status: int, headers: Mapping[str, str], text: str) -> ErrorBody:
        return bedrock_error(headers, text)

    def _betas(self) -> list[str]:
        betas: list[str] = []
        for name, value in self._transport.default_headers.items():
            if name.lower() == "anthropic-beta":
                betas.extend(b.strip() for b in value.split(",") if b.strip())
        betas.extend(self._transport.betas)
        return list(dict.fromkeys(betas))
