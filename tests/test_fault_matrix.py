"""The fault matrix: every way a call can go wrong, against a real server on loopback, with
everything the caller and the operator see stated per fault.

One table (``CASES``). Each row names the fault and what must follow: the events the caller got,
the exception (type, status, error type, request-id, attempts, wording), each HTTP attempt (its
span, its ``attempts_total`` label, the retry it caused), and from those the span tree, the
metric deltas and the log events. After every row nothing may be left held: no acquired
connection, in-flight gauge at 0, every span ended once, no body still written, no task pending.

Most faults come from the simulator. What it cannot send (an HTML error page, a body that just
ends, malformed JSON, a JSON message on a 200) comes from ``Scripted``, a tiny aiohttp endpoint
defined here; a refused connection is a port nothing listens on.
"""

from __future__ import annotations

import json
import logging
import socket
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import aiohttp
import pytest
import structlog
from aiohttp import web
from axio.events import StreamEvent, TextDelta
from axio.models import ModelSpec
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from axio_transport_anthropic import (
    ANTHROPIC_MODELS,
    AnthropicError,
    AnthropicTransport,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InStreamError,
    ProtocolError,
)
from axio_transport_anthropic.simulator import Fault, Reply, Simulator
from axio_transport_anthropic.simulator.faults import PLAIN_TEXT_PROXY_ERROR
from axio_transport_anthropic.telemetry.logs import (
    LOGGER_NAME,
    REQUEST_END,
    REQUEST_ERROR,
    REQUEST_RETRY,
    REQUEST_START,
)

from .conftest import SECRET
from .leaks import Captured, assert_no_stray_tasks, assert_released
from .support import user

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

MODEL = "claude-sonnet-4-6"
UNKNOWN_MODEL = "claude-unknown-0"
WRONG_KEY = "sk-ant-wrong-key-0000000000"
TEXT = "one two three four five six"
#: What the caller gets from a whole answer of TEXT (the simulator sends two words per delta).
WHOLE = ("IterationStart", "TextDelta", "TextDelta", "TextDelta", "BlockEnd", "IterationEnd")
#: What the caller gets before a fault placed after 4 SSE events (start, block start, 2 deltas).
PARTIAL = ("IterationStart", "TextDelta", "TextDelta")
#: Every row's transport, unless the row says otherwise: 3 attempts, fast backoff.
SETTINGS: Mapping[str, Any] = MappingProxyType(
    {
        "max_retries": 2,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "connect_timeout": 2.0,
        "first_byte_timeout": 2.0,
        "idle_timeout": 2.0,
    }
)
STALL = 0.2
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


# ── the scripted endpoint ───────────────────────────────────────────────────────────────────

Step = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


def sse(*payloads: Mapping[str, Any]) -> bytes:
    return b"".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads)


START = {
    "type": "message_start",
    "message": {
        "id": "msg_script_01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 1},
    },
}
BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
DELTAS = tuple(
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
    for piece in ("one two ", "three four ", "five six")
)
BLOCK_STOP = {"type": "content_block_stop", "index": 0}
MESSAGE_DELTA = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 6}}
MESSAGE_STOP = {"type": "message_stop"}
WHOLE_BODY = sse(START, BLOCK, *DELTAS, BLOCK_STOP, MESSAGE_DELTA, MESSAGE_STOP)


def body(raw: bytes, content_type: str = "text/event-stream") -> Step:
    """A 200 that sends ``raw`` and ends cleanly."""

    async def step(request: web.Request, request_id: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"request-id": request_id, "content-type": content_type})
        await response.prepare(request)
        await response.write(raw)
        await response.write_eof()
        return response

    return step


async def html_502(request: web.Request, request_id: str) -> web.StreamResponse:
    """A proxy's error page: no API headers, no JSON."""
    return web.Response(status=502, text=NGINX_502, content_type="text/html")


WHOLE_MESSAGE_JSON = json.dumps(
    {
        "id": "msg_script_01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 6},
    }
).encode()


class Backend(Protocol):
    base_url: str

    def request_ids(self) -> list[str]:
        """The request-id of each attempt the server saw, in order."""
        ...


