"""``python -m tests.core_install_check``: the transport as ``pip install .`` has it, with neither the
``[vertex]`` nor the ``[bedrock]`` extra. Anthropic's API works; Vertex AI and a Bedrock transport
that has to sign are refused at construction, naming the extra; a Bedrock API key needs no botocore;
the command line refuses ``--provider vertex|bedrock`` naming the extra.

In ``.venv-core`` (``make embed-core``) the extras are really absent; ``--simulate-core`` makes the
dev venv look the same (their imports fail, ``find_spec`` finds nothing), which is how
``tests/test_core_install.py`` runs it. Exits 0 when all holds, 1 on a failure, 2 in the wrong
environment. Needs nothing beyond the core install (no pytest).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Final

#: What the two extras bring (cryptography comes with google-auth), and what must stay unimported.
EXTRAS: Final = ("google.auth", "google.oauth2", "botocore", "cryptography")
_CLOUD_VARIABLES: Final = ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "ANTHROPIC_VERTEX_BASE_URL")


def _blocked(name: str) -> bool:
    return any(name == extra or name.startswith(extra + ".") for extra in EXTRAS)


class _NotInstalled(MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if _blocked(fullname):
            raise ModuleNotFoundError(f"No module named {fullname!r} (core install)", name=fullname)
        return None


def simulate_core() -> None:
    """Make the extras' packages look uninstalled to imports and to ``importlib.util.find_spec``."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if _blocked(name) else real_find_spec(name, package)

    importlib.util.find_spec = find_spec
    sys.meta_path.insert(0, _NotInstalled())


def _installed() -> list[str]:
    found = []
    for name in ("google.auth", "botocore"):
        try:
            if importlib.util.find_spec(name) is not None:
                found.append(name)
        except ModuleNotFoundError:  # google itself absent
            pass
    return found


def _check(holds: bool, failure: str) -> None:
    if not holds:
        raise AssertionError(failure)


def _refused(build: Callable[[], Any], extra: str, *kinds: type[BaseException]) -> str:
    try:
        build()
    except Exception as exc:
        for kind in kinds:
            _check(isinstance(exc, kind), f"{type(exc).__name__} is not a {kind.__name__}: {exc}")
        _check(f"axio-transport-anthropic[{extra}]" in str(exc), f"the message names no [{extra}] extra: {exc}")
        return str(exc)
    raise AssertionError(f"constructed without the [{extra}] extra")


async def _streams(transport: Any) -> str:
    from axio.blocks import TextBlock
    from axio.events import TextDelta
    from axio.messages import Message

    text = ""
    async with transport:
        async for event in transport.stream([Message(role="user", content=[TextBlock(text="hi")])], [], ""):
            if isinstance(event, TextDelta):
                text += event.delta
    assert text, "no text streamed"
    return text


async def _network_checks() -> None:
    from axio_transport_anthropic import AnthropicTransport, BedrockTransport
    from axio_transport_anthropic.simulator import Reply, Simulator

    async with Simulator() as sim:
        sim.enqueue(Reply.text("core works"))
        text = await _streams(AnthropicTransport(base_url=sim.base_url, api_key="k", max_retries=0))
        print(f"ok: Anthropic's API streams ({text!r})")
        sim.bedrock.auth.api_keys.add("bedrock-api-key")
        sim.enqueue(Reply.text("no botocore needed"))
        bedrock = BedrockTransport(base_url=sim.bedrock.endpoint, aws_region="us-east-1", api_key="bedrock-api-key")
        text = await _streams(bedrock)
        print(f"ok: Bedrock with an API key streams without botocore ({text!r})")


def _cli_refuses(provider: str, extra: str) -> None:
    import click

    from axio_transport_anthropic.cli import main

    for command in (["demo"], ["load", "-n", "1"]):
        try:
            main([*command, "--provider", provider], standalone_mode=False)
        except click.BadParameter as exc:
            _check(f"axio-transport-anthropic[{extra}]" in exc.format_message(), exc.format_message())
        else:
            raise AssertionError(f"{command[0]} --provider {provider} ran without the [{extra}] extra")
    print(f"ok: demo and load --provider {provider} are usage errors naming [{extra}]")


def run_checks() -> None:
    from axio_transport_anthropic import (  # noqa: F401  # the CLI imports with no extra
        AnthropicTransport,
        BedrockTransport,
        ConfigurationError,
        VertexAITransport,
        cli,
        providers,
    )

    loaded = sorted(name for name in sys.modules if _blocked(name))
    assert not loaded, f"imported without being asked for: {loaded}"
    print("ok: the package, its CLI and providers import without google-auth or botocore")
    for build in (
        lambda: VertexAITransport(project="p"),
        lambda: AnthropicTransport(vertexai=True, project="p"),
        lambda: AnthropicTransport(vertexai="true", project="p"),
    ):
        _refused(build, "vertex", ImportError, ConfigurationError)
    print("ok: Vertex AI refused at construction: an ImportError and a ConfigurationError naming [vertex]")
    message = _refused(lambda: BedrockTransport(aws_region="us-east-1"), "bedrock", ConfigurationError)
    print(f"ok: Bedrock that must sign refused at construction: {message}")
    asyncio.run(_network_checks())
    _cli_refuses("vertex", "vertex")
    _cli_refuses("bedrock", "bedrock")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.core_install_check", description=__doc__)
    parser.add_argument("--simulate-core", action="store_true", help="block the extras in this venv first")
    args = parser.parse_args()
    for name in _CLOUD_VARIABLES:
        os.environ.pop(name, None)
    if args.simulate_core:
        simulate_core()
    if found := _installed():
        print(f"core install check: {', '.join(found)} installed; run in a venv made with `pip install .`")
        return 2
    try:
        run_checks()
    except AssertionError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
