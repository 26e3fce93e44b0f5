"""A misbehaving gateway on loopback that quotes the request's ``x-api-key`` back in its error
bodies, and a port nothing listens on: what the secret-output tests point transports at."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

__all__ = ["CUT_AT", "PLAIN_KEY", "ROUTES", "SK_KEY", "closed_port_url", "echo_gateway", "fragments"]

#: Two keys per run: one shaped like an Anthropic key, one that no key-shaped mask can match, so
#: that only keeping the key out structurally passes.
SK_KEY = "sk-ant-api03-" + secrets.token_urlsafe(30)[:40]
PLAIN_KEY = "AXIO" + secrets.token_hex(22)
#: Where the transport cuts a quoted error body; the "cut" route puts the key across it.
CUT_AT = 500


def fragments(text: str, key: str, width: int = 10) -> list[str]:
    """The pieces of ``key``'s random part found in ``text``: a truncated repr or a body cut
    mid-key leaks a prefix, and even part of a key is too much."""
    body = key.removeprefix("sk-ant-api03-")
    return sorted({body[i : i + width] for i in range(len(body) - width + 1) if body[i : i + width] in text})


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def _headers(request: web.Request) -> web.Response:
    # A proxy that lists what it was sent, as a JSON object that is no Anthropic error.
    return web.json_response({"request_headers": dict(request.headers)}, status=502)


async def _error(request: web.Request) -> web.Response:
    message = f"gateway refused x-api-key {request.headers.get('x-api-key', '')}"
    return web.json_response({"type": "error", "error": {"type": "api_error", "message": message}}, status=500)


async def _cut(request: web.Request) -> web.Response:
    # nginx's "Request Header Or Cookie Too Large", as a page quoting the header: the key starts 30
    # characters before the cut, which a quote cut first and scrubbed after keeps.
    lead = "400 Request Header Or Cookie Too Large: "
    text = lead + "." * (CUT_AT - 30 - len(lead) - 11) + " x-api-key=" + request.headers.get("x-api-key", "")
    return web.Response(text=text + " (end)", status=400)


async def _html(request: web.Request) -> web.Response:
    key = request.headers.get("x-api-key", "")
    page = f"<html><head><title>502 for x-api-key {key}</title></head><body>{key}</body></html>"
    return web.Response(text=page, status=502, content_type="text/html")


async def _redirect(request: web.Request) -> web.Response:
    # Back to itself: aiohttp follows until it gives up with TooManyRedirects.
    raise web.HTTPTemporaryRedirect(location=request.path)


ROUTES = {"headers": _headers, "error": _error, "cut": _cut, "html": _html, "redirect": _redirect}


@asynccontextmanager
async def echo_gateway() -> AsyncIterator[str]:
    """Its base URL; ``{base}/{route}/v1`` is a base URL for a transport, one per ``ROUTES``."""
    app = web.Application()
    for name, handler in ROUTES.items():
        app.router.add_post(f"/{name}/v1/messages", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