class Scripted:
    """``POST /v1/messages`` answered by the next step; once none is left, by a whole answer."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self._steps = deque(steps)
        self._ids: list[str] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def request_ids(self) -> list[str]:
        return list(self._ids)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        request_id = f"req_script_{len(self._ids):04d}"
        self._ids.append(request_id)
        step = self._steps.popleft() if self._steps else body(WHOLE_BODY)
        return await step(request, request_id)

    async def __aenter__(self) -> Scripted:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class SimBackend:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.base_url = sim.base_url

    def request_ids(self) -> list[str]:
        return [r.request_id for r in self.sim.requests]


class Refused:
    """A loopback port nothing listens on."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def request_ids(self) -> list[str]:
        return []


# ── the table ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Attempt:
    """How one HTTP attempt ends, as telemetry must tell it."""

    status: int | None
    """``http.response.status_code`` on the attempt span (``None``: no response headers)."""
    label: str
    """``axio_anthropic_attempts_total{status}``."""
    error: str | None
    """``error.type`` on the attempt span (``None``: a whole turn)."""
    reason: str | None = None
    """The retry reason, if another attempt follows."""
    has_id: bool = True
    """Whether the response carried a ``request-id`` the client could read."""
    delay: float | None = None
    """The wait the server asked for, if it asked."""


OK = Attempt(200, "200", None)


def http(status: int, reason: str | None, *, has_id: bool = True, delay: float | None = None) -> Attempt:
    return Attempt(status, str(status), str(status), reason, has_id, delay)


def in_stream(error_type: str, label: str, reason: str | None) -> Attempt:
    return Attempt(200, label, error_type, reason)


NO_RESPONSE = Attempt(None, "connection_error", "connection_error", "connection_error", has_id=False)
CUT = Attempt(200, "connection_error", "connection_error", "connection_error")
NO_FIRST_BYTE = Attempt(None, "timeout", "timeout", "timeout", has_id=False)
IDLE = Attempt(200, "timeout", "timeout", "timeout")
BROKEN = Attempt(200, "protocol_error", "protocol_error", None)


@dataclass(frozen=True)
class Case:
    id: str
    attempts: tuple[Attempt, ...]
    seen: tuple[str, ...] = ()
    """Kinds of the events the caller got, in order."""
    error: type[AnthropicError] | None = None
    status: int | None = None
    """``error.status``."""
    error_type: str | None = None
    """``error.error_type`` (Anthropic's type)."""
    label: str | None = None
    """``errors_total{type}`` and ``error.type`` on the request span."""
    phase: str | None = None
    says: tuple[str, ...] = ()
    """More words ``str(error)`` must hold, besides status, type, request-id and attempts."""
    faults: tuple[Fault, ...] = ()
    script: tuple[Step, ...] | None = None
    refused: bool = False
    model: str = MODEL
    api_key: str = SECRET
    settings: Mapping[str, Any] = field(default_factory=dict)


def retryable(
    name: str,
    attempt: Attempt,
    *,
    fault: Fault | None = None,
    step: Step | None = None,
    error: type[AnthropicError],
    status: int | None = None,
    error_type: str | None = None,
    label: str,
    phase: str | None = None,
    says: tuple[str, ...] = (),
    settings: Mapping[str, Any] | None = None,
) -> list[Case]:
    """Two rows for a fault worth retrying: once then a whole answer, and on every attempt."""

    def source(times: int) -> dict[str, Any]:
        if fault is not None:
            return {"faults": (fault,) * times}
        assert step is not None
        return {"script": (step,) * times}

    common: dict[str, Any] = {"settings": settings or {}}
    return [
        Case(f"{name}-then-ok", (attempt, OK), WHOLE, **source(1), **common),
        Case(
            f"{name}-every-attempt",
            (attempt, attempt, attempt),
            (),
            error,
            status,
            error_type,
            label,
            phase,
            says,
            **source(3),
            **common,
        ),
    ]


STALLS = {"first_byte_timeout": STALL, "idle_timeout": STALL}

