"""The simulator: an Anthropic-compatible HTTP server on loopback for tests, demos and load."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import web

from ..models import ANTHROPIC_MODELS
from .bedrock import PATH as BEDROCK_PATH
from .bedrock import BedrockRoute
from .cache import PromptCache
from .catalogue import model_entries, model_entry
from .chunking import CHUNKINGS, Chunking, make_chunker
from .defaults import default_reply
from .delivery import Delivery, OpenBodies
from .events import MessageMeta, message_json, resolve_ids, stream_events
from .faults import Fault, FaultProfile
from .ratelimit import RateLimiter
from .replies import Reply
from .responses import error_response, fault_response, json_response, stream_error_as_http
from .streaming import Closing, StreamSettings, abort
from .validation import check_headers, check_message_request, parse_json
from .vertex import PATH as VERTEX_PATH
from .vertex import TOKEN_PATH, VertexRoute
from .wire import ApiError, IdSource

__all__ = ["RecordedRequest", "Simulator"]

_log = logging.getLogger("axio_transport_anthropic.simulator")

_MAX_BODY_BYTES: Final = 32 * 1024 * 1024
_LINE_ENDINGS: Final = ("\n", "\r\n")
#: Stalls and delays end as soon as stop() begins, so this only bounds handlers stuck elsewhere.
_SHUTDOWN_TIMEOUT: Final = 2.0


@dataclass(slots=True)
class RecordedRequest:
    """One request as the simulator saw it; `headers` has lower-case names."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    request_id: str
    fault: str | None = None


_RECORD_KEY: Final = web.RequestKey("sim_record", RecordedRequest)


