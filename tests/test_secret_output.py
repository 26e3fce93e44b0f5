"""No output carries the API key: each log format times each way a call can fail, run for real
against loopback servers, then every byte written, raised, rendered or warned is searched for
the key and for any ten characters of it.

The host side is what an application does with a failure: log it with its traceback as axio's
agent does (``logging.error(..., exc_info=...)``), print it, render it with rich. Two keys run:
one shaped like an Anthropic key and one no key-shaped mask can match.
"""

from __future__ import annotations

import asyncio
import io
import logging
import traceback
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import aiohttp
import pytest
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.traceback import Traceback

from axio_transport_anthropic import AnthropicTransport, APIStatusError
from axio_transport_anthropic.simulator import Fault, Simulator
from axio_transport_anthropic.telemetry.logs import REQUEST_CANCELLED, REQUEST_ERROR
from axio_transport_anthropic.telemetry.setup import setup

from .gateway import PLAIN_KEY, SK_KEY, closed_port_url, echo_gateway, fragments
from .support import collect

FORMATS = ("console", "console_tty", "json", "stdlib", "host_structlog")
PATHS = (
    "wrong_key",
    "unreachable",
    "reset",
    "timeout",
    "server_errors",
    "in_stream",
    "echo_headers",
    "echo_error",
    "echo_cut",
    "echo_html",
    "cancelled",
)


class _Tty(io.StringIO):
    """A stream that says it is a terminal: the console format colours it."""

    def isatty(self) -> bool:
        return True


@contextmanager
def _output(log_format: str) -> Iterator[io.StringIO]:
    """Logging configured one way, everything it writes going to the stream yielded."""
    structlog.reset_defaults()
    stream = _Tty() if log_format == "console_tty" else io.StringIO()
    root = logging.getLogger()
    try:
        if log_format in ("console", "console_tty", "json"):
            handle = setup(
                metrics_port=None,
                registry=CollectorRegistry(),
                log_format="json" if log_format == "json" else "console",
                log_level=logging.DEBUG,
                log_stream=stream,
            )
            try:
                yield stream
            finally:
                handle.shutdown()
        else:  # a host with plain logging and no setup(), and for "host_structlog" its own structlog pipeline
            if log_format == "host_structlog":
                structlog.configure(
                    processors=[
                        structlog.processors.add_log_level,
                        structlog.processors.format_exc_info,
                        structlog.processors.JSONRenderer(),
                    ],
                    logger_factory=structlog.PrintLoggerFactory(stream),
                )
            handler, level = logging.StreamHandler(stream), root.level
            root.addHandler(handler)
            root.setLevel(logging.DEBUG)
            try:
                yield stream
            finally:
                root.removeHandler(handler)
                root.setLevel(level)
    finally:
        structlog.reset_defaults()


@asynccontextmanager
async def _base_url(path: str, key: str) -> AsyncIterator[str]:
    """Where a transport must point to fail by ``path``."""
    slow = path in ("timeout", "cancelled")
    async with (
        Simulator(api_key="other" if path == "wrong_key" else None, first_byte_delay=5.0 if slow else 0.0) as sim,
        echo_gateway() as gateway,
    ):
        if path == "reset":
            sim.inject(Fault.reset(), Fault.reset(after_events=2))
        elif path == "server_errors":
            sim.inject(Fault.server_error(500), Fault.server_error(503))
        elif path == "in_stream":
            sim.inject(*[Fault.stream_error("api_error", f"upstream saw {key}", after_events=1)] * 2)
        if path == "unreachable":
            yield closed_port_url()
        elif path.startswith("echo_"):
            yield f"{gateway}/{path.removeprefix('echo_')}/v1"
        else:
            yield sim.base_url


async def _fail(path: str, key: str) -> tuple[BaseException, AnthropicTransport]:
    """Run one stream that fails by ``path``; its exception, with its traceback and causes."""
    async with _base_url(path, key) as base_url:
        # Short waits: the two attempts of a path take milliseconds, a timeout a tenth of a second.
        transport = AnthropicTransport(
            api_key=key,
            base_url=base_url,
            max_retries=1,
            retry_base_delay=0.001,
            retry_max_delay=0.01,
            first_byte_timeout=0.1,
        )
        del key  # the traceback starts in _outcome: every local in it is the library's
        async with transport:
            return await _outcome(path, transport), transport


