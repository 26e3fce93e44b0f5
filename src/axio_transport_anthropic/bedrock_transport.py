"""``BedrockTransport``: Claude on Amazon Bedrock, with the same streaming, retries and telemetry.

Only where requests go and how they are signed differ from ``AnthropicTransport``: that is the
``Bedrock`` backend. botocore is imported when a request is signed (or a region looked up), never
on importing this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import aiohttp
from axio.models import ModelRegistry, ModelSpec

from . import bedrock_restore, bedrock_settings
from .backends import Backend
from .backends.aws_credentials import AwsCredentials
from .bedrock_settings import BEDROCK_DEFAULT_MODEL, BEDROCK_MODELS
from .telemetry import TelemetryConfig
from .transport import AnthropicTransport

__all__ = ["BedrockTransport"]


@dataclass(slots=True)
class BedrockTransport(AnthropicTransport):
    """Streams Claude over Amazon Bedrock's InvokeModelWithResponseStream."""

    display_name: ClassVar[str] = "Anthropic Bedrock"
    #: Where a Bedrock API key or AWS keys are usually found (the chain has more places).
    env_vars: ClassVar[tuple[str, ...]] = ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_PROFILE")
    default_models: ClassVar[dict[str, str]] = {"chat": BEDROCK_DEFAULT_MODEL, "vision": BEDROCK_DEFAULT_MODEL}

    name: str = "Anthropic Bedrock"
    base_url: str = field(default_factory=bedrock_settings.env_endpoint)
    """The endpoint; empty: ``https://bedrock-runtime.{aws_region}.amazonaws.com``."""
    api_key: str = field(default_factory=bedrock_settings.env_api_key, repr=False)
    """A Bedrock API key, sent as ``Authorization: Bearer`` instead of a SigV4 signature."""
    model: ModelSpec = field(default_factory=lambda: BEDROCK_MODELS[BEDROCK_DEFAULT_MODEL])
    models: ModelRegistry = field(default_factory=lambda: ModelRegistry(BEDROCK_MODELS.values()))
    auth_token: str = field(default="", repr=False, kw_only=True)
    aws_region: str = field(default="", kw_only=True)
    """Empty: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile's config, else us-east-1."""
    aws_profile: str = field(default="", kw_only=True)
    """Empty: botocore's default (``AWS_PROFILE``, else ``default``)."""
    aws_access_key_id: str = field(default="", repr=False, kw_only=True)
    aws_secret_access_key: str = field(default="", repr=False, kw_only=True)
    aws_session_token: str = field(default="", repr=False, kw_only=True)
    #: The AWS credentials, shared with copies (axio's model switch) so they resolve once.
    _aws: AwsCredentials | None = field(default=None, init=False, repr=False, compare=False)

    if TYPE_CHECKING:

        def __init__(
            self,
            name: str = ...,
            base_url: str = ...,
            api_key: str = ...,
            model: ModelSpec | str = ...,
            models: ModelRegistry = ...,
            session: aiohttp.ClientSession | None = ...,
            temperature: float | None = ...,
            top_p: float | None = ...,
            top_k: int | None = ...,
            thinking_budget: int | None = ...,
            max_tokens: int | None = ...,
            max_retries: int = ...,
            retry_base_delay: float = ...,
            retry_max_delay: float = ...,
            connect_timeout: float | None = ...,
            first_byte_timeout: float | None = ...,
            idle_timeout: float | None = ...,
            deadline: float | None = ...,
            prompt_caching: bool = ...,
            cache_ttl: Literal["5m", "1h"] = ...,
            telemetry: TelemetryConfig | None = ...,
            *,
            auth_token: str = ...,
            default_headers: Mapping[str, str] = ...,
            betas: Sequence[str] = ...,
            aws_region: str = ...,
            aws_profile: str = ...,
            aws_access_key_id: str = ...,
            aws_secret_access_key: str = ...,
            aws_session_token: str = ...,
        ) -> None: ...

    def __post_init__(self) -> None:
        bedrock_settings.prepare(self)

    def _make_backend(self) -> Backend:
        from .backends.bedrock import Bedrock

        if self._aws is None:
            self._aws = Bedrock.credentials_for(self)
        return Bedrock(self, self._aws)

    async def fetch_models(self) -> None:
        """Reset ``models`` to the bundled catalogue under Bedrock's ids. No network."""
        self.models = ModelRegistry(BEDROCK_MODELS.values())

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        return bedrock_restore.dump(self, redact=redact)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, session: aiohttp.ClientSession | None = None) -> Self:
        return bedrock_restore.restore(cls, data, session=session)

    @classmethod
    @asynccontextmanager
    async def open_for_app(cls, *, session: aiohttp.ClientSession | None = None, **saved: Any) -> AsyncIterator[Self]:
        """What axio-tui opens: restored as ``from_dict`` does, then refused when no credentials
        resolve (looked up off the event loop), so the app lists it as unavailable and says why."""
        own = {key: value for key, value in saved.items() if not key.startswith("_")}
        transport = bedrock_restore.restore(cls, own, session=session)
        await bedrock_restore.require_credentials(transport)
        async with transport:
            yield transport
