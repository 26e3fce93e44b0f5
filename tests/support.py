"""Helpers shared by the tests."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import IO, Any, Final

import pytest
from axio.blocks import TextBlock
from axio.events import StreamEvent, TextDelta
from axio.messages import Message

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import Simulator
from axio_transport_anthropic.telemetry.logs import LOGGER_NAME

#: Where the transport looks for a key, a gateway's token and a base URL when given none.
ANTHROPIC_ENVIRONMENT: Final = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL")


def user(text: str) -> list[Message]:
    return [Message(role="user", content=[TextBlock(text=text)])]


async def collect(transport: AnthropicTransport, messages: list[Message] | None = None, **kw: Any) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    async for event in transport.stream(messages or user("hi"), kw.get("tools", []), kw.get("system", "")):
        events.append(event)
    return events


def text_of(events: list[Any]) -> str:
    """The answer's text, as the stream's text deltas carry it."""
    return "".join(e.delta for e in events if isinstance(e, TextDelta))


def clear_environment(monkeypatch: pytest.MonkeyPatch, *also: str) -> None:
    """None of ``ANTHROPIC_ENVIRONMENT``, nor of the names in ``also``, is set for the test."""
    for name in (*ANTHROPIC_ENVIRONMENT, *also):
        monkeypatch.delenv(name, raising=False)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages of the transport's WARNING records (not its errors)."""
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith(LOGGER_NAME)]


@contextmanager
def simulate_process(*args: str, stderr: int = subprocess.DEVNULL) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``axio-anthropic simulate --port 0 ARGS`` in another process (the CLI runs its own event
    loop): the process and the base URL it listens on. Killed after 50 s at the latest (under a
    test's 60 s limit), stopped when the block ends."""
    code = "from axio_transport_anthropic.cli import main; main()"
    with subprocess.Popen(
        [sys.executable, "-c", code, "simulate", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=os.environ.copy(),
    ) as proc:
        watchdog = threading.Timer(50, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            yield proc, proc.stdout.readline().split(" on ", 1)[1].split()[0]
        finally:
            watchdog.cancel()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            finally:
                proc.kill()


class RequestRecords(logging.Handler):
    """The ``anthropic`` fields of the transport's log records, kept while the handler is attached."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.entries: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        entry = getattr(record, "anthropic", None)
        if isinstance(entry, dict):
            self.entries.append(entry)

    def events(self) -> list[str]:
        return [entry["event"] for entry in self.entries]


@contextmanager
def request_records(level: int = logging.DEBUG) -> Iterator[RequestRecords]:
    """A ``RequestRecords`` on the transport's logger, set to ``level`` for the block (then as it was)."""
    logger = logging.getLogger(LOGGER_NAME)
    handler, previous = RequestRecords(level), logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def wait_for_line(stream: IO[str] | None, prefix: str) -> str:
    """The first line read from ``stream`` (a process's output) that starts with ``prefix``."""
    assert stream is not None
    for line in stream:
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no {prefix!r} line")


@pytest.fixture(name="sim")
async def keyless_sim() -> AsyncIterator[Simulator]:
    """The simulator with no API key of its own, in place of conftest's ``sim`` where imported:
    for routes authorized another way (Bedrock's signature, Google's tokens)."""
    async with Simulator() as server:
        yield server
