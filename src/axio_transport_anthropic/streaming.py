"""The retry loop of one ``stream()`` call: attempts, waits between them, and what telemetry sees.

The transport holds the settings and sessions; a backend says where the request goes and how it
is signed and framed; ``attempt.py`` runs one HTTP attempt. This ties them together, once per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from axio.events import IterationStart, StreamEvent
from axio.messages import Message
from axio.tool import Tool
from opentelemetry.context import Context

from .attempt import AttemptFailed, AttemptState, Timeouts, read_attempt
from .backends import Backend
from .backoff import retry_wait
from .decoder import MessageStreamDecoder
from .request import encode_body
from .telemetry import AttemptReport, Outcome, RequestInfo, RequestObserver, ResponseReport
from .telemetry.lifecycle import CompositeObserver

if TYPE_CHECKING:
    from .transport import AnthropicTransport

__all__ = ["stream_events"]

_SILENT: Final = CompositeObserver(())


async def stream_events(
    t: AnthropicTransport,
    messages: list[Message],
    tools: list[Tool[Any]],
    system: str,
    parent: Context | None,
    labels: Mapping[str, str],
) -> AsyncIterator[StreamEvent]:
    backend = t.backend()
    await backend.prepare()
    body = encode_body(t.build_payload(messages, tools, system))
    headers = backend.headers()
    url = backend.url()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + t.deadline if t.deadline is not None else None
    timeouts = Timeouts(t.connect_timeout, t.first_byte_timeout, t.idle_timeout, deadline)
    telemetry = t.telemetry
    observer: RequestObserver = _SILENT
    if telemetry is not None:
        observer = telemetry.start(_request_info(t, backend, url, messages, tools, system, parent, labels))
    decoder = MessageStreamDecoder(backend.framing())
    attempt = 0
    #: 1 once a 401 was answered with fresh credentials: at most once a call.
    reauthorized = 0
    outcome: Outcome = "error"
    error: BaseException | None = None
    session, own_session = t._session()
    try:
        committed = False
        while True:
            attempt += 1
            if attempt > 1:
                # Each attempt reads a new response; the first uses the one made above.
                decoder = MessageStreamDecoder(backend.framing())
            state = AttemptState()
            held: list[StreamEvent] = []
            sent = dict(headers)
            observer.attempt_started(attempt, sent)
            try:
                # After attempt_started, which may add traceparent: a signature covers it.
                refresh = await backend.authorize(url, sent, body)
                if refresh is not None:
                    observer.credential_refresh(attempt, refresh)
                # After authorize: a token refreshed for this attempt is a secret too.
                secrets = backend.secrets()
                batches = read_attempt(session, backend, url, body, sent, decoder, timeouts, secrets, state)
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
                if failed.refresh is not None:
                    observer.credential_refresh(attempt, failed.refresh)
                status = state.status if failed.error.status is None else failed.error.status
                observer.attempt_ended(
                    AttemptReport(attempt, status, state.request_id, state.headers, failed.error, failed.reason)
                )
                if (status == 401 or status == 403) and not reauthorized and backend.rejected(status, failed.error):
                    # Credentials that expire may have been revoked or rotated early: one more
                    # attempt with fresh ones, at once, where the backend says the refusal was of
                    # the credentials (a 401; Bedrock's stale-key 403s). Not a retry of a failing
                    # service, so neither backoff nor max_retries applies; the refused attempt is
                    # still reported.
                    reauthorized = 1
                    continue
                wait = retry_wait(t, failed, attempt - reauthorized, committed, loop.time(), deadline)
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
        t.last_usage = report.counts.to_usage()
        observer.finished(outcome, report, error)
        if own_session:
            await session.close()


def _request_info(
    t: AnthropicTransport,
    backend: Backend,
    url: str,
    messages: list[Message],
    tools: list[Tool[Any]],
    system: str,
    parent: Context | None,
    labels: Mapping[str, str],
) -> RequestInfo:
    parts = urlsplit(url)
    return RequestInfo(
        model=t.model,
        provider=backend.provider,
        url=url,
        server_address=parts.hostname or "",
        server_port=parts.port or (443 if parts.scheme == "https" else 80),
        max_tokens=t.max_tokens or t.model.max_output_tokens,
        temperature=t.temperature,
        top_p=t.top_p,
        top_k=t.top_k,
        max_attempts=t.max_retries + 1,
        content=partial(t.build_payload, messages, tools, system),
        parent=parent,
        call_labels=labels,
    )