CASES: list[Case] = [
    # ── retried: before any output, the same request may yet succeed ──
    *retryable(
        "429-retry-after",
        http(429, "rate_limited", delay=0.01),
        fault=Fault.rate_limited(retry_after=0.01),
        error=APIStatusError,
        status=429,
        error_type="rate_limit_error",
        label="rate_limit_error",
        says=("rate limit",),
    ),
    *retryable(
        "429-retry-after-ms",
        http(429, "rate_limited", delay=0.005),
        fault=Fault.rate_limited(retry_after=None, retry_after_ms=5),
        error=APIStatusError,
        status=429,
        error_type="rate_limit_error",
        label="rate_limit_error",
    ),
    *retryable(
        "529",
        http(529, "overloaded"),
        fault=Fault.overloaded(),
        error=APIStatusError,
        status=529,
        error_type="overloaded_error",
        label="overloaded_error",
        says=("Overloaded",),
    ),
    *[
        case
        for status in (500, 502, 503)
        for case in retryable(
            f"{status}-json",
            http(status, "server_error"),
            fault=Fault.server_error(status),
            error=APIStatusError,
            status=status,
            error_type="api_error",
            label="api_error",
        )
    ],
    *[
        case
        for status in (500, 502, 503)
        for case in retryable(
            f"{status}-text-plain",
            http(status, "server_error", has_id=False),
            fault=Fault.server_error(status, plain_text=True),
            error=APIStatusError,
            status=status,
            label=str(status),
            says=(PLAIN_TEXT_PROXY_ERROR,),
        )
    ],
    *retryable(
        "502-html-page",
        http(502, "server_error", has_id=False),
        step=html_502,
        error=APIStatusError,
        status=502,
        label="502",
        says=("502 Bad Gateway",),
    ),
    *retryable(
        "reset-before-first-byte",
        NO_RESPONSE,
        fault=Fault.reset(),
        error=APIConnectionError,
        label="connection_error",
    ),
    *retryable(
        "reset-after-message-start",
        CUT,
        fault=Fault.reset(after_events=1),
        error=APIConnectionError,
        label="connection_error",
    ),
    *retryable(
        "in-stream-error-before-output",
        in_stream("overloaded_error", "529", "overloaded"),
        fault=Fault.stream_error("overloaded_error", "Overloaded", after_events=0),
        error=InStreamError,
        status=200,
        error_type="overloaded_error",
        label="overloaded_error",
        says=("in-stream error overloaded_error", "Overloaded"),
    ),
    *retryable(
        "stall-before-first-byte",
        NO_FIRST_BYTE,
        fault=Fault.slow_first_byte(30.0),
        error=APITimeoutError,
        label="timeout",
        phase="first_byte",
        says=("first byte timeout", f"no data within {STALL:g}s"),
        settings=STALLS,
    ),
    *retryable(
        "stall-after-message-start",
        IDLE,
        fault=Fault.stall(after_events=1, duration=30.0),
        error=APITimeoutError,
        label="timeout",
        phase="idle",
        says=("idle timeout", f"no data within {STALL:g}s"),
        settings=STALLS,
    ),
    *retryable(
        "ends-before-output-without-message-stop",
        CUT,
        step=body(sse(START)),
        error=APIConnectionError,
        label="connection_error",
        says=("ended before the turn did",),
    ),
    Case(
        "connection-refused",
        (NO_RESPONSE, NO_RESPONSE, NO_RESPONSE),
        (),
        APIConnectionError,
        label="connection_error",
        says=("Cannot connect to host 127.0.0.1",),
        refused=True,
    ),
    # ── raised at once: retrying cannot help, or the caller already has part of the answer ──
    Case(
        "429-x-should-retry-false",
        (http(429, None),),
        (),
        APIStatusError,
        429,
        "rate_limit_error",
        "rate_limit_error",
        faults=(Fault.rate_limited(retry_after=0.01, should_retry=False),),
    ),
    Case(
        "401-wrong-key",
        (http(401, None),),
        (),
        APIStatusError,
        401,
        "authentication_error",
        "authentication_error",
        says=("invalid x-api-key",),
        api_key=WRONG_KEY,
    ),
    Case(
        "403",
        (http(403, None),),
        (),
        APIStatusError,
        403,
        "permission_error",
        "permission_error",
        says=("does not have permission",),
        faults=(Fault.http_error(403, "permission_error", "Your API key does not have permission to use this."),),
    ),
    Case(
        "400",
        (http(400, None),),
        (),
        APIStatusError,
        400,
        "invalid_request_error",
        "invalid_request_error",
        says=("messages.0.content",),
        faults=(Fault.http_error(400, "invalid_request_error", "messages.0.content: Input should be a list"),),
    ),
    Case(
        "404-unknown-model",
        (http(404, None),),
        (),
        APIStatusError,
        404,
        "not_found_error",
        "not_found_error",
        says=(f"model: {UNKNOWN_MODEL}",),
        model=UNKNOWN_MODEL,
    ),
    Case(
        "413",
        (http(413, None),),
        (),
        APIStatusError,
        413,
        "request_too_large",
        "request_too_large",
        says=("exceeds the maximum size",),
        faults=(Fault.http_error(413, "request_too_large", "Request exceeds the maximum size"),),
    ),
    Case(
        "reset-after-output",
        (CUT,),
        PARTIAL,
        APIConnectionError,
        label="connection_error",
        faults=(Fault.reset(after_events=4),),
    ),
    Case(
        "in-stream-error-after-output",
        (in_stream("overloaded_error", "529", None),),
        PARTIAL,
        InStreamError,
        200,
        "overloaded_error",
        "overloaded_error",
        says=("in-stream error overloaded_error", "Overloaded"),
        faults=(Fault.stream_error("overloaded_error", "Overloaded", after_events=4),),
    ),
    Case(
        "stall-mid-stream",
        (IDLE,),
        PARTIAL,
        APITimeoutError,
        label="timeout",
        phase="idle",
        says=("idle timeout", f"no data within {STALL:g}s"),
        faults=(Fault.stall(after_events=4, duration=30.0),),
        settings=STALLS,
    ),
    Case(
        "ends-after-output-without-message-stop",
        (CUT,),
        ("IterationStart", "TextDelta", "TextDelta", "TextDelta", "BlockEnd"),
        APIConnectionError,
        label="connection_error",
        says=("ended before the turn did",),
        script=(body(sse(START, BLOCK, *DELTAS, BLOCK_STOP)),),
    ),
    # message_stop came, then the server kept the body open (a proxy that does not end the
    # chunked body): the turn is whole and is delivered, not lost to the idle timeout.
    Case(
        "stall-after-message-stop",
        (OK,),
        WHOLE,
        faults=(Fault.stall(after_events=99, duration=30.0),),
        settings=STALLS,
    ),
    # The stop reason and the final usage came: the turn is whole without the closing event.
    Case(
        "ends-after-message-delta-without-message-stop",
        (OK,),
        WHOLE,
        script=(body(sse(START, BLOCK, *DELTAS, BLOCK_STOP, MESSAGE_DELTA)),),
    ),
    # A corrupt stream is not retried (the format broke, not the network), and the error keeps
    # the response's request-id and status: that is what Anthropic support asks for.
    Case(
        "malformed-json-in-a-data-line",
        (BROKEN,),
        (),
        ProtocolError,
        200,
        label="protocol_error",
        says=("malformed JSON",),
        script=(body(sse(START) + b'event: content_block_start\ndata: {"type": "content_block_start", \n\n'),),
    ),
    # A 200 that is not an event stream (a proxy or mock ignoring stream: true): every retry
    # would get the same, so it is a protocol error at once, naming what came instead.
    Case(
        "200-with-a-json-message-instead-of-sse",
        (BROKEN,),
        (),
        ProtocolError,
        200,
        label="protocol_error",
        says=("application/json",),
        script=(body(WHOLE_MESSAGE_JSON, "application/json"),) * 3,
    ),
    Case(
        "retry-after-beyond-the-deadline",
        (http(429, None, delay=30.0),),
        (),
        APIStatusError,
        429,
        "rate_limit_error",
        "rate_limit_error",
        says=("deadline",),
        faults=(Fault.rate_limited(retry_after=30),),
        settings={"deadline": 1.0},
    ),
    # README: "a server asking for more than 15 minutes ends the call at once with the reason".
    Case(
        "retry-after-beyond-15-minutes",
        (http(429, None, delay=3600.0),),
        (),
        APIStatusError,
        429,
        "rate_limit_error",
        "rate_limit_error",
        says=("3600",),
        faults=(Fault.rate_limited(retry_after=3600),),
    ),
]


