"""``AnthropicTransport``: the axio ``CompletionTransport`` for Claude. Owns IO, retries, timing."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Self
from urllib.parse import urlsplit

import aiohttp
from axio.events import IterationStart, StreamEvent
from axio.messages import Message
from axio.models import ModelRegistry, ModelSpec
from axio.tool import Tool
from axio.transport import CompletionTransport
from axio.types import Usage
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from . import auth, restore, settings
from .attempt import AttemptFailed, AttemptState, Timeouts, read_attempt
from .auth import ANTHROPIC_API_VERSION
from .backoff import retry_wait
from .decoder import MessageStreamDecoder
from .models import ANTHROPIC_MODELS, DEFAULT_MODEL
from .request import RequestOptions, build_body, encode_body
from .settings import DEFAULT_BASE_URL
from .telemetry import AttemptReport, Outcome, RequestInfo, RequestObserver, ResponseReport, TelemetryConfig
from .telemetry.call_labels import NO_LABELS, current_call_labels
from .telemetry.lifecycle import CompositeObserver

__all__ = ["ANTHROPIC_API_VERSION", "DEFAULT_BASE_URL", "AnthropicTransport"]

_SILENT: Final = CompositeObserver(())


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

    #: Usage of the latest turn, set when its stream ends or is closed (what the axio agent reads
    #: when it cuts a turn short). Shared by concurrent streams: per-turn figures are on IterationEnd.
    last_usage: Usage | None = field(default=None, init=False, repr=False, compare=False)
    _owned: aiohttp.ClientSession | None = field(default=None, init=False, repr=False, compare=False)
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False, compare=False)

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
        ) -> None: ...

    def __post_init__(self) -> None:
        settings.prepare(self)

    # ── the CompletionTransport protocol ────────────────────────────────────────────────────

    def build_payload(self, messages: list[Message], tools: list[Tool[Any]], system: str) -> dict[str, Any]:
        """The request body for this conversation. Pure: no IO, no state."""
        return build_body(self._options(), messages, tools, system)

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

    def _request_info(
        self,
        url: str,
        messages: list[Message],
        tools: list[Tool[Any]],
        system: str,
        parent: Context | None,
        labels: Mapping[str, str],
    ) -> RequestInfo:
        parts = urlsplit(url)
        return RequestInfo(
            model=self.model,
            url=url,
            server_address=parts.hostname or "",
            server_port=parts.port or (443 if parts.scheme == "https" else 80),
            max_tokens=self.max_tokens or self.model.max_output_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_attempts=self.max_retries + 1,
            content=partial(self.build_payload, messages, tools, system),
            parent=parent,
            call_labels=labels,
        )

    async def _stream(
        self,
        messages: list[Message],
        tools: list[Tool[Any]],
        system: str,
        parent: Context | None,
        labels: Mapping[str, str],
    ) -> AsyncIterator[StreamEvent]:
        body = encode_body(self.build_payload(messages, tools, system))
        headers = auth.request_headers(self)
        secrets = auth.secrets_of(self)
        url = f"{self.base_url.rstrip('/')}/messages"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline if self.deadline is not None else None
        timeouts = Timeouts(self.connect_timeout, self.first_byte_timeout, self.idle_timeout, deadline)
        telemetry = self.telemetry
        observer: RequestObserver = _SILENT
        if telemetry is not None:
            observer = telemetry.start(self._request_info(url, messages, tools, system, parent, labels))
        decoder = MessageStreamDecoder()
        attempt = 0
        outcome: Outcome = "error"
        error: BaseException | None = None
        session, own_session = self._session()
        try:
            committed = False
            while True:
                attempt += 1
                if attempt > 1:
                    # Each attempt reads a new response; the first uses the one made above.
                    decoder = MessageStreamDecoder()
                state = AttemptState()
                held: list[StreamEvent] = []
                sent = dict(headers)
                observer.attempt_started(attempt, sent)
                try:
                    batches = read_attempt(session, url, body, sent, decoder, timeouts, secrets, state)
                    try:
                        async for batch in batches:
                            if committed:
                                observer.chunk(batch)
                            else:
                                # message_start alone commits nothing: an error right after it
                                # is still retried, because the caller has not seen anything yet.
                                if all(type(e) is IterationStart for e in batch):
                                    held.extend(batch)
                                    continue
                                committed = True
                                batch = held + batch
                                observer.first_token(batch)
                            for event in batch:
                                yield event
                    finally:
                        await batches.aclose()
                    end = decoder.finish()
                    observer.attempt_ended(AttemptReport(attempt, state.status, state.request_id, state.headers))
                    # The turn is whole: a caller closing the stream from here on cancels nothing.
                    outcome = "ok"
                    if not committed:
                        for event in held:
                            yield event
                    yield end
                    return
                except AttemptFailed as failed:
                    failed.error.attempts = attempt
                    status = state.status if failed.error.status is None else failed.error.status
                    observer.attempt_ended(
                        AttemptReport(attempt, status, state.request_id, state.headers, failed.error, failed.reason)
                    )
                    wait = retry_wait(self, failed, attempt, committed, loop.time(), deadline)
                    if wait is None:
                        raise failed.error from failed.__cause__
                    delay, asked = wait
                    observer.backoff(attempt, failed.reason or "error", delay, asked)
                await asyncio.sleep(delay)
        except (asyncio.CancelledError, GeneratorExit):
            if outcome != "ok":
                outcome = "cancelled"
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            report = ResponseReport(decoder.message_id, decoder.model, decoder.stop_reason, decoder.counts, attempt)
            self.last_usage = report.counts.to_usage()
            observer.finished(outcome, report, error)
            if own_session:
                await session.close()


def _new_session() -> aiohttp.ClientSession:
    # trust_env: HTTP(S)_PROXY and NO_PROXY apply, as with the official SDK. A caller's own
    # session is used as it was made.
    return aiohttp.ClientSession(trust_env=True)
