"""``AnthropicTransport``: the axio ``CompletionTransport`` for Claude. Owns IO, retries, timing."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Final, Literal, Self
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

from . import settings
from .attempt import AttemptFailed, AttemptState, Timeouts, read_attempt
from .decoder import MessageStreamDecoder
from .errors import APITimeoutError, ConfigurationError
from .models import ANTHROPIC_MODELS, DEFAULT_MODEL
from .request import RequestOptions, build_body, encode_body
from .retry import retry_delay
from .telemetry import AttemptReport, Outcome, RequestInfo, ResponseReport, TelemetryConfig
from .telemetry.lifecycle import CompositeObserver

__all__ = ["ANTHROPIC_API_VERSION", "DEFAULT_BASE_URL", "AnthropicTransport"]

logger = logging.getLogger("axio_transport_anthropic")

ANTHROPIC_API_VERSION: Final = "2023-06-01"
DEFAULT_BASE_URL: Final = "https://api.anthropic.com/v1"
#: A server asking for a longer wait than this is not waited for: the caller hears about it now.
_LONGEST_SERVER_WAIT: Final = 900.0
_USER_AGENT: Final = "axio-transport-anthropic/0.13"
_SILENT: Final = CompositeObserver(())


@dataclass(slots=True)
class AnthropicTransport(CompletionTransport):
    """Streams Claude over the Messages API, with retries an operator can reason about."""

    display_name: ClassVar[str] = "Anthropic"
    env_vars: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    supports_max_tokens: ClassVar[bool] = False
    supports_debug: ClassVar[bool] = False

    name: str = "Anthropic"
    base_url: str = field(default_factory=lambda: os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL)
    api_key: str = field(default_factory=lambda: os.environ.get("ANTHROPIC_API_KEY", ""), repr=False)
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

    #: Usage of the latest turn, set when its stream ends or is closed (what the axio agent reads
    #: when it cuts a turn short). Shared by concurrent streams: per-turn figures are on IterationEnd.
    last_usage: Usage | None = field(default=None, init=False, repr=False, compare=False)
    _owned: aiohttp.ClientSession | None = field(default=None, init=False, repr=False, compare=False)
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        settings.validate(self)

    # ── the CompletionTransport protocol ────────────────────────────────────────────────────

    def build_payload(self, messages: list[Message], tools: list[Tool[Any]], system: str) -> dict[str, Any]:
        """The request body for this conversation. Pure: no IO, no state."""
        return build_body(self._options(), messages, tools, system)

    def stream(self, messages: list[Message], tools: list[Tool[Any]], system: str) -> AsyncIterator[StreamEvent]:
        # The caller's context now, where the call is made: the request span's parent. The
        # generator never makes a context current, so the caller's stays its own.
        parent = otel_context.get_current() if self.telemetry is not None else None
        return self._stream(messages, tools, system, parent)

    async def fetch_models(self) -> None:
        """Reset ``models`` to the bundled catalogue. No network: the catalogue carries prices."""
        self.models = ModelRegistry(ANTHROPIC_MODELS.values())

    # ── settings ────────────────────────────────────────────────────────────────────────────

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        """The settings, for saving and restoring. ``redact=True`` for anything shown or logged."""
        return settings.dump(self, redact=redact)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, session: aiohttp.ClientSession | None = None) -> Self:
        """Rebuild from ``to_dict()``. Unknown or unreadable values are skipped with a warning."""
        return cls(**settings.load(data, ANTHROPIC_MODELS), session=session)

    # ── session ownership ───────────────────────────────────────────────────────────────────

    async def __aenter__(self) -> Self:
        """Keep one pooled connection session for the block, when the caller passed none."""
        if self.session is None and self._owned is None:
            self._owned = aiohttp.ClientSession()
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
        return aiohttp.ClientSession(), True

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

    def _headers(self) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "anthropic-version": ANTHROPIC_API_VERSION,
            "user-agent": _USER_AGENT,
        }
        if self.api_key:
            headers["x-api-key"] = self.api_key
        elif urlsplit(self.base_url).hostname == "api.anthropic.com":
            raise ConfigurationError("no API key: set ANTHROPIC_API_KEY or pass api_key= to AnthropicTransport")
        return headers

    def _request_info(
        self, url: str, messages: list[Message], tools: list[Tool[Any]], system: str, parent: Context | None
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
        )

    async def _stream(
        self, messages: list[Message], tools: list[Tool[Any]], system: str, parent: Context | None
    ) -> AsyncIterator[StreamEvent]:
        body = encode_body(self.build_payload(messages, tools, system))
        headers = self._headers()
        url = f"{self.base_url.rstrip('/')}/messages"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline if self.deadline is not None else None
        timeouts = Timeouts(self.connect_timeout, self.first_byte_timeout, self.idle_timeout, deadline)
        telemetry = self.telemetry
        observer = telemetry.start(self._request_info(url, messages, tools, system, parent)) if telemetry else _SILENT
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
                    batches = read_attempt(session, url, body, sent, decoder, timeouts, self.api_key, state)
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
                    wait = self._retry_wait(failed, attempt, committed, loop.time(), deadline)
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

    def _retry_wait(
        self, failed: AttemptFailed, attempt: int, committed: bool, now: float, deadline: float | None
    ) -> tuple[float, bool] | None:
        """Seconds to wait before the next attempt and whether the server asked for them, or
        ``None`` to give up now (and why, logged)."""
        error = failed.error
        context = f"{error!s}"
        if committed:
            logger.debug("Not retrying: the caller already received part of this answer. %s", context)
            return None
        if not failed.retryable:
            logger.debug("Not retrying: %s", context)
            return None
        if attempt > self.max_retries:
            logger.debug("Giving up after %d attempts (max_retries=%d). %s", attempt, self.max_retries, context)
            return None
        delay, asked = retry_delay(
            attempt, failed.headers, base=self.retry_base_delay, cap=self.retry_max_delay, rng=self._rng
        )
        if asked and delay > _LONGEST_SERVER_WAIT:
            logger.debug("Not retrying: the server asked to wait %.0fs. %s", delay, context)
            error.message += f" (the server asked to retry in {delay:.0f}s, longer than the {_LONGEST_SERVER_WAIT:.0f}s"
            error.message += " this transport waits)"
            return None
        if deadline is not None and now + delay >= deadline:
            logger.debug("Not retrying: waiting %.2fs would pass the deadline. %s", delay, context)
            if not isinstance(error, APITimeoutError):
                error.message += f" (a retry in {delay:.2f}s would have passed the deadline)"
            return None
        return delay, asked
