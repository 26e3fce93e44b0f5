"""No output carries a Bedrock secret: the API key, the access key id, the secret key, the session
token or a request's signature. A misbehaving proxy on loopback quotes the request's headers back
(in a rest-json error, in an exception frame mid-stream, in a page cut mid-secret), and every place
a person or a collector reads is searched: the error, stdlib and structlog logs, spans, metrics,
the transport's reprs and redacted dump."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from axio_transport_anthropic import BedrockTransport
from axio_transport_anthropic.backends.eventstream import encode_frame

from .bedrock_support import aws_config
from .leaks import Captured, outputs_holding, stream_error, structlog_lines

KEY_ID = "ASIAQUOTEDBYPROXY7777"
SECRET_KEY = "secret/never/on/the/wire/0123456789abcdef"
TOKEN = "IQoJb3JpZ2luX2VjSESSION-token-quoted-by-the-proxy-0123456789"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLTAxMjM0NTY3ODk="

__all__ = ["aws_config"]  # fixtures

pytestmark = pytest.mark.timeout(30)


def _quoted(request: web.Request) -> str:
    return "; ".join(f"{name}: {value}" for name, value in request.headers.items())


async def _error(request: web.Request) -> web.Response:
    headers = {"x-amzn-ErrorType": "AccessDeniedException:http://internal", "x-amzn-RequestId": "req-1"}
    return web.json_response({"message": f"denied, you sent {_quoted(request)}"}, status=403, headers=headers)


async def _in_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"x-amzn-RequestId": "req-2"})
    response.content_type = "application/vnd.amazon.eventstream"
    await response.prepare(request)
    frame = encode_frame(
        {":message-type": "exception", ":exception-type": "internalServerException"},
        json.dumps({"message": f"cannot read {_quoted(request)}"}).encode(),
    )
    await response.write(frame)
    await response.write_eof()
    return response


async def _cut(request: web.Request) -> web.Response:
    # The quote is cut at 500 characters by the transport, partway through the last header.
    text = ("x" * 300) + " " + _quoted(request)
    return web.Response(text=text, status=400)


@asynccontextmanager
async def proxy() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    @web.middleware
    async def record(request: web.Request, handler: object) -> web.StreamResponse:
        seen.append(dict(request.headers))
        return await handler(request)  # type: ignore[operator,no-any-return]

    app = web.Application(middlewares=[record])
    for name, handler in (("error", _error), ("stream", _in_stream), ("cut", _cut)):
        app.router.add_post(f"/{name}/model/{{model:.+}}/invoke-with-response-stream", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


def signatures(seen: list[dict[str, str]]) -> list[str]:
    return [h["Authorization"].rpartition("Signature=")[2] for h in seen if "Signature=" in h.get("Authorization", "")]


@pytest.mark.parametrize("route", ["error", "stream", "cut"])
@pytest.mark.parametrize("credentials", ["given keys", "chain keys", "api key"])
@pytest.mark.parametrize("logs", ["stdlib", "structlog"])
async def test_no_output_holds_a_secret(
    route: str, credentials: str, logs: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    captured = Captured()
    given: dict[str, str] = {}
    if credentials == "given keys":
        given = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY, "aws_session_token": TOKEN}
    elif credentials == "chain keys":
        for name, value in (("AWS_ACCESS_KEY_ID", KEY_ID), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)):
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    else:
        given = {"api_key": API_KEY}
    async with proxy() as (url, seen):
        transport = BedrockTransport(
            base_url=f"{url}/{route}",
            aws_region="us-east-1",
            max_retries=1,
            retry_base_delay=0.001,
            telemetry=captured.config(),
            **given,  # type: ignore[arg-type]
        )
        with structlog_lines(logs) as rendered:
            async with transport:
                error = await stream_error(transport)
    assert error is not None
    # The in-stream exception is retried once: two attempts, two signatures, both to be kept out.
    assert len(seen) == (2 if route == "stream" else 1)
    secrets = [API_KEY] if credentials == "api key" else [KEY_ID, SECRET_KEY, TOKEN, *signatures(seen)]
    for secret in secrets:
        where = outputs_holding(
            secret, transport=transport, error=error, captured=captured, caplog=caplog, rendered=rendered
        )
        assert where == [], f"{secret[:6]}… found in {where}"
    assert "[redacted]" in error.message or route == "cut"
