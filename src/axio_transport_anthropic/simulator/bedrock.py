"""The simulator's Amazon Bedrock route: ``POST /model/{modelId}/invoke-with-response-stream``.

It checks the SigV4 signature (or a Bedrock API key), reads the Bedrock form of the Messages body
(no ``model`` or ``stream``, ``anthropic_version: bedrock-2023-05-31``), and answers in event-stream
frames. The simulator's replies, prompt cache, rate limits and faults apply as on ``/v1/messages``,
in Bedrock's shapes: rest-json errors before the stream, exception frames inside it.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from ..bedrock_settings import underlying_model
from ..models import ANTHROPIC_MODELS
from .bedrock_auth import BedrockAuth, Refusal
from .bedrock_stream import FrameStream
from .bedrock_wire import fault_error, request_id, rest_error
from .chunking import make_chunker
from .defaults import default_reply
from .events import MessageMeta, resolve_ids, stream_events
from .streaming import StreamSettings, abort
from .validation import check_message_request

if TYPE_CHECKING:
    from .server import RecordedRequest, Simulator

__all__ = ["PATH", "BedrockRoute"]

PATH: Final = "/model/{model_id:.+}/invoke-with-response-stream"
_VERSION: Final = "bedrock-2023-05-31"


class BedrockRoute:
    """Serves Bedrock's streaming invocation from a simulator's replies, cache, limits and faults."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.auth = BedrockAuth()
        """Who is let in: ``sim.bedrock.auth.rotate(AwsKeys(...))``, ``.api_keys.add(...)``, ``.region``."""

    @property
    def endpoint(self) -> str:
        """The value for ``BedrockTransport(base_url=...)``."""
        return self._sim.base_url.removesuffix("/v1")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        sim = self._sim
        record = sim._record(request)
        record.request_id = request_id(record.request_id)
        raw = await request.read()
        headers = {name: request.headers.getall(name) for name in {n.lower() for n in request.headers}}
        refusal = self.auth.check(request.method, request.raw_path, headers, raw)
        catalogue_id = underlying_model(request.match_info["model_id"])
        if refusal is None:
            refusal = _read_body(record, raw, catalogue_id)
        if refusal is not None:
            return rest_error(refusal.status, refusal.error_type, refusal.message, record.request_id)
        assert catalogue_id is not None
        fault = sim._next_fault()
        record.fault = fault.kind if fault is not None else None
        if fault is not None and fault.before_body:
            if fault.kind == "reset_before":
                await abort(request)
                return web.Response()
            if fault.kind == "server_error_plain":
                return web.Response(status=fault.status, text=fault.message, content_type="text/plain")
            status, kind, message = fault_error(fault)
            extra = dict(fault.headers) if fault.kind == "http_error" else {}
            return rest_error(status, kind, message, record.request_id, extra)
        return await self._answer(request, record, catalogue_id, fault)

    async def _answer(
        self, request: web.Request, record: RecordedRequest, model: str, fault: Any
    ) -> web.StreamResponse:
        sim, started = self._sim, time.monotonic()
        body = {**record.body, "model": model}
        scripted = sim._replies.popleft() if sim._replies else None
        max_tokens = int(body["max_tokens"])
        reply = resolve_ids((scripted or default_reply(body)).within(max_tokens), sim._ids)
        output_tokens = min(reply.output_tokens(), max_tokens)
        plan = sim._cache.plan(body)
        delivered = False
        try:
            if (denial := sim._limits.admit(plan.usage.billed_input_tokens, output_tokens)) is not None:
                record.fault = "rate_limit_exceeded"
                return rest_error(429, "ThrottlingException", denial.message, record.request_id)
            sim._cache.commit(plan)
            delay = sim._first_byte_delay + (fault.delay if fault and fault.kind == "slow_first_byte" else 0.0)
            if not await sim._closing.sleep(delay):
                await abort(request)
                return web.Response()
            meta = MessageMeta(sim._ids.make("msg_bdrk_"), model, plan.usage, output_tokens)
            sim._streams_started += 1
            settings = StreamSettings(
                chunker=make_chunker(sim._chunking, sim._seed * 1_000_003 + sim._streams_started),
                token_delay=sim._token_delay,
                yield_between_writes=sim._chunking == "random",
            )
            stream = FrameStream(request, {"x-amzn-RequestId": record.request_id}, sim._closing, sim._bodies, settings)
            metrics = {
                "inputTokenCount": plan.usage.billed_input_tokens,
                "outputTokenCount": output_tokens,
                "invocationLatency": round((time.monotonic() - started) * 1000),
                "firstByteLatency": round(delay * 1000),
            }
            response, delivered = await stream.send(stream_events(reply, meta), fault, metrics)
            return response
        finally:
            # A scripted reply the client never fully received goes back, so the retry gets it.
            if scripted is not None and not delivered:
                sim._replies.appendleft(scripted)


def _read_body(record: RecordedRequest, raw: bytes, model: str | None) -> Refusal | None:
    """Bedrock's own checks of the body, then the Messages API's, as ``ValidationException``."""
    try:
        record.body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _invalid("Malformed input request, please reformat your input and try again.")
    body = record.body
    if not isinstance(body, dict):
        return _invalid("Malformed input request: expected type: JSONObject, please reformat your input and try again.")
    for key in ("model", "stream"):
        if key in body:
            return _invalid(f"Malformed input request: #: extraneous key [{key}] is not permitted")
    if body.get("anthropic_version") != _VERSION:
        return _invalid(f"Malformed input request: #: anthropic_version must be {_VERSION}")
    beta = body.get("anthropic_beta")
    if beta is not None and not (isinstance(beta, list) and all(isinstance(b, str) for b in beta)):
        return _invalid("Malformed input request: #/anthropic_beta: expected type: JSONArray of strings")
    if model is None:
        return _invalid("The provided model identifier is invalid.")
    problem = check_message_request({**body, "model": model}, ANTHROPIC_MODELS)
    return None if problem is None else Refusal(problem.status, "ValidationException", problem.message)


def _invalid(message: str) -> Refusal:
    return Refusal(400, "ValidationException", message)
