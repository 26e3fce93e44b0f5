"""The command line as a whole: every option and argument says what it is for, and the long-running
commands log JSON when asked."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import click
import pytest

from axio_transport_anthropic.cli import main

from .support import simulate_process


def _commands(command: click.Command, path: str = "axio-anthropic") -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}")


def test_every_option_and_argument_has_help() -> None:
    missing = []
    for path, command in _commands(main):
        if not (command.help or command.short_help):
            missing.append(path)
        for param in command.params:
            text = getattr(param, "help", None) if isinstance(param, click.Option) else None
            if isinstance(param, click.Argument):
                # click arguments take no help=; the command's docstring must name them.
                text = param.human_readable_name if param.human_readable_name in (command.help or "") else None
            if not (text or "").strip():
                missing.append(f"{path} {param.opts[0] if param.opts else param.name}")
    assert missing == []


@pytest.mark.timeout(60)
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_simulate_logs_json_lines() -> None:
    with simulate_process("--log-format", "json", stderr=subprocess.PIPE) as (proc, base_url):
        request = urllib.request.Request(
            f"{base_url}/models", headers={"x-api-key": "k", "anthropic-version": "2023-06-01"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any(line["event"] == "GET /v1/models -> 200" and line["level"] == "info" for line in lines), err
