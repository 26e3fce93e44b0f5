"""One client process of ``compare.py``: takes commands on stdin, answers with one JSON line each.

Runs under whichever venv holds the client it measures (the project's, the published 0.12.2's, the
SDK's), so only the standard library is imported at module level; each client imports its libraries
when it opens. CPU time is ``time.process_time()`` of this process (every thread), taken around the
measured streams only: start-up, imports, connecting and warm-up are outside it.

Protocol (one JSON object per line; answers are prefixed with ``@@ `` so that stray output from a
library cannot be mistaken for one):

* ``{"op": "open", "url": ..., "pool": N, "max_tokens": M}``: make the session (or SDK client) for N
  concurrent streams; ``max_tokens`` (optional) is for answers longer than the model's output limit;
* ``{"op": "run", "shape": "text"|"tool", "deltas": D, "streams": S, "loops": L}``: L times, S streams
  at once; answers CPU and wall seconds and what was received;
* ``{"op": "memory", "shape": ..., "deltas": D, "keep": bool}``: one stream under ``tracemalloc``;
* ``{"op": "profile", ..., "path": P}``: a ``run`` under ``cProfile``, stats written to P;
* ``{"op": "close"}``, ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import json
import logging
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Final, Protocol

__all__ = ["CLIENTS", "Received", "main"]

KEY: Final = "sk-ant-bench-0000"
MODEL: Final = "claude-sonnet-4-6"
#: What the axio transports send for this model (its max_output_tokens); the others send the same.
MAX_TOKENS: Final = 64000
HEADERS: Final = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}


def ask(shape: str, deltas: int) -> str:
    # Must match compare_sim.ask (not imported: this file runs in venvs without the project).
    return f"bench:{shape}:{deltas}"


@dataclass(slots=True)
class Received:
    """What one stream delivered: a check that every client got the whole answer."""

    deltas: int = 0
    text_chars: int = 0
    json_chars: int = 0
    body_bytes: int = 0
    sse_events: int = 0


class Client(Protocol):
    async def open(self, url: str, pool: int, max_tokens: int) -> None: ...

    async def one(self, shape: str, deltas: int) -> Received: ...

    async def collect(self, shape: str, deltas: int, keep: bool) -> tuple[str, Received]:
        """One stream whose text is kept (``keep``) or only counted; for the memory measurement."""
        ...

    async def close(self) -> None: ...

    def versions(self) -> dict[str, str]: ...


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


# ── plain aiohttp: the floors ────────────────────────────────────────────────────────────────


class _AiohttpBase:
    def __init__(self) -> None:
        self._aiohttp: Any = None
        self._session: Any = None
        self._url = ""
        self._bodies: dict[tuple[str, int], bytes] = {}
        self._max_tokens = MAX_TOKENS

    async def open(self, url: str, pool: int, max_tokens: int) -> None:
        self._max_tokens = max_tokens
        self._aiohttp = importlib.import_module("aiohttp")
        self._session = self._aiohttp.ClientSession(connector=self._aiohttp.TCPConnector(limit=pool))
        self._url = url.rstrip("/") + "/messages"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def versions(self) -> dict[str, str]:
        return {"aiohttp": _version("aiohttp")}

    def _body(self, shape: str, deltas: int) -> bytes:
        body = self._bodies.get((shape, deltas))
        if body is None:
            payload = {
                "model": MODEL,
                "max_tokens": self._max_tokens,
                "stream": True,
                "messages": [{"role": "user", "content": ask(shape, deltas)}],
            }
            body = self._bodies[(shape, deltas)] = json.dumps(payload).encode()
        return body

    async def one(self, shape: str, deltas: int) -> Received:
        raise NotImplementedError

    async def collect(self, shape: str, deltas: int, keep: bool) -> tuple[str, Received]:
        """The floors keep nothing: their peak is what reading the body costs."""
        return "", await self.one(shape, deltas)


class RawRead(_AiohttpBase):
    """The floor: POST, read the body bytes, nothing else."""

    async def one(self, shape: str, deltas: int) -> Received:
        async with self._session.post(self._url, data=self._body(shape, deltas), headers=HEADERS) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
            content = response.content
            size = 0
            while chunk := await content.readany():
                size += len(chunk)
        return Received(body_bytes=size)


class ParseFloor(_AiohttpBase):
    """The parse floor: the body split into lines, ``json.loads`` of every ``data:`` line."""

    async def one(self, shape: str, deltas: int) -> Received:
        loads = json.loads
        async with self._session.post(self._url, data=self._body(shape, deltas), headers=HEADERS) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
            content = response.content
            size = events = 0
            tail = b""
            while chunk := await content.readany():
                size += len(chunk)
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                for line in lines:
                    if line.startswith(b"data:"):
                        loads(line[5:])
                        events += 1
        return Received(body_bytes=size, sse_events=events)


# ── the axio transports: this project's and the published 0.12.2 ─────────────────────────────


class _AxioTransport:
    """Any axio ``CompletionTransport`` with a ``session=``: the published package or this project."""

    def __init__(self) -> None:
        self._session: Any = None
        self._transport: Any = None
        self._messages: dict[tuple[str, int], list[Any]] = {}
        self._text_delta: Any = None
        self._tool_delta: Any = None

    def _make(self, module: Any, url: str, session: Any, max_tokens: int) -> Any:
        # 0.12.2 has no max_tokens setting: it always asks for the model's limit (MAX_TOKENS).
        return module.AnthropicTransport(api_key=KEY, base_url=url, session=session)

    async def open(self, url: str, pool: int, max_tokens: int) -> None:
        aiohttp = importlib.import_module("aiohttp")
        module = importlib.import_module("axio_transport_anthropic")
        events = importlib.import_module("axio.events")
        self._text_delta, self._tool_delta = events.TextDelta, events.ToolInputDelta
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=pool))
        self._transport = self._make(module, url, self._session, max_tokens)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def versions(self) -> dict[str, str]:
        module = importlib.import_module("axio_transport_anthropic")
        return {
            "axio-transport-anthropic": _version("axio-transport-anthropic"),
            "imported_from": os.path.dirname(module.__file__ or ""),
            "axio": _version("axio"),
            "aiohttp": _version("aiohttp"),
        }

    def _conversation(self, shape: str, deltas: int) -> list[Any]:
        messages = self._messages.get((shape, deltas))
        if messages is None:
            message = importlib.import_module("axio.messages").Message
            text_block = importlib.import_module("axio.blocks").TextBlock
            messages = [message(role="user", content=[text_block(text=ask(shape, deltas))])]
            self._messages[(shape, deltas)] = messages
        return messages

    async def one(self, shape: str, deltas: int) -> Received:
        text_delta, tool_delta = self._text_delta, self._tool_delta
        got = Received()
        async for event in self._transport.stream(self._conversation(shape, deltas), [], ""):
            kind = type(event)
            if kind is text_delta:
                got.deltas += 1
                got.text_chars += len(event.delta)
            elif kind is tool_delta:
                got.deltas += 1
                got.json_chars += len(event.partial_json)
        return got

    async def collect(self, shape: str, deltas: int, keep: bool) -> tuple[str, Received]:
        text_delta = self._text_delta
        got = Received()
        text = ""
        async for event in self._transport.stream(self._conversation(shape, deltas), [], ""):
            if type(event) is text_delta:
                got.deltas += 1
                got.text_chars += len(event.delta)
                if keep:
                    # In place: CPython grows a str it holds the only reference to, so the text
                    # costs its own size and no list of pieces.
                    text += event.delta
        return text, got


class Published(_AxioTransport):
    """``axio-transport-anthropic==0.12.2`` from PyPI, in its own venv."""


class OursOff(_AxioTransport):
    """This project, ``telemetry=None``."""

    def _make(self, module: Any, url: str, session: Any, max_tokens: int) -> Any:
        return module.AnthropicTransport(
            api_key=KEY, base_url=url, session=session, telemetry=None, max_tokens=max_tokens
        )


class OursFull(_AxioTransport):
    """This project with every telemetry sink on and really recording.

    Traces: an SDK ``TracerProvider``, ``BatchSpanProcessor`` to an exporter that drops the batches
    (in process: no network, but spans are built, ended, queued and handed over as usual). Metrics:
    Prometheus series in a fresh ``CollectorRegistry`` (the OpenTelemetry meter stays the global
    no-op). Logs: the project's own ``telemetry.setup()`` logging, structlog rendering JSON at INFO,
    to ``/dev/null``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._provider: Any = None
        self._handle: Any = None
        self._devnull: Any = None

    def _make(self, module: Any, url: str, session: Any, max_tokens: int) -> Any:
        trace = importlib.import_module("opentelemetry.sdk.trace")
        export = importlib.import_module("opentelemetry.sdk.trace.export")
        prometheus = importlib.import_module("prometheus_client")
        telemetry = importlib.import_module("axio_transport_anthropic.telemetry")

        if self._provider is None:  # once per process; each workload gets a fresh registry below

            class DropSpans(export.SpanExporter):  # type: ignore[misc,name-defined]
                def export(self, spans: Any) -> Any:
                    return export.SpanExportResult.SUCCESS

            self._provider = trace.TracerProvider()
            self._provider.add_span_processor(export.BatchSpanProcessor(DropSpans()))
            self._devnull = open(os.devnull, "w")  # noqa: SIM115 - the log stream, open for the process's life
            self._handle = telemetry.setup(
                metrics_port=None,
                registry=prometheus.CollectorRegistry(),
                log_format="json",
                log_level=logging.INFO,
                log_stream=self._devnull,
            )
        config = telemetry.TelemetryConfig(tracer_provider=self._provider, registry=prometheus.CollectorRegistry())
        return module.AnthropicTransport(
            api_key=KEY, base_url=url, session=session, telemetry=config, max_tokens=max_tokens
        )

    def versions(self) -> dict[str, str]:
        return {
            **super().versions(),
            "opentelemetry-sdk": _version("opentelemetry-sdk"),
            "structlog": _version("structlog"),
        }


