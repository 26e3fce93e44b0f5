"""A forward proxy and a Bearer-token gateway on loopback, both real aiohttp servers that relay
to the simulator and record what reached them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

import aiohttp
from aiohttp import web

#: Hop-by-hop and framing headers, which a relay sets itself.
_HOP: Final = frozenset(
    {"host", "connection", "proxy-connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}
)


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    #: The request target as sent: absolute-form (``http://host:port/path``) through a proxy.
    target: str
    headers: Mapping[str, str]


@dataclass
class Forwarder:
    """``upstream=None``: an HTTP forward proxy (relays absolute-form requests where they point).
    ``upstream=URL``: a gateway that requires ``Authorization: Bearer <token>``, swaps it for the
    upstream's ``x-api-key`` and relays to ``upstream`` + the request path."""

    upstream: str | None = None
    token: str = ""
    upstream_key: str = ""
    seen: list[Seen] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _client: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        assert self._runner is not None
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def __aenter__(self) -> Self:
        # Its own client never reads the proxy variables: it must not loop back into itself.
        self._client = aiohttp.ClientSession(trust_env=False, auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append(Seen(request.method, request.raw_path, headers))
        forwarded = {k: v for k, v in headers.items() if k not in _HOP}
        if self.upstream is None:
            target = request.raw_path
            if not target.startswith("http://"):
                return web.Response(status=400, text="a proxy takes absolute-form requests only")
        else:
            if headers.get("authorization") != f"Bearer {self.token}":
                return web.json_response(
                    {"type": "error", "error": {"type": "authentication_error", "message": "bad gateway token"}},
                    status=401,
                )
            forwarded.pop("authorization")
            forwarded["x-api-key"] = self.upstream_key
            target = self.upstream.rstrip("/") + request.raw_path
        assert self._client is not None
        async with self._client.request(
            request.method, target, data=await request.read(), headers=forwarded
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP},
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
