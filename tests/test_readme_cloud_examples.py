"""The README's worked examples for Vertex AI and Bedrock run as written, pointed at the simulator
the way its ``simulate --provider`` hints say: only through the environment their transports read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from axio_transport_anthropic.providers import SIMULATOR_LOCATION
from axio_transport_anthropic.simulator import Reply, Simulator
from axio_transport_anthropic.simulator.bedrock_auth import TEST_KEYS

from .bedrock_support import isolate_aws
from .vertex_support import use_service_account

README = Path(__file__).resolve().parent.parent / "README.md"


def example(marker: str) -> str:
    """The README's Python block containing ``marker``, its ``asyncio.run(main())`` left out."""
    blocks: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    [found] = [block for block in blocks if marker in block]
    assert "asyncio.run(main())" in found
    return found.replace("asyncio.run(main())", "")


async def run_example(source: str, capsys: pytest.CaptureFixture[str]) -> str:
    namespace: dict[str, Any] = {}
    exec(compile(source, str(README), "exec"), namespace)
    await namespace["main"]()
    return capsys.readouterr().out


async def test_the_vertex_ai_example(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Simulator() as sim:
        use_service_account(sim, monkeypatch, tmp_path)
        monkeypatch.setenv("ANTHROPIC_VERTEX_BASE_URL", sim.base_url)
        sim.enqueue(Reply.text("Io, Europa, Ganymede."))
        out = await run_example(example("VertexAITransport(project="), capsys)
        [request] = sim.requests
    assert out.strip() == "Io, Europa, Ganymede."
    assert request.path == (
        f"/v1/projects/my-project/locations/{SIMULATOR_LOCATION}/publishers/anthropic/models/"
        "claude-haiku-4-5@20251001:streamRawPredict"
    )


async def test_the_bedrock_example(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_KEYS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_KEYS.secret_access_key)
    async with Simulator() as sim:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", sim.bedrock.endpoint)
        sim.enqueue(Reply.text("Titan, Enceladus, Mimas."))
        out = await run_example(example("BedrockTransport(aws_region="), capsys)
        [request] = sim.requests
    assert out.strip() == "Titan, Enceladus, Mimas."
    assert request.path == "/model/global.anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream"
    assert "/us-west-2/bedrock/aws4_request" in request.headers["authorization"]
