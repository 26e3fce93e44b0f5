"""``AnthropicTransport``: the axio ``CompletionTransport`` for Claude. Owns IO, retries, timing."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import aiohttp
from axio.events import StreamEvent
from axio.messages import Message
from axio.models import ModelRegistry, ModelSpec
from axio.tool import Tool
from axio.transport import CompletionTransport
from axio.types import Usage
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from . import auth, restore, settings, vertex_settings
from .auth import ANTHROPIC_API_VERSION
from .backends import AnthropicAPI, Backend
from .models import ANTHROPIC_MODELS, DEFAULT_MODEL
from .request import RequestOptions, build_body
from .settings import DEFAULT_BASE_URL
from .streaming import stream_events
from .telemetry import TelemetryConfig
from .telemetry.call_labels import NO_LABELS, current_call_labels
from .vertex_settings import VERTEX_ANTHROPIC_VERSION

if TYPE_CHECKING:
    from .backends.google_credentials import GoogleCredentials

__all__ = [
    "ANTHROPIC_API_VERSION",
    "DEFAULT_BASE_URL",
    "VERTEX_ANTHROPIC_VERSION",
    "AnthropicTransport",
    "VertexAITransport",
]


@dataclass(slots=True)
class AnthropicTransport(CompletionTransport):
    """Streams Claude over the Messages API, with retries an operator can reason about."""

    display_name: ClassVar[str] = "Anthropic"
    env_vars: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    #: What axio-tui chats with until a model is picked; else the catalogue's first (and dearest).
    default_models: ClassVar[dict[str, str]] = {"chat": DEFAULT_MODEL, "vision": DEFAULT_MODEL}
    supports_max_tokens: ClassVar[bool] = False
    supports_debug: ClassVar[bool] = False

    name: str = "Anthropic"
    base_url: str = field(default_factory=settings.env_base_url)
    api_key: str = field(default_factory=auth.env_api_key, repr=False)
    model: ModelSpec = field(default_factory=lambda: ANTHROPIC_MODELS[DEFAULT_MODEL])
    models: ModelRegistry = field(default_factory=lambda: ModelRegistry(ANTHROPIC_MODELS.values()))
    session: aiohttp.ClientSession | None = field(default=None, repr=False, compare=False)
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    thinking_budget: int | None = None
    max_tokens: int | None = None
    max_retries: int = 10
    retry_base_delay: float = 5.0
    retry_max_delay: float = 60.0
    connect_timeout: float | None = 10.0
    first_byte_timeout: float | None = 120.0
    idle_timeout: float | None = 120.0
    deadline: float | None = None
    prompt_caching: bool = True
    cache_ttl: Literal["5m", "1h"] = "5m"
    telemetry: TelemetryConfig | None = field(default_factory=TelemetryConfig, repr=False, compare=False)
    """Where traces, metrics and logs go; ``None`` turns them off."""
    auth_token: str = field(default_factory=auth.env_auth_token, repr=False, kw_only=True)
    """Sent as ``Authorization: Bearer``, for gateways."""
    default_headers: Mapping[str, str] = field(default_factory=dict, repr=False, kw_only=True)
    """Sent with every request, over the transport's own (a gateway's headers)."""
    betas: tuple[str, ...] = field(default=(), kw_only=True)
    """Sent as ``anthropic-beta``."""
    vertexai: bool = field(default=False, kw_only=True)
    """Claude on Google Vertex AI, with Google credentials (also read from "true"/"1", as 0.12.2)."""
    project: str = field(default="", kw_only=True)
    """Vertex AI: the Google Cloud project; blank: the environment's, else the credentials'."""
    location: str = field(default="", kw_only=True)
    """Vertex AI: a region, ``us``/``eu`` or ``global``; blank: ``CLOUD_ML_REGION``, else ``global``."""

    #: Usage of the latest turn, set when its stream ends or is closed (what the axio agent reads
    #: when it cuts a turn short). Shared by concurrent streams: per-turn figures are on IterationEnd.
    last_usage: Usage | None = field(default=None, init=False, repr=False, compare=False)
    _owned: aiohttp.ClientSession | None = field(default=None, init=False, repr=False, compare=False)
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False, compare=False)
    _backend: Backend | None = field(default=None, init=False, repr=False, compare=False)
    #: Whom ``_backend`` was made for: a ``copy.copy`` (axio's model switch) needs its own.
    _backend_for: int = field(default=0, init=False, repr=False, compare=False)
    #: Vertex AI's credentials, shared with copies so they are loaded and refreshed once.
    _google: GoogleCredentials | None = field(default=None, init=False, repr=False, compare=False)

    if TYPE_CHECKING:
        # What a caller may pass where the attribute then holds another type (a model by its id).
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
            vertexai: bool | str = ...,
            project: str = ...,
            location: str = ...,
        ) -> None: ...

    def __post_init__(self) -> None:
        vertex_settings.prepare(self)
        settings.prepare(self)

    # ── the CompletionTransport protocol ────────────────────────────────────────────────────

    def build_payload(self, messages: list[Message], tools: list[Tool[Any]], system: str) -> dict[str, Any]:
        """The request body for this conversation, as the backend takes it. Pure: no IO."""
        return self.backend().shape(build_body(self._options(), messages, tools, system))

    def backend(self) -> Backend:
        """Where requests go and how they are signed: made once, it keeps any credentials it loads."""
        if self._backend is None or self._backend_for != id(self):
            self._backend, self._backend_for = self._make_backend(), id(self)
        return self._backend

    def _make_backend(self) -> Backend:
        if self.vertexai:
            from .backends.google_credentials import GoogleCredentials
            from .backends.vertex import VertexAI

            if self._google is None:
                self._google = GoogleCredentials()
            return VertexAI(self, self._google)
        return AnthropicAPI(self)

    def stream(self, messages: list[Message], tools: list[Tool[Any]], system: str) -> AsyncIterator[StreamEvent]:
        # The caller's context now, where the call is made: the request span's parent and the
        # call labels. The generator never makes a context current, so the caller's stays its own.
        if self.telemetry is None:
            return self._stream(messages, tools, system, None, NO_LABELS)
        return self._stream(messages, tools, system, otel_context.get_current(), current_call_labels())

    async def fetch_models(self) -> None:
        """Reset ``models`` to the bundled catalogue. No network: the catalogue carries prices."""
        self.models = ModelRegistry(ANTHROPIC_MODELS.values())

    # ── settings ────────────────────────────────────────────────────────────────────────────

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        """The settings, for saving and restoring. ``redact=True`` for anything shown or logged."""
        return restore.dump(self, redact=redact)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, session: aiohttp.ClientSession | None = None) -> Self:
        """Rebuild from ``to_dict()``. Unknown or unreadable values are skipped with a warning;
        a missing key is only warned about here, and refused by ``stream()``."""
        return restore.restore(cls, data, session=session, require_credentials=False)

    @classmethod
    @asynccontextmanager
    async def open_for_app(cls, *, session: aiohttp.ClientSession | None = None, **saved: Any) -> AsyncIterator[Self]:
        """What axio-tui opens with the settings it saved (strings, and its own ``_`` keys):
        restored as ``from_dict`` does, but without a credential the transport is refused, so
        the app lists it as unavailable and says why."""
        own = {key: value for key, value in saved.items() if not key.startswith("_")}
        transport = restore.restore(cls, own, session=session, require_credentials=True)
        if transport.vertexai:
            # Google credentials and the project they name, found now: without them the app
            # lists the transport as unavailable and says why.
            await transport.backend().prepare()
        async with transport:
            yield transport

    # ── session ownership ───────────────────────────────────────────────────────────────────

    async def __aenter__(self) -> Self:
        """Keep one pooled connection session for the block, when the caller passed none."""
        if self.session is None and self._owned is None:
            self._owned = _new_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session this transport opened itself; a caller's session is left alone."""
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.close()

    def _session(self) -> tuple[aiohttp.ClientSession, bool]:
        """The session for one call, and whether the call must close it: neither given nor
        opened by ``async with``, one is made for the call and closed with it."""
        if self.session is not None:
            return self.session, False
        if self._owned is not None and not self._owned.closed:
            return self._owned, False
        return _new_session(), True

    # ── streaming ───────────────────────────────────────────────────────────────────────────

    def _options(self) -> RequestOptions:
        return RequestOptions(
            model=self.model.id,
            max_tokens=self.max_tokens or self.model.max_output_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            thinking_budget=self.thinking_budget,
            prompt_caching=self.prompt_caching,
            cache_ttl=self.cache_ttl,
        )

    def _stream(
        self,
        messages: list[Message],
        tools: list[Tool[Any]],
        system: str,
        parent: Context | None,
        labels: Mapping[str, str],
    ) -> AsyncIterator[StreamEvent]:
        return stream_events(self, messages, tools, system, parent, labels)


def _new_session() -> aiohttp.ClientSession:
    # trust_env: HTTP(S)_PROXY and NO_PROXY apply, as with the official SDK. A caller's own
    # session is used as it was made.
    return aiohttp.ClientSession(trust_env=True)


@dataclass(slots=True)
class VertexAITransport(AnthropicTransport):
    """Claude on Google Vertex AI: ``AnthropicTransport`` with ``vertexai=True``. Listed by axio
    as "Anthropic Vertex AI", chosen by name only (it needs a project, not an API key)."""

    display_name: ClassVar[str] = "Anthropic Vertex AI"
    env_vars: ClassVar[tuple[str, ...]] = ("GOOGLE_CLOUD_PROJECT",)
    auto_select: ClassVar[bool] = False

    name: str = "Anthropic Vertex AI"
    vertexai: bool = field(default=True, kw_only=True)