# ── the official SDK ─────────────────────────────────────────────────────────────────────────


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
        return {"anthropic": _version("anthropic"), "httpx2": _version("httpx2"), "httpx": _version("httpx")}

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


CLIENTS: Final[dict[str, Callable[[], Client]]] = {
    "raw-read": RawRead,
    "parse-floor": ParseFloor,
    "published": Published,
    "sdk-create": SdkCreate,
    "sdk-stream": SdkStream,
    "ours-off": OursOff,
    "ours-full": OursFull,
}


# ── the command loop ─────────────────────────────────────────────────────────────────────────


async def _streams(client: Client, shape: str, deltas: int, streams: int, loops: int) -> list[Received]:
    results: list[Received] = []
    for _ in range(loops):
        if streams == 1:
            results.append(await client.one(shape, deltas))
        else:
            results.extend(await asyncio.gather(*(client.one(shape, deltas) for _ in range(streams))))
    return results


def _summary(results: list[Received]) -> dict[str, Any]:
    first = results[0]
    return {"per_stream": _fields(first), "all_same": all(r == first for r in results)}


def _fields(got: Received) -> dict[str, int]:
    return {
        "deltas": got.deltas,
        "text_chars": got.text_chars,
        "json_chars": got.json_chars,
        "body_bytes": got.body_bytes,
        "sse_events": got.sse_events,
    }


