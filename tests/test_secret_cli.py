"""``axio-anthropic demo`` as a person runs it, with a key the server refuses, an unreachable URL
and a gateway quoting the key back: nothing it prints, on a pipe or on a terminal, holds any part
of the key; nor does ``axio-anthropic simulate``, which refused it."""

from __future__ import annotations

import asyncio
import os
import pty
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from .gateway import PLAIN_KEY, SK_KEY, closed_port_url, echo_gateway, fragments

CLI = Path(sys.executable).with_name("axio-anthropic")
#: Generous: a run takes about two seconds (three retries); the limit only stops a hung one.
LIMIT = 60.0

pytestmark = [
    pytest.mark.timeout(LIMIT + 30),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals and signals"),
]


def _env(key: str, base_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("OTEL_", "ANTHROPIC_"))}
    return {**env, "ANTHROPIC_API_KEY": key, "ANTHROPIC_BASE_URL": base_url, "COLUMNS": "100"}


def _drain(fd: int) -> bytes:
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:  # EIO: the terminal's other end closed
        pass
    finally:
        os.close(fd)
    return b"".join(chunks)


async def _demo(key: str, base_url: str, *, terminal: bool = False) -> str:
    """stdout and stderr of one ``axio-anthropic demo``; stderr on a pseudo-terminal if asked."""
    loop = asyncio.get_running_loop()
    main, other = pty.openpty() if terminal else (-1, -1)
    try:
        proc = await asyncio.create_subprocess_exec(
            str(CLI),
            "demo",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=other if terminal else asyncio.subprocess.PIPE,
            env=_env(key, base_url),
        )
    finally:
        if terminal:
            os.close(other)
    drained = loop.run_in_executor(None, _drain, main) if terminal else None
    try:
        async with asyncio.timeout(LIMIT):
            out, err = await proc.communicate()
            if drained is not None:
                err = await drained
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 1, out + err
    return out.decode() + err.decode(errors="replace")


@asynccontextmanager
async def _simulate(api_key: str) -> AsyncIterator[tuple[str, list[str]]]:
    """``axio-anthropic simulate --api-key ...``: its base URL, and (once stopped) what it printed."""
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "simulate",
        "--port",
        "0",
        "--api-key",
        api_key,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=_env("", ""),
    )
    printed: list[str] = []
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(LIMIT):
            first = (await proc.stdout.readline()).decode()
        printed.append(first)
        base_url = first.split(" on ")[1].split()[0]
        yield base_url, printed
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(LIMIT):
            rest, _ = await proc.communicate()
        printed.append(rest.decode())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_the_demo_prints_no_part_of_the_key() -> None:
    async with _simulate("other") as (simulator, sim_printed), echo_gateway() as gateway:
        runs = {
            ("wrong key", "sk-shaped", "pipe"): _demo(SK_KEY, simulator),
            ("wrong key", "plain", "terminal"): _demo(PLAIN_KEY, simulator, terminal=True),
            ("unreachable", "plain", "pipe"): _demo(PLAIN_KEY, closed_port_url()),
            ("gateway quoting the key", "plain", "pipe"): _demo(PLAIN_KEY, f"{gateway}/cut/v1"),
            ("gateway quoting the key", "sk-shaped", "terminal"): _demo(SK_KEY, f"{gateway}/cut/v1", terminal=True),
        }
        printed = dict(zip(runs, await asyncio.gather(*runs.values()), strict=True))
    problems = []
    for (path, shape, where), text in printed.items():
        assert "anthropic.request.error" in text and "\nerror: Anthropic " in text, text
        key = SK_KEY if shape == "sk-shaped" else PLAIN_KEY
        if found := fragments(text, key):
            problems.append(f"{path}, {shape} key, {where}: {text.count(key)} whole copies, {len(found)} fragments")
    assert not problems, problems
    simulator_output = "".join(sim_printed)
    assert "POST /v1/messages -> 401" in simulator_output
    assert not fragments(simulator_output, SK_KEY) and not fragments(simulator_output, PLAIN_KEY)