# ── running a row ───────────────────────────────────────────────────────────────────────────


@dataclass
class Outcome:
    seen: list[StreamEvent]
    error: BaseException | None
    request_ids: list[str]
    logs: list[dict[str, Any]]
    captured: Captured


@asynccontextmanager
async def backend_for(case: Case) -> AsyncIterator[tuple[Backend, Simulator | None]]:
    if case.refused:
        yield Refused(), None
    elif case.script is not None:
        async with Scripted(case.script) as scripted:
            yield scripted, None
    else:
        async with Simulator(api_key=SECRET) as sim:
            sim.inject(*case.faults)
            sim.enqueue(Reply.text(TEXT))
            yield SimBackend(sim), sim


async def consume(transport: AnthropicTransport) -> tuple[list[StreamEvent], BaseException | None]:
    seen: list[StreamEvent] = []
    try:
        async for event in transport.stream(user("hi"), [], ""):
            seen.append(event)
    except Exception as exc:
        return seen, exc
    return seen, None


async def run(case: Case, caplog: pytest.LogCaptureFixture) -> Outcome:
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    captured = Captured()
    spec = ANTHROPIC_MODELS.get(case.model) or ModelSpec(id=case.model, max_output_tokens=1024)
    async with backend_for(case) as (backend, sim):
        async with aiohttp.ClientSession() as session:
            transport = AnthropicTransport(
                api_key=case.api_key,
                base_url=backend.base_url,
                session=session,
                model=spec,
                telemetry=captured.config(),
                **{**SETTINGS, **case.settings},
            )
            seen, error = await consume(transport)
            await assert_released(session, captured, (case.model,), sim)
        ids = backend.request_ids()
    await assert_no_stray_tasks()
    logs = [getattr(r, "anthropic") for r in caplog.records if hasattr(r, "anthropic")]  # noqa: B009
    return Outcome(seen, error, ids, logs, captured)


