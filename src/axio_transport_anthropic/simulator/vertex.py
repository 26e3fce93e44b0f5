"""The simulator's Vertex AI route:
``POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:streamRawPredict``.

It takes only a live token from the simulator's own ``POST /token`` (``sim.vertex.oauth``), and the
Vertex form of the body: no ``model`` (it is in the URL, in Vertex's ``name@date`` form) and
``anthropic_version: vertex-2023-10-16``. Replies, prompt cache, rate limits and faults apply as on
``/v1/messages``; quota errors and refused tokens come in Google's envelope, and the stream carries
a ``vertex_event``. No ``request-id`` or rate-limit headers: Vertex documents none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from ..models import ANTHROPIC_MODELS
from ..vertex_settings import VERTEX_ANTHROPIC_VERSION
from .chunking import make_chunker
from .defaults import default_reply
from .delivery import Delivery
from .events import MessageMeta, message_json, resolve_ids, stream_events, usage_json
from .faults import Fault
from .responses import stream_error_as_http
from .streaming import StreamSettings, abort
from .validation import check_message_request, parse_json
from .vertex_oauth import OAuthServer
from .vertex_wire import (
    PATH,
    UNAUTHENTICATED,
    anthropic_error,
    catalogue_id,
    fault_response,
    google_error,
    with_vertex_event,
)
from .wire import ApiError

if TYPE_CHECKING:
    from .server import RecordedRequest, Simulator

__all__ = ["PATH", "TOKEN_PATH", "VertexRoute"]

TOKEN_PATH: Final = "/token"


class VertexRoute:
    """Serves Claude on Vertex AI from a simulator's replies, cache, limits and faults."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.oauth = OAuthServer()
        """Issues the tokens this route accepts: ``service_account()``, ``revoke()``, ``fail_next()``."""

    @property
    def token_uri(self) -> str:
        """Where google-auth asks for tokens: the ``token_uri`` of a service-account file."""
        return self._sim.base_url.removesuffix("/v1") + TOKEN_PATH

    def service_account(self, path: Path | str, *, project: str = "sim-project") -> Path:
        """Write a ``service_account`` credentials file this simulator trusts (for
        ``GOOGLE_APPLICATION_CREDENTIALS``); its key is made now, never stored anywhere else."""
        return self.oauth.service_account(path, self.token_uri, project=project)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        sim = self._sim
        record = sim._record(request)
        record.request_id = sim._ids.make("req_vrtx_")
        raw = await request.read()
        token = record.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not token or not self.oauth.live(token):
            return google_error(401, UNAUTHENTICATED)
        record.body, problem = parse_json(raw)
        model = catalogue_id(request.match_info["model"])
        if problem is None:
            problem = _check_body(record.body)
        if problem is not None:
            return anthropic_error(problem, record.request_id)
        if model is None:
            where = request.path.split(":", 1)[0].removeprefix("/v1/")
            return google_error(404, f"Publisher Model `{where}` not found.")
        body = {**record.body, "model": model}
        if (problem := check_message_request(body, ANTHROPIC_MODELS)) is not None:
            return anthropic_error(problem, record.request_id)
        fault = sim._next_fault()
        record.fault = fault.kind if fault is not None else None
        if fault is not None and fault.before_body:
            if fault.kind == "reset_before":
                await abort(request)
                return web.Response()
            return fault_response(fault, record.request_id)
        streaming = request.match_info["method"] == "streamRawPredict" and body.get("stream") is True
        if fault is not None and fault.kind == "stream_error" and not streaming:
            return anthropic_error(stream_error_as_http(fault), record.request_id)
        return await self._answer(request, record, body, streaming, fault)

    async def _answer(
        self, request: web.Request, record: RecordedRequest, body: dict[str, Any], streaming: bool, fault: Fault | None
    ) -> web.StreamResponse:
        sim = self._sim
        scripted = sim._replies.popleft() if sim._replies else None
        max_tokens = int(body["max_tokens"])
        reply = resolve_ids((scripted or default_reply(body)).within(max_tokens), sim._ids)
        output_tokens = min(reply.output_tokens(), max_tokens)
        plan = sim._cache.plan(body)
        delivered = False
        try:
            if (denial := sim._limits.admit(plan.usage.billed_input_tokens, output_tokens)) is not None:
                record.fault = "rate_limit_exceeded"
                return google_error(429, denial.message)
            sim._cache.commit(plan)
            delay = sim._first_byte_delay + (fault.delay if fault and fault.kind == "slow_first_byte" else 0.0)
            if not await sim._closing.sleep(delay):
                await abort(request)
                return web.Response()
            meta = MessageMeta(sim._ids.make("msg_vrtx_"), str(body["model"]), plan.usage, output_tokens)
            delivery = Delivery(request, {}, fault, sim._closing, sim._bodies)
            if not streaming:
                response, delivered = await delivery.message(message_json(reply, meta), 0.0)
                return response
            sim._streams_started += 1
            settings = StreamSettings(
                chunker=make_chunker(sim._chunking, sim._seed * 1_000_003 + sim._streams_started),
                line_ending=sim._line_ending,
                token_delay=sim._token_delay,
                yield_between_writes=sim._chunking == "random",
            )
            events = with_vertex_event(stream_events(reply, meta), usage_json(plan.usage, output_tokens))
            response, delivered = await delivery.stream(events, settings)
            return response
        finally:
            # A scripted reply the client never fully received goes back, so the retry gets it.
            if scripted is not None and not delivered:
                sim._replies.appendleft(scripted)


def _check_body(body: Any) -> ApiError | None:
    """Vertex's own checks before the Messages API's: the model is in the URL, the version in the body."""
    if not isinstance(body, dict):
        return ApiError(400, "invalid_request_error", "The request body must be a JSON object")
    if "model" in body:
        return ApiError(400, "invalid_request_error", "model: Extra inputs are not permitted")
    version = body.get("anthropic_version")
    if version != VERTEX_ANTHROPIC_VERSION:
        return ApiError(400, "invalid_request_error", f"anthropic_version: {version!r} is not a valid version")
    return None
