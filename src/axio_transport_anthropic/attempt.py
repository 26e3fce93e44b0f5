"""One HTTP attempt: send the body, read the response, turn it into event batches.

Every way an attempt can fail ends in ``AttemptFailed``, which carries the public error and what
the retry loop needs to decide (was it retryable, what did the server say, why).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Final

import aiohttp
from axio.events import StreamEvent

from .backends import Backend, CredentialRefresh
from .decoder import MessageStreamDecoder
from .errors import AnthropicError, APIConnectionError, APIStatusError, APITimeoutError, InStreamError, ProtocolError
from .redaction import url_without_credentials, without_secret
from .retry import STATUS_OF_ERROR_TYPE, RetryReason, reason_for, should_retry

__all__ = ["AttemptFailed", "AttemptState", "Timeouts", "api_root_hint", "read_attempt"]

#: An error body longer than this is cut: it is read only to be quoted.
_ERROR_BODY_LIMIT: Final = 64 * 1024
#: The most of the response read, and decoded, at a time.
_READ_SIZE: Final = 16 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float | None
    first_byte: float | None
    idle: float | None
    deadline: float | None
    """Absolute ``loop.time()`` by which the whole call must be done, or ``None``."""


@dataclass(slots=True)
class AttemptState:
    """What the response said about itself, once its headers arrived."""

    status: int | None = None
    request_id: str | None = None
    headers: Mapping[str, str] | None = None


class AttemptFailed(Exception):
    """An attempt that did not produce a whole turn."""

    def __init__(
        self,
        error: AnthropicError,
        *,
        retryable: bool,
        reason: RetryReason | None = None,
        headers: Mapping[str, str] | None = None,
        refresh: CredentialRefresh | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retryable = retryable
        self.reason = reason
        self.headers = headers
        #: A credential refresh that failed before anything was sent, for telemetry to count.
        self.refresh = refresh


async def read_attempt(
    session: aiohttp.ClientSession,
    backend: Backend,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    decoder: MessageStreamDecoder,
    timeouts: Timeouts,
    secrets: tuple[str, ...],
    state: AttemptState,
) -> AsyncGenerator[list[StreamEvent]]:
    """Batches of events, one per network read that completed any; raises ``AttemptFailed``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    first_byte_at = _earliest(started, timeouts.first_byte, timeouts.deadline)
    client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect, sock_read=None)
    request_id: str | None = None
    phase = "first_byte"
    try:
        async with asyncio.timeout_at(first_byte_at):
            # A fresh file object per attempt: aiohttp warns about large in-memory bytes bodies.
            # No redirects: aiohttp would re-send x-api-key to whatever host a 307 names.
            response = await session.post(
                url, data=io.BytesIO(body), headers=headers, timeout=client_timeout, allow_redirects=False
            )
        try:
            request_id = response.headers.get(backend.request_id_header)
            state.status, state.request_id, state.headers = response.status, request_id, response.headers
            if response.status != 200:
                raise await _status_failure(response, backend, secrets, url)
            _check_content_type(response, backend.content_type, request_id)
            content = response.content
            at: float | None = first_byte_at
            while not decoder.stopped:
                async with asyncio.timeout_at(at):
                    # Not readany(): when the server outruns us it joins everything buffered
                    # (256 KiB and more) into one copy, and all of it would be decoded at once.
                    chunk = await content.read(_READ_SIZE)
                if not chunk:
                    break
                phase = "idle"
                at = _earliest(loop.time(), timeouts.idle, timeouts.deadline)
                batch = decoder.feed(chunk)
                if batch:
                    yield batch
                if decoder.failure is not None:
                    raise _in_stream_failure(decoder, request_id, secrets)
            if batch := decoder.close():
                yield batch
            if decoder.failure is not None:
                raise _in_stream_failure(decoder, request_id, secrets)
            if decoder.stop_reason is None:
                raise AttemptFailed(
                    APIConnectionError("the response ended before the turn did", request_id=request_id),
                    retryable=True,
                    reason="connection_error",
                )
        finally:
            response.release()
    except ProtocolError as exc:
        # Not the network's fault: the same answer would come again, so it is not retried.
        exc.message, exc.request_id, exc.status = _scrub(exc.message, secrets), request_id, 200
        raise AttemptFailed(exc, retryable=False) from exc
    except TimeoutError as exc:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            phase = "connect"
        elif timeouts.deadline is not None and loop.time() >= timeouts.deadline:
            phase = "deadline"
        limit = {"connect": timeouts.connect, "first_byte": timeouts.first_byte, "idle": timeouts.idle}.get(phase)
        what = f"no data within {limit:g}s" if limit is not None else "the overall deadline passed"
        raise AttemptFailed(
            APITimeoutError(what, phase=phase, request_id=request_id),  # type: ignore[arg-type]
            retryable=phase != "deadline",
            reason="timeout",
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        message = _scrub(f"{type(exc).__name__}: {exc}", secrets)
        raise AttemptFailed(
            APIConnectionError(message, request_id=request_id), retryable=True, reason="connection_error"
        ) from exc


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` without the key, the auth token or a credential header's value."""
    for secret in secrets:
        text = without_secret(text, secret)
    return text


def api_root_hint(url: str) -> str | None:
    """Why a 404 may be the base URL's fault: Anthropic serves the Messages API under ``/v1``.
    The URL is quoted without its user info or query, which may hold credentials."""
    root = url_without_credentials(url).removesuffix("/messages").rstrip("/")
    if root.endswith("/v1"):
        return None
    return f"the base URL {root} does not end in /v1, where Anthropic serves the Messages API"


def _earliest(now: float, timeout: float | None, deadline: float | None) -> float | None:
    at = now + timeout if timeout is not None else None
    if deadline is not None and (at is None or deadline < at):
        return deadline
    return at


async def _status_failure(
    response: aiohttp.ClientResponse, backend: Backend, secrets: tuple[str, ...], url: str
) -> AttemptFailed:
    """The error an HTTP status other than 200 means. Reads and releases the body."""
    raw = await response.content.read(_ERROR_BODY_LIMIT)
    headers = response.headers
    # Scrubbed whole, before anything is cut: a quote cut mid-key would hide the key from the scrub.
    said = backend.error_body(response.status, headers, _scrub(raw.decode("utf-8", "replace"), secrets))
    message = said.message or response.reason or "no error body"
    if response.status == 404 and (hint := api_root_hint(url)) is not None:
        message += f" ({hint})"
    if 300 <= response.status < 400:
        message += f" ({_redirect_note(headers.get('location'), secrets)})"
    error = APIStatusError(
        message,
        status=response.status,
        error_type=said.error_type,
        request_id=headers.get(backend.request_id_header) or said.request_id,
    )
    return AttemptFailed(
        error,
        retryable=should_retry(response.status, headers),
        reason=reason_for(response.status),
        headers=headers,
    )


def _redirect_note(location: str | None, secrets: tuple[str, ...]) -> str:
    where = f"to {_scrub(url_without_credentials(location), secrets)}" if location else "elsewhere"
    return f"the server redirected {where}; redirects are not followed, so set base_url to where the API is"


def _check_content_type(response: aiohttp.ClientResponse, expected: str, request_id: str | None) -> None:
    """A 200 that is not the stream (a proxy's page, a non-streaming answer) is no turn."""
    kind = response.headers.get("content-type", "")
    # Some recordings and proxies send none at all; only a type that says otherwise is refused.
    if kind and not kind.lower().startswith(expected):
        raise ProtocolError(f"expected an event stream, got a 200 with content-type {kind!r}", request_id=request_id)


def _in_stream_failure(
    decoder: MessageStreamDecoder, request_id: str | None, secrets: tuple[str, ...]
) -> AttemptFailed:
    failure = decoder.failure
    assert failure is not None
    status = STATUS_OF_ERROR_TYPE.get(failure.error_type, 400)
    error = InStreamError(
        _scrub(failure.message or failure.error_type, secrets),
        status=200,
        error_type=failure.error_type,
        request_id=request_id,
    )
    # Retried like its HTTP equivalent; x-should-retry on the 200 said nothing about this error.
    return AttemptFailed(error, retryable=should_retry(status), reason=reason_for(status), headers=None)
