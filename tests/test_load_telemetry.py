"""``axio-anthropic load`` and the standard ``OTEL_*`` variables: the service name the environment
gives wins over the command's own, and the command says what became of its traces."""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner

from axio_transport_anthropic.cli import main
from axio_transport_anthropic.load import LoadConfig, run_load

from .otel_globals import clean_globals, dead_endpoint  # noqa: F401
from .otlp_receiver import OtlpReceiver

pytestmark = [pytest.mark.usefixtures("clean_globals"), pytest.mark.timeout(60)]


async def test_load_keeps_the_service_name_the_environment_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
        await run_load(LoadConfig(requests=1, concurrency=1))
        assert receiver.trace_resource()["service.name"] == "from-env"


async def test_load_names_itself_only_when_the_environment_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        await run_load(LoadConfig(requests=1, concurrency=1))
        assert receiver.trace_resource()["service.name"] == "axio-anthropic-load"


def test_load_says_what_happened_to_its_traces() -> None:
    endpoint = dead_endpoint()
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["load", "-n", "2", "-q"], env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "ANTHROPIC_API_KEY": ""}
    )
    took = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert re.search(rf"traces: export to {re.escape(endpoint)} failed: [1-9][\d,]* spans dropped", result.stdout), (
        result.stdout
    )
    assert took < 10
