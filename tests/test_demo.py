"""The demo does what it says: both tools for the question it asks, the endpoint named as it is,
``/metrics`` advertised while it is served, and its options checked."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from axio_transport_anthropic.cli import main
from axio_transport_anthropic.demo import run_demo
from axio_transport_anthropic.simulator import Simulator

from .otel_globals import clean_globals  # noqa: F401
from .support import simulate_process

pytestmark = [pytest.mark.usefixtures("clean_globals"), pytest.mark.timeout(60)]


async def test_the_default_question_calls_both_tools() -> None:
    out = io.StringIO()
    assert await run_demo(out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert "[calling utc_now]" in text and "[calling multiply]" in text, text
    assert "[multiply -> 391]" in text, text
    assert "391" in text.split("[multiply -> 391]", 1)[1], "the answer uses the product"


async def test_a_base_url_from_the_environment_is_named_not_called_the_anthropic_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Simulator() as sim:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-any")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
        out = io.StringIO()
        assert await run_demo(out=out) == 0, out.getvalue()
        served, url = len(sim.requests), sim.base_url
    text = out.getvalue()
    assert served >= 2
    assert f"via ANTHROPIC_BASE_URL={url}" in text, text
    assert "Anthropic API" not in text


class _Probe(io.StringIO):
    """Notes, as each /metrics URL is printed, whether it can be connected to right then."""

    def __init__(self) -> None:
        super().__init__()
        self.served: list[bool] = []

    def write(self, text: str) -> int:
        if "/metrics" in text:
            port = int(text.split("/metrics", 1)[0].rsplit(":", 1)[1])
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                self.served.append(True)
            except OSError:
                self.served.append(False)
        return super().write(text)


async def test_metrics_are_advertised_while_served_and_before_the_answer() -> None:
    out = _Probe()
    assert await run_demo(out=out) == 0, out.getvalue()
    text = out.getvalue()
    advert = text.index("/metrics")
    assert advert < text.index("[done:"), "the URL comes while the agent runs, not as the demo exits"
    assert out.served and all(out.served)
    assert "while the program runs" not in text


@pytest.fixture
def simulator_process() -> Iterator[str]:
    """``axio-anthropic simulate`` in another process (the CLI runs its own event loop)."""
    with simulate_process("--quiet") as (_, base_url):
        yield base_url


def test_model_and_base_url_options(simulator_process: str) -> None:
    result = CliRunner().invoke(
        main,
        ["demo", "--model", "claude-haiku-4-5", "--base-url", simulator_process],
        env={"ANTHROPIC_API_KEY": "sk-any"},
    )
    assert result.exit_code == 0, result.output
    assert f"axio agent on claude-haiku-4-5 via {simulator_process}" in result.stdout
    assert "[done: end_turn" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--question", ""], {}, "--question"),
        (["--question", "   "], {}, "--question"),
        (["--model", "gpt-4o"], {}, "--model"),
        (["--base-url", "ftp://x"], {"ANTHROPIC_API_KEY": "k"}, "http://"),
        (["--base-url", "http://127.0.0.1:9/v1"], {"ANTHROPIC_API_KEY": ""}, "ANTHROPIC_API_KEY"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], env: dict[str, str], needle: str) -> None:
    result = CliRunner().invoke(main, ["demo", *args], env=env)
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