def kinds(events: Sequence[StreamEvent]) -> tuple[str, ...]:
    return tuple(type(e).__name__ for e in events)


def attempt_ids(case: Case, got: Outcome) -> list[str | None]:
    """The request-id each attempt's response carried, as the client could read it."""
    served = got.request_ids
    return [served[i] if a.has_id and i < len(served) else None for i, a in enumerate(case.attempts)]


@pytest.fixture(autouse=True)
def _stdlib_logging() -> None:
    # Logs go to the stdlib logger (record.anthropic) only while structlog is unconfigured.
    structlog.reset_defaults()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_fault(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    got = await run(case, caplog)
    ids = attempt_ids(case, got)
    last_id = ids[-1] if ids else None
    check_error(case, got, last_id)
    served = 0 if case.refused else len(case.attempts)
    assert len(got.request_ids) == served, f"the server saw {got.request_ids}, the table says {served} attempt(s)"
    assert kinds(got.seen) == case.seen
    if case.error is None:
        assert "".join(e.delta for e in got.seen if isinstance(e, TextDelta)) == TEXT
    check_spans(case, got, ids)
    check_metrics(case, got)
    check_logs(case, got, ids)
    for key in {SECRET, case.api_key}:
        assert key not in json.dumps(got.logs, default=str), "the API key is in a log event"
        assert key not in "".join(json.dumps(_dump(s)) for s in got.captured.spans()), "the API key is on a span"
        assert key not in f"{got.error!s} {got.error!r}", "the API key is in the error"


def check_error(case: Case, got: Outcome, last_id: str | None) -> None:
    error = got.error
    if case.error is None:
        assert error is None, f"expected a whole answer, got {error!r}"
        return
    assert type(error) is case.error, f"expected {case.error.__name__}, got {error!r}"
    assert isinstance(error, AnthropicError)
    text = str(error)
    assert error.request_id == last_id, f"request_id {error.request_id!r}, expected {last_id!r}: {error!r}"
    found = (error.status, error.error_type, error.attempts)
    assert found == (case.status, case.error_type, len(case.attempts)), f"(status, error_type, attempts) of {error!r}"
    if case.phase is not None:
        assert isinstance(error, APITimeoutError) and error.phase == case.phase
    wanted = [f"after {len(case.attempts)} attempt", *case.says]
    if isinstance(error, APIStatusError) and not isinstance(error, InStreamError):
        wanted.append(f"HTTP {case.status}")
    if case.error_type:
        wanted.append(case.error_type)
    if last_id:
        wanted.append(f"request-id {last_id}")
    missing = [word for word in wanted if word not in text]
    assert not missing, f"{missing} not in the message: {text!r}"
    assert "\n" not in text and "\r" not in text, f"the message is not one line: {text!r}"


def check_spans(case: Case, got: Outcome, ids: list[str | None]) -> None:
    spans = got.captured.spans()
    roots = [s for s in spans if s.parent is None]
    assert [s.name for s in roots] == [f"chat {case.model}"]
    (root,) = roots
    attempts = sorted((s for s in spans if s.parent is not None), key=lambda s: s.start_time or 0)
    assert root.kind is SpanKind.CLIENT and root.context is not None
    assert all(
        s.name == "POST" and s.kind is SpanKind.CLIENT and s.parent and s.parent.span_id == root.context.span_id
        for s in attempts
    ), [(s.name, s.parent) for s in attempts]
    wanted = [(a.status, a.error) for a in case.attempts]
    assert [(_attr(s, "http.response.status_code"), _attr(s, "error.type")) for s in attempts] == wanted
    assert [_attr(s, "http.request.resend_count") for s in attempts] == [None, *range(1, len(attempts))]
    assert [_attr(s, "anthropic.request_id") for s in attempts] == ids
    for span, attempt in zip(attempts, case.attempts, strict=True):
        assert span.status.status_code is (StatusCode.UNSET if attempt.error is None else StatusCode.ERROR)
    seen_ids = [i for i in ids if i]
    assert _attr(root, "anthropic.request_id") == (seen_ids[-1] if seen_ids else None)
    backoffs = [dict(e.attributes or {}) for e in root.events if e.name == "retry.backoff"]
    assert [(b["retry.attempt"], b["retry.reason"]) for b in backoffs] == [
        (i, a.reason) for i, a in enumerate(case.attempts[:-1], 1)
    ]
    for backoff, attempt in zip(backoffs, case.attempts, strict=False):
        assert backoff["retry.server_requested"] is (attempt.delay is not None)
        if attempt.delay is not None:
            assert backoff["retry.delay_s"] == pytest.approx(attempt.delay)
    exceptions = [e for e in root.events if e.name == "exception"]
    if case.error is None:
        assert root.status.status_code is StatusCode.UNSET and _attr(root, "error.type") is None
        assert not exceptions
    else:
        assert root.status.status_code is StatusCode.ERROR and _attr(root, "error.type") == case.label
        assert root.status.description == str(got.error)
        assert len(exceptions) == 1


def _attr(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


def _dump(span: ReadableSpan) -> dict[str, Any]:
    return {
        "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
        "events": [{k: str(v) for k, v in (e.attributes or {}).items()} for e in span.events],
        "status": span.status.description,
    }


def check_metrics(case: Case, got: Outcome) -> None:
    c = got.captured

    def by(name: str, label: str) -> dict[str, float]:
        return c.by(name, label, case.model)

    outcome = "ok" if case.error is None else "error"
    assert by("axio_anthropic_requests_total", "outcome") == {outcome: 1}
    assert by("axio_anthropic_attempts_total", "status") == dict(Counter(a.label for a in case.attempts))
    retried = Counter(a.reason for a in case.attempts[:-1] if a.reason)
    assert by("axio_anthropic_retries_total", "reason") == dict(retried)
    assert by("axio_anthropic_errors_total", "type") == ({case.label: 1} if case.label else {})
    assert c.value("axio_anthropic_in_flight_requests", case.model) == 0


def check_logs(case: Case, got: Outcome, ids: list[str | None]) -> None:
    end = REQUEST_END if case.error is None else REQUEST_ERROR
    retries = len(case.attempts) - 1
    assert [entry["event"] for entry in got.logs] == [REQUEST_START, *[REQUEST_RETRY] * retries, end]
    for number, (entry, attempt) in enumerate(zip(got.logs[1:-1], case.attempts[:-1], strict=True), 1):
        assert entry["attempt"] == number and entry["reason"] == attempt.reason
        assert entry.get("status") == attempt.status and entry.get("request_id") == ids[number - 1]
        assert entry["server_requested"] is (attempt.delay is not None)
    last = got.logs[-1]
    assert last["model"] == case.model and last["attempts"] == len(case.attempts)
    if case.error is not None:
        assert last["error"] == case.error.__name__
        assert last.get("error_type") == case.error_type
        status = case.status if case.status is not None else case.attempts[-1].status
        assert last.get("status") == status
    assert last.get("request_id") == ids[-1]