async def _outcome(path: str, transport: AnthropicTransport) -> BaseException:
    task = asyncio.create_task(collect(transport))
    if path == "cancelled":
        await asyncio.sleep(0.05)
        task.cancel()
    await asyncio.wait([task], timeout=10)
    assert task.done(), f"{path} hung"
    try:
        task.result()
    except (Exception, asyncio.CancelledError) as exc:
        return exc
    raise AssertionError(f"{path} did not fail")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _as_a_host_shows_it(exc: BaseException, transport: AnthropicTransport, structured: bool) -> list[str]:
    """What an application does with a failure; returns what it printed itself."""
    logging.getLogger("axio.agent").error("Transport error: %s", exc, exc_info=exc)  # as axio's agent logs it
    if structured:
        structlog.get_logger("host.app").error("transport failed", exc_info=exc)
    shown = ["".join(traceback.format_exception(exc)), repr(transport)]
    return shown + [f"{cause!s} {cause!r}" for cause in _chain(exc)]


def _leaks(text: str, key: str) -> str | None:
    found = fragments(text, key)
    return f"{text.count(key)} whole copies, {len(found)} fragments" if found else None


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("log_format", FORMATS)
async def test_no_output_holds_the_key(log_format: str, path: str, capsys: pytest.CaptureFixture[str]) -> None:
    problems = []
    for key in (SK_KEY, PLAIN_KEY):
        with _output(log_format) as stream, warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            exc, transport = await _fail(path, key)
            shown = _as_a_host_shows_it(exc, transport, structured=log_format != "stdlib")
        printed = capsys.readouterr()
        logged = stream.getvalue()
        assert (REQUEST_CANCELLED if path == "cancelled" else REQUEST_ERROR) in logged
        assert "Transport error" in logged
        text = "\n".join([logged, printed.out, printed.err, *shown, *(str(w.message) for w in warned)])
        if (leak := _leaks(text, key)) is not None:
            problems.append(f"{'sk-shaped' if key is SK_KEY else 'plain'} key: {leak}")
    assert not problems, f"{log_format} / {path}: {problems}"


@pytest.mark.parametrize("path", PATHS)
async def test_a_rich_traceback_of_any_failure_holds_no_key(path: str) -> None:
    exc, _ = await _fail(path, PLAIN_KEY)
    rendered = io.StringIO()
    # aiohttp's and asyncio's frames suppressed, as hosts often do: their source holds no key, and
    # highlighting it is most of the time a render takes.
    shown = Traceback.from_exception(type(exc), exc, exc.__traceback__, suppress=[aiohttp, asyncio])
    Console(file=rendered, width=100).print(shown)
    assert type(exc).__name__ in rendered.getvalue()
    assert _leaks(rendered.getvalue(), PLAIN_KEY) is None


async def test_a_redirect_error_holds_no_key() -> None:
    exc, _ = await _fail("echo_redirect", PLAIN_KEY)
    assert _leaks("\n".join(f"{cause!s} {cause!r}" for cause in _chain(exc)), PLAIN_KEY) is None


async def test_a_redirect_to_another_host_never_takes_the_key_there() -> None:
    """aiohttp drops only Authorization on a cross-origin redirect: x-api-key would follow it."""
    received: list[dict[str, str]] = []

    async def elsewhere(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        return web.Response(status=500)

    async with _server(elsewhere) as other, _server(_redirect_to(f"{other}/v1/messages?sig=abc")) as first:
        transport = AnthropicTransport(api_key=PLAIN_KEY, base_url=f"{first}/v1", max_retries=0)
        async with transport:
            with pytest.raises(APIStatusError) as caught:
                await asyncio.wait_for(collect(transport), 10)
    assert received == []
    error = caught.value
    assert error.status == 307
    assert f"redirected to {other}/v1/messages;" in error.message and "not followed" in error.message
    assert "sig=abc" not in error.message


def _redirect_to(location: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(location=location)

    return redirect


@asynccontextmanager
async def _server(handler: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