@dataclass
class _Collected:
    seconds: float = 0.0
    full_passes: int = 0


@contextmanager
def _gc_time() -> Iterator[_Collected]:
    collected = _Collected()
    started = 0.0

    def on_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.thread_time()
        else:
            collected.seconds += time.thread_time() - started
            collected.full_passes += info["generation"] == 2

    gc.callbacks.append(on_gc)
    try:
        yield collected
    finally:
        gc.callbacks.remove(on_gc)


async def _measure(client: Client, command: dict[str, Any], profile: cProfile.Profile | None) -> dict[str, Any]:
    shape, deltas = str(command["shape"]), int(command["deltas"])
    streams, loops = int(command.get("streams", 1)), int(command.get("loops", 1))
    gc.collect()
    if profile is not None:
        profile.enable()
    before = resource.getrusage(resource.RUSAGE_SELF)
    with _gc_time() as collected:
        wall = time.perf_counter()
        cpu = time.process_time()
        results = await _streams(client, shape, deltas, streams, loops)
        cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    if profile is not None:
        profile.disable()
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        # Part of cpu_s: the cycle collector's passes, which a profiler charges to whatever allocated.
        "gc_s": collected.seconds,
        "gc_full_passes": collected.full_passes,
        # Voluntary switches: the process blocked, waiting for data (it outran the server).
        # Involuntary ones: something else on the machine took its core.
        "waits": after.ru_nvcsw - before.ru_nvcsw,
        "preempted": after.ru_nivcsw - before.ru_nivcsw,
        "streams": len(results),
        **_summary(results),
    }


async def _memory(client: Client, command: dict[str, Any]) -> dict[str, Any]:
    shape, deltas, keep = str(command["shape"]), int(command["deltas"]), bool(command["keep"])
    await client.collect(shape, deltas, keep)  # warm: first-call caches are not the stream's cost
    gc.collect()
    tracemalloc.start()
    text, got = await client.collect(shape, deltas, keep)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "peak_bytes": peak,
        "after_bytes": current,
        "text_chars": len(text),
        "text_bytes": sys.getsizeof(text) if keep else 0,
        "received": _fields(got),
    }


async def _handle(client: Client, command: dict[str, Any]) -> dict[str, Any]:
    match command["op"]:
        case "open":
            await client.open(str(command["url"]), int(command["pool"]), int(command.get("max_tokens", MAX_TOKENS)))
            return {"versions": client.versions()}
        case "run":
            return await _measure(client, command, None)
        case "profile":
            profile = cProfile.Profile()
            result = await _measure(client, command, profile)
            profile.dump_stats(str(command["path"]))
            return result
        case "memory":
            return await _memory(client, command)
        case "close":
            await client.close()
            return {}
        case other:
            raise ValueError(f"unknown op {other!r}")


async def _serve(name: str) -> None:
    client = CLIENTS[name]()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _reply({"ready": name, "python": sys.version.split()[0]})
    try:
        while line := await reader.readline():
            command = json.loads(line)
            if command["op"] == "quit":
                break
            try:
                _reply({"ok": True, **await _handle(client, command)})
            except Exception as exc:
                _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        await client.close()


def _reply(answer: dict[str, Any]) -> None:
    sys.stdout.write("@@ " + json.dumps(answer) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description="A client process of compare.py (see its docstring).")
    parser.add_argument("client", choices=sorted(CLIENTS))
    args = parser.parse_args()
    asyncio.run(_serve(args.client))


if __name__ == "__main__":
    main()
