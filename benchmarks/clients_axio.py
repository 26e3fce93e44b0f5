"""The axio transports: the published 0.12.2 (``published``) and this project (``ours-off``, ``ours-full``).

Runs in every client's venv: the standard library only at module level (see compare_client.py).
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from client_interface import KEY, Received, ask, version_of

__all__ = ["OursFull", "OursOff", "Published"]


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
            "axio-transport-anthropic": version_of("axio-transport-anthropic"),
            "imported_from": os.path.dirname(module.__file__ or ""),
            "axio": version_of("axio"),
            "aiohttp": version_of("aiohttp"),
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
            "opentelemetry-sdk": version_of("opentelemetry-sdk"),
            "structlog": version_of("structlog"),
        }
