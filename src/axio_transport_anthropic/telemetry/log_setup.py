"""The logs ``setup()`` configures: one handler on the root logger renders stdlib records, and
structlog renders its events the same way and writes them straight to that handler's stream.

Imported by ``setup()`` only when it configures logging.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Final, Literal, TextIO

import structlog

from ..redaction import mask_keys
from .logs import add_trace_context

__all__ = ["install_logging"]


def install_logging(
    log_format: Literal["json", "console"], level: int | str, stream: TextIO, undo: list[Callable[[], None]]
) -> None:
    """One handler on the root logger renders stdlib records; structlog events (the transport's and
    the host's) are rendered by structlog the same way and written straight to that handler's
    stream, under its lock: a log line costs half what a round trip through stdlib records does
    (``benchmarks/telemetry_hooks.py``). Stdlib logger levels still decide what is written."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
    ]
    renderer: list[Any]
    if log_format == "json":
        # format_exc_info: the plain traceback text. Not dict_tracebacks, which can hold locals.
        renderer = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(_json)]
    else:
        # Not the default formatter: rich's (or better-exceptions') prints every frame's locals,
        # and the transport's frames hold the request headers, API key included. A plain
        # traceback also keeps each line whole, so the mask below sees a key quoted in source.
        renderer = [
            structlog.dev.ConsoleRenderer(colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback)
        ]
    # Last: whatever a line holds (a host's message, a quoted body, a line of source in a
    # traceback), a key-shaped string in it is masked. setup() does not know the transports' keys.
    renderer.append(_masked)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(level)

    def restore_stdlib() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_level)

    undo.append(restore_stdlib)

    named = structlog.stdlib.LoggerFactory()
    writers: dict[str, _LineWriter] = {}

    def writer(*args: Any) -> _LineWriter:
        # By name, once: stdlib's getLogger takes its module lock on every call.
        if not args or not isinstance(args[0], str):
            return _LineWriter(handler, named(*args))
        found = writers.get(args[0])
        if found is None:
            found = writers[args[0]] = _LineWriter(handler, named(*args))
        return found

    was_configured = structlog.is_configured()
    previous = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            *renderer,
        ],
        logger_factory=writer,
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached, so that shutdown() really puts the previous configuration back.
        cache_logger_on_first_use=False,
    )

    def restore_structlog() -> None:
        if was_configured:
            structlog.configure(**previous)
        else:
            structlog.reset_defaults()

    undo.append(restore_structlog)


def _masked(_: Any, __: str, line: str) -> str:
    return mask_keys(line)


def _fallback(value: Any) -> Any:
    # As structlog's own JSONRenderer: an object's __structlog__(), else its repr.
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


_ENCODER: Final = json.JSONEncoder(default=_fallback)


def _json(event: Any, **_: Any) -> str:
    """JSON of one event, with one encoder for the process (``json.dumps`` builds one per call)."""
    return _ENCODER.encode(event)


class _LineWriter:
    """structlog's logger under ``setup()``: the name and levels of the stdlib logger of the same
    name, and each rendered line written to the root handler's stream as that handler would."""

    __slots__ = ("_handler", "_stdlib")

    def __init__(self, handler: logging.StreamHandler[TextIO], stdlib: logging.Logger) -> None:
        self._handler = handler
        self._stdlib = stdlib

    @property
    def name(self) -> str:
        return self._stdlib.name

    @property
    def level(self) -> int:
        return self._stdlib.level

    @property
    def disabled(self) -> bool:
        return self._stdlib.disabled

    def getEffectiveLevel(self) -> int:
        return self._stdlib.getEffectiveLevel()

    def isEnabledFor(self, level: int) -> bool:
        return self._stdlib.isEnabledFor(level)

    def msg(self, line: str) -> None:
        handler = self._handler
        with handler.lock or contextlib.nullcontext():
            try:
                handler.stream.write(line + handler.terminator)
                handler.flush()
            except Exception:  # as a stdlib handler does: a failing log stream never fails the caller
                handler.handleError(logging.makeLogRecord({"msg": line, "name": self._stdlib.name}))

    debug = info = warning = warn = error = exception = critical = fatal = msg
