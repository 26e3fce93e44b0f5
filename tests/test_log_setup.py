"""The logs ``setup()`` installs: structlog events written straight to the root handler's stream,
rendered as stdlib records are, still governed by stdlib logger levels, never failing the caller."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pytest
import structlog
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import Fault, Simulator
from axio_transport_anthropic.telemetry import TelemetryConfig
from axio_transport_anthropic.telemetry.logs import LOGGER_NAME, REQUEST_END, REQUEST_RETRY
from axio_transport_anthropic.telemetry.setup import TelemetryHandle, setup

from .support import collect


@pytest.fixture
def logs() -> Iterator[tuple[io.StringIO, TelemetryHandle]]:
    structlog.reset_defaults()
    stream = io.StringIO()
    handle = setup(metrics_port=None, registry=CollectorRegistry(), log_stream=stream, log_level=logging.INFO)
    try:
        yield stream, handle
    finally:
        handle.shutdown()
        logging.getLogger(LOGGER_NAME).setLevel(logging.NOTSET)
        structlog.reset_defaults()


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _ours(stream: io.StringIO) -> list[str]:
    return [line["event"] for line in _lines(stream) if line["logger"] == LOGGER_NAME]


async def test_stdlib_levels_still_decide_what_the_transport_writes(
    logs: tuple[io.StringIO, TelemetryHandle], sim: Simulator, transport: AnthropicTransport
) -> None:
    stream, _ = logs
    transport.telemetry = TelemetryConfig(traces=False, metrics=False)
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)
    sim.inject(Fault.rate_limited(retry_after=0.01))
    await collect(transport)
    assert _ours(stream) == [REQUEST_RETRY]

    logging.getLogger(LOGGER_NAME).setLevel(logging.NOTSET)  # back to the root's INFO
    await collect(transport)
    assert _ours(stream) == [REQUEST_RETRY, REQUEST_END]


def test_host_structlog_calls_render_like_stdlib_records(logs: tuple[io.StringIO, TelemetryHandle]) -> None:
    stream, _ = logs
    log = structlog.get_logger("host.app")
    log.info("took %d ms", 12, user="ann")
    log.debug("not at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    logging.getLogger("host.stdlib").warning("plain %s", "line")
    took, failed, plain = _lines(stream)
    assert {k: took[k] for k in ("event", "user", "level", "logger")} == {
        "event": "took 12 ms",
        "user": "ann",
        "level": "info",
        "logger": "host.app",
    }
    assert failed["level"] == "error" and "ValueError: boom" in failed["exception"]
    assert plain["event"] == "plain line" and plain["logger"] == "host.stdlib"
    assert set(took) - {"user"} == set(plain)  # the same fields either way: timestamp, level, logger


class _Broken(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("the log stream is gone")


def test_a_failing_log_stream_never_fails_the_caller(capsys: pytest.CaptureFixture[str]) -> None:
    structlog.reset_defaults()
    handle = setup(metrics_port=None, registry=CollectorRegistry(), log_stream=_Broken())
    try:
        structlog.get_logger("host.app").warning("into the void")
    finally:
        handle.shutdown()
        structlog.reset_defaults()
    assert "the log stream is gone" in capsys.readouterr().err  # reported as stdlib handlers do


class _Shaped:
    def __structlog__(self) -> dict[str, int]:
        return {"rows": 3}


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def test_values_json_cannot_hold_render_as_structlog_renders_them(logs: tuple[io.StringIO, TelemetryHandle]) -> None:
    stream, _ = logs
    structlog.get_logger("host.app").info("values", shaped=_Shaped(), opaque=_Opaque(), text="é")
    (line,) = _lines(stream)
    assert (line["shaped"], line["opaque"], line["text"]) == ({"rows": 3}, "<opaque>", "é")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


FORMATS = [("console", io.StringIO), ("console", _Terminal), ("json", io.StringIO)]


@contextmanager
def _logging_to(stream: io.StringIO, log_format: Literal["json", "console"]) -> Iterator[None]:
    structlog.reset_defaults()
    handle = setup(metrics_port=None, registry=CollectorRegistry(), log_format=log_format, log_stream=stream)
    try:
        yield
    finally:
        handle.shutdown()
        structlog.reset_defaults()


def _fail(value: str) -> None:
    held = value  # a local, which a traceback that shows locals prints
    raise ValueError(f"boom after {len(held)} characters")


@pytest.mark.parametrize(("log_format", "stream_type"), FORMATS)
def test_tracebacks_show_no_locals(log_format: Literal["json", "console"], stream_type: type[io.StringIO]) -> None:
    stream = stream_type()
    hidden = "local-" + "value-0123456789"  # built here: the lines of source a traceback quotes hold no copy
    with _logging_to(stream, log_format):
        try:
            _fail(hidden)
        except ValueError:
            structlog.get_logger("host.app").exception("failed")
            logging.getLogger("host.stdlib").exception("failed too")
    out = stream.getvalue()
    assert out.count("Traceback (most recent call last)") == 2
    assert out.count("ValueError: boom after 22 characters") == 2
    assert hidden not in out


@pytest.mark.parametrize(("log_format", "stream_type"), FORMATS)
def test_a_key_shaped_string_is_masked_in_every_line(
    log_format: Literal["json", "console"], stream_type: type[io.StringIO]
) -> None:
    stream = stream_type()
    key = "sk-ant-api03-" + "abcdefghij0123456789"
    with _logging_to(stream, log_format):
        structlog.get_logger("host.app").warning(f"pasted {key} here", header=key)
        logging.getLogger("host.stdlib").warning("the key is %s", key)
        try:
            raise RuntimeError(f"a proxy quoted {key}")
        except RuntimeError:
            logging.getLogger("host.stdlib").exception("failed")
    out = stream.getvalue()
    assert key not in out and out.count("sk-***") == 4, out