class Simulator:
    """Serves `POST /v1/messages` and `GET /v1/models` like the real API, with scripted replies and faults."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        profile: FaultProfile | str | None = None,
        seed: int = 0,
        first_byte_delay: float = 0.0,
        token_delay: float = 0.0,
        chunking: Chunking = "event",
        line_ending: str = "\n",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: Mapping[str, int] | None = None,
        keep_requests: int | None = None,
    ) -> None:
        if chunking not in CHUNKINGS:
            raise ValueError(f"chunking must be one of {list(CHUNKINGS)}, not {chunking!r}")
        if line_ending not in _LINE_ENDINGS:
            raise ValueError(f"line_ending must be one of {list(_LINE_ENDINGS)}, not {line_ending!r}")
        for name, value in (("first_byte_delay", first_byte_delay), ("token_delay", token_delay)):
            if value < 0 or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite non-negative number, not {value}")
        self.requests: list[RecordedRequest] = []
        self._api_key = api_key
        self._profile = FaultProfile.named(profile, seed) if isinstance(profile, str) else profile
        self._seed = seed
        self._first_byte_delay = first_byte_delay
        self._token_delay = token_delay
        self._chunking: Chunking = chunking
        self._line_ending = line_ending
        self._host = host
        self._port = port
        self._keep_requests = keep_requests
        self._ids = IdSource(seed)
        self._organization_id = self._ids.organization_id()
        self._cache = PromptCache()
        self._limits = RateLimiter(rate_limits)
        self._faults: deque[Fault] = deque()
        self._replies: deque[Reply] = deque()
        self._closing = Closing()
        self._runner: web.AppRunner | None = None
        self._bodies = OpenBodies()
        self._streams_started = 0
        self.vertex = VertexRoute(self)
        self.bedrock = BedrockRoute(self)

    @property
    def base_url(self) -> str:
        """`http://host:port/v1`, the value for the transport's base URL."""
        if self._runner is None:
            raise RuntimeError("the simulator is not running; use `async with Simulator() as sim`")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/v1"

    @property
    def port(self) -> int:
        return self._port

    @property
    def open_streams(self) -> int:
        """Responses whose body is still being written (streams, stalls); 0 once clients are done."""
        return self._bodies.count

    @property
    def profile(self) -> FaultProfile | None:
        return self._profile

    def inject(self, *faults: Fault) -> None:
        """Queue faults for the next valid `POST /v1/messages` requests, in order, ahead of the profile."""
        self._faults.extend(faults)

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies; each is used by the next request that is answered, in order."""
        self._replies.extend(replies)

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        self._closing = Closing()
        app = web.Application(client_max_size=_MAX_BODY_BYTES, middlewares=[self._log_middleware])
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model_id}", self._model)
        app.router.add_post(VERTEX_PATH, self.vertex.handle)
        app.router.add_post(TOKEN_PATH, self.vertex.oauth.handle)
        app.router.add_post(BEDROCK_PATH, self.bedrock.handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        # handler_cancellation: a client that hangs up must end its stalled handler right away.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing.set()
        await runner.cleanup()
        # Connection tasks cancelled during cleanup finish on the next loop turns.
        for _ in range(3):
            await asyncio.sleep(0)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @web.middleware
    async def _log_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        record = request.get(_RECORD_KEY)
        fault = f" fault={record.fault}" if record is not None and record.fault else ""
        _log.info("%s %s -> %s%s", request.method, request.path, response.status, fault)
        return response

    def _record(self, request: web.Request) -> RecordedRequest:
        headers = {name.lower(): value for name, value in request.headers.items()}
        record = RecordedRequest(request.method, request.path, headers, None, self._ids.make("req_sim_"))
        request[_RECORD_KEY] = record
        self.requests.append(record)
        if self._keep_requests is not None and len(self.requests) > 2 * self._keep_requests:
            del self.requests[: len(self.requests) - self._keep_requests]
        return record

    def _headers(self, request_id: str) -> dict[str, str]:
        return {
            "request-id": request_id,
            "anthropic-organization-id": self._organization_id,
            **self._limits.headers(),
        }

    def _error(self, record: RecordedRequest, error: ApiError) -> web.Response:
        return error_response(error, record.request_id, self._headers(record.request_id))

    async def _models(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        problem = check_headers(record.headers, self._api_key)
        if problem is not None:
            return self._error(record, problem)
        data = model_entries()
        listing = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        return json_response(listing, self._headers(record.request_id))

    async def _model(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        problem = check_headers(record.headers, self._api_key)
        model_id = request.match_info["model_id"]
        if problem is None and model_id not in ANTHROPIC_MODELS:
            problem = ApiError(404, "not_found_error", f"model: {model_id}")
        if problem is not None:
            return self._error(record, problem)
        return json_response(model_entry(model_id), self._headers(record.request_id))

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        return self._error(record, ApiError(404, "not_found_error", "Not Found"))

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._error(record, ApiError(413, "request_too_large", "Request exceeds the maximum size"))
        problem = check_headers(record.headers, self._api_key)
        if problem is None:
            record.body, problem = parse_json(raw)
        if problem is None:
            problem = check_message_request(record.body, ANTHROPIC_MODELS)
        if problem is not None:
            return self._error(record, problem)
        body: Mapping[str, Any] = record.body
        streaming = body.get("stream") is True
        fault = self._next_fault()
        record.fault = fault.kind if fault is not None else None
        if fault is not None and fault.before_body:
            if fault.kind == "reset_before":
                await abort(request)
                return web.Response()
            return fault_response(fault, record.request_id, self._headers(record.request_id))
        if fault is not None and fault.kind == "stream_error" and not streaming:
            return self._error(record, stream_error_as_http(fault))
        return await self._answer(request, record, body, streaming, fault)

    def _next_fault(self) -> Fault | None:
        if self._faults:
            return self._faults.popleft()
        return self._profile.choose() if self._profile is not None else None

    async def _answer(
        self,
        request: web.Request,
        record: RecordedRequest,
        body: Mapping[str, Any],
        streaming: bool,
        fault: Fault | None,
    ) -> web.StreamResponse:
        scripted = self._replies.popleft() if self._replies else None
        max_tokens = int(body["max_tokens"])
        reply = resolve_ids((scripted or default_reply(body)).within(max_tokens), self._ids)
        output_tokens = min(reply.output_tokens(), max_tokens)
        plan = self._cache.plan(body)
        denial = self._limits.admit(plan.usage.billed_input_tokens, output_tokens)
        delivered = False
        try:
            if denial is not None:
                record.fault = "rate_limit_exceeded"
                headers = {**self._headers(record.request_id), "retry-after": str(denial.retry_after)}
                return error_response(ApiError(429, "rate_limit_error", denial.message), record.request_id, headers)
            self._cache.commit(plan)
            delay = self._first_byte_delay + (fault.delay if fault and fault.kind == "slow_first_byte" else 0.0)
            if not await self._closing.sleep(delay):
                await abort(request)
                return web.Response()
            meta = MessageMeta(self._ids.make("msg_sim_"), str(body["model"]), plan.usage, output_tokens)
            events = stream_events(reply, meta)
            delivery = Delivery(request, self._headers(record.request_id), fault, self._closing, self._bodies)
            if not streaming:
                deltas = sum(1 for event in events if event.name == "content_block_delta")
                payload = message_json(reply, meta)
                response, delivered = await delivery.message(payload, self._token_delay * deltas)
                return response
            self._streams_started += 1
            settings = StreamSettings(
                chunker=make_chunker(self._chunking, self._seed * 1_000_003 + self._streams_started),
                line_ending=self._line_ending,
                token_delay=self._token_delay,
                yield_between_writes=self._chunking == "random",
            )
            response, delivered = await delivery.stream(events, settings)
            return response
        finally:
            # A scripted reply the client never fully received goes back, so the retry gets it.
            if scripted is not None and not delivered:
                self._replies.appendleft(scripted)
