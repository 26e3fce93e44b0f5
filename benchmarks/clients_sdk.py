"""The official SDK: ``messages.create(stream=True)`` (``sdk-create``) and ``messages.stream()`` (``sdk-stream``).

Runs in every client's venv: the standard library only at module level (see compare_client.py).
"""

from __future__ import annotations

import importlib
from typing import Any

from client_interface import HEADERS, KEY, MAX_TOKENS, MODEL, Received, ask, version_of

__all__ = ["SdkCreate", "SdkStream"]


class _Sdk:
    def __init__(self) -> None:
        self._client: Any = None
        self._max_tokens = MAX_TOKENS

    async def open(self, url: str, pool: int, max_tokens: int) -> None:
        self._max_tokens = max_tokens
        anthropic = importlib.import_module("anthropic")
        try:
            httpx = importlib.import_module("httpx2")  # what the 2.x SDK is built on
        except ImportError:
            httpx = importlib.import_module("httpx")
        # Keep-alive for the whole pool, as the aiohttp clients have: the SDK's default keeps 100
        # idle connections, which would make every 1,000-stream round reconnect 900 of them.
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        http_client = anthropic.DefaultAsyncHttpxClient(limits=limits)
        base_url = url.rstrip("/").removesuffix("/v1")
        # SDK 2.x sends the key as ``Authorization: Bearer`` and a newer ``anthropic-version`` than the
        # simulator knows; these two headers make it accept the request. The stream is the same.
        self._client = anthropic.AsyncAnthropic(
            base_url=base_url,
            api_key=KEY,
            default_headers={"x-api-key": KEY, "anthropic-version": HEADERS["anthropic-version"]},
            max_retries=0,
            http_client=http_client,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def versions(self) -> dict[str, str]:
        return {"anthropic": version_of("anthropic"), "httpx2": version_of("httpx2"), "httpx": version_of("httpx")}

    async def collect(self, shape: str, deltas: int, keep: bool) -> tuple[str, Received]:
        raise NotImplementedError("memory is measured for the transports only")


def _count_sdk(event: Any, got: Received) -> None:
    if event.type == "content_block_delta":
        delta = event.delta
        if delta.type == "text_delta":
            got.deltas += 1
            got.text_chars += len(delta.text)
        elif delta.type == "input_json_delta":
            got.deltas += 1
            got.json_chars += len(delta.partial_json)


class SdkCreate(_Sdk):
    """``client.messages.create(stream=True)``: the raw event stream, each event a pydantic model."""

    async def one(self, shape: str, deltas: int) -> Received:
        got = Received()
        messages = [{"role": "user", "content": ask(shape, deltas)}]
        stream = await self._client.messages.create(
            model=MODEL, max_tokens=self._max_tokens, messages=messages, stream=True
        )
        async with stream:
            async for event in stream:
                _count_sdk(event, got)
        return got


class SdkStream(_Sdk):
    """``client.messages.stream()``: the helper that also accumulates the message as it streams."""

    async def one(self, shape: str, deltas: int) -> Received:
        got = Received()
        messages = [{"role": "user", "content": ask(shape, deltas)}]
        async with self._client.messages.stream(model=MODEL, max_tokens=self._max_tokens, messages=messages) as stream:
            async for event in stream:
                _count_sdk(event, got)
        return got
