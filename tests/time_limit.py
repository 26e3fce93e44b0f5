"""A hard time limit on every test, even one whose loop holds the GIL: a hang fails fast, with its stack.

pytest-timeout (the ``timeout`` ini value or a ``@pytest.mark.timeout(N)`` mark) fails a test
that overruns with its stack and goes on with the session. Both its methods need the interpreter,
though: its SIGALRM handler runs between bytecodes and its timer thread needs the GIL, so a
C-level loop that never lets go (``sum(range(10**15))``) outlasts both. So each test also arms
faulthandler's watchdog, a C thread that needs no GIL, at the same limit plus
``time_limit_grace`` seconds: it writes every thread's stack to stderr and ends the process.

Loaded by ``tests/conftest.py``; another pytest loads it with ``-p tests.time_limit`` (with the
repository root importable, e.g. ``python -m pytest`` from there).
"""

from __future__ import annotations

import faulthandler
import os
from collections.abc import Generator

import pytest

__all__ = ["item_limit"]

GRACE_INI = "time_limit_grace"
_STDERR = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        GRACE_INI,
        "seconds past a test's timeout at which faulthandler dumps every thread's stack and exits",
        default="10",
    )


def pytest_configure(config: pytest.Config) -> None:
    # fd 2 now, while no test captures it: the dump must reach a person, not a capture file.
    config.stash[_STDERR] = os.dup(2)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STDERR in config.stash:
        os.close(config.stash[_STDERR])
        del config.stash[_STDERR]


def item_limit(item: pytest.Item) -> float | None:
    """The test's timeout as pytest-timeout reads it: its mark, else --timeout, else
    PYTEST_TIMEOUT, else the ini value. ``None`` or 0: no limit."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
        return None if value is None else float(value)
    option = item.config.getoption("timeout", None)
    if option is not None:
        return float(option)
    if os.environ.get("PYTEST_TIMEOUT"):
        return float(os.environ["PYTEST_TIMEOUT"])
    try:
        ini = item.config.getini("timeout")
    except ValueError:  # pytest-timeout is not installed: no ini value to read
        return None
    return float(ini) if ini else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    limit = item_limit(item)
    # At a debugger's prompt a person is the one waiting.
    armed = bool(limit) and not item.config.getoption("usepdb", False) and _STDERR in item.config.stash
    if armed:
        assert limit is not None
        grace = float(item.config.getini(GRACE_INI))
        faulthandler.dump_traceback_later(limit + grace, exit=True, file=item.config.stash[_STDERR])
    try:
        return (yield)
    finally:
        if armed:
            faulthandler.cancel_dump_traceback_later()
