"""Which cloud the command-line tools talk to: Anthropic's API, Vertex AI or Amazon Bedrock.

``axio-anthropic demo``, ``load`` and ``simulate`` take ``--provider``. On the built-in simulator
each provider gets the credentials its real service would want, made so that no cloud account is
needed: a key for Anthropic's API; for Vertex AI a ``service_account`` file with a key made for the
run, whose ``token_uri`` is the simulator's own OAuth endpoint, read by real google-auth code; for
Bedrock the simulator's fixed test keys, signed with botocore's SigV4. Against any other endpoint
the transport finds credentials where it always does (the environment, ADC, the AWS chain).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast

import click

from .bedrock_transport import BedrockTransport
from .simulator.bedrock_auth import TEST_KEYS
from .transport import AnthropicTransport, VertexAITransport
from .vertex_settings import MissingExtraError, require_google_auth

if TYPE_CHECKING:
    from .simulator import Simulator

__all__ = [
    "ENDPOINT_VARIABLES",
    "PROVIDERS",
    "SIMULATOR_LOCATION",
    "SIMULATOR_PROJECT",
    "SIMULATOR_REGION",
    "Endpoint",
    "Provider",
    "bedrock_simulator_settings",
    "connection_hints",
    "environment_endpoint",
    "given_endpoint",
    "located",
    "missing_extra",
    "provider_option",
    "simulated_endpoint",
    "vertex_simulator_settings",
]

Provider = Literal["anthropic", "vertex", "bedrock"]
PROVIDERS: Final[tuple[Provider, ...]] = ("anthropic", "vertex", "bedrock")
#: What the simulator's Vertex AI route is addressed as (any project and region would do).
SIMULATOR_PROJECT: Final = "sim-project"
SIMULATOR_LOCATION: Final = "us-east5"
#: The region the Bedrock requests are signed for; the simulator takes any unless told one.
SIMULATOR_REGION: Final = "us-east-1"
_F = TypeVar("_F", bound=Callable[..., object])
_TRANSPORTS: Final[Mapping[Provider, type[AnthropicTransport]]] = {
    "anthropic": AnthropicTransport,
    "vertex": VertexAITransport,
    "bedrock": BedrockTransport,
}
_CLOUD: Final[Mapping[Provider, str]] = {
    "anthropic": "the Anthropic API",
    "vertex": "Vertex AI",
    "bedrock": "Amazon Bedrock",
}


def located(provider: str, where: str, simulator: bool) -> str:
    """``where`` (the simulator, or an endpoint's URL) prefixed with the cloud, unless it is Anthropic's."""
    if provider not in _CLOUD or provider == "anthropic":
        return where
    return f"{_CLOUD[cast(Provider, provider)]} {'on the' if simulator else 'at'} {where}"


def missing_extra(provider: Provider) -> str | None:
    """Why ``provider`` cannot be used in this install, naming the extra to add; ``None``: it can."""
    if provider == "vertex":
        try:
            require_google_auth()
        except MissingExtraError:
            return "Vertex AI needs google-auth: pip install 'axio-transport-anthropic[vertex]'"
    if provider == "bedrock" and importlib.util.find_spec("botocore") is None:
        return "Amazon Bedrock needs botocore to sign requests: pip install 'axio-transport-anthropic[bedrock]'"
    return None


def vertex_simulator_settings(sim: Simulator) -> dict[str, Any]:
    """Where a ``VertexAITransport`` finds the simulator's Vertex AI route."""
    return {"base_url": sim.base_url, "project": SIMULATOR_PROJECT, "location": SIMULATOR_LOCATION}


def bedrock_simulator_settings(sim: Simulator) -> dict[str, Any]:
    """Where a ``BedrockTransport`` finds the simulator's Bedrock route, and the test keys it
    accepts. ``api_key=""``: a Bedrock API key in the environment would replace the signature."""
    return {
        "base_url": sim.bedrock.endpoint,
        "aws_region": SIMULATOR_REGION,
        "api_key": "",
        "aws_access_key_id": TEST_KEYS.access_key_id,
        "aws_secret_access_key": TEST_KEYS.secret_access_key,
    }


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one provider's requests go, and the transport settings that say so."""

    provider: Provider
    where: str
    """The endpoint as the tools print it: what it is and its URL, never a guess."""
    url: str | None = None
    """The root requests go to; ``None``: wherever the transport's environment says."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    credentials_file: Path | None = None
    """Vertex AI on the simulator: the service-account file the credentials are loaded from."""

    def transport(self, **common: Any) -> AnthropicTransport:
        """The provider's transport for this endpoint, with ``common`` settings (model, retries...)."""
        transport = _TRANSPORTS[self.provider](**self.settings, **common)
        if self.credentials_file is not None:
            from .backends.google_credentials import GoogleCredentials, service_account_file

            # This file instead of Application Default Credentials, which stay the user's own.
            transport._google = GoogleCredentials(service_account_file(self.credentials_file))
        return transport


@asynccontextmanager
async def simulated_endpoint(provider: Provider, sim: Simulator, api_key: str) -> AsyncIterator[Endpoint]:
    """``provider``'s route on a running simulator, for the block; ``api_key`` is what Anthropic's
    route is sent. Vertex AI's service-account key file is made for the block and removed after it."""
    if provider == "vertex":
        with tempfile.TemporaryDirectory(prefix="axio-vertex-") as workdir:
            # A 2048-bit RSA key takes a moment to make: not on the event loop.
            path = await asyncio.to_thread(
                sim.vertex.service_account, Path(workdir) / "vertex-sa.json", project=SIMULATOR_PROJECT
            )
            where = (
                f"Vertex AI (project {SIMULATOR_PROJECT}, {SIMULATOR_LOCATION}) on the built-in simulator at "
                f"{sim.base_url}, with a service-account key made for this run (tokens from {sim.vertex.token_uri})"
            )
            yield Endpoint(provider, where, sim.base_url, vertex_simulator_settings(sim), path)
        return
    if provider == "bedrock":
        where = (
            f"Amazon Bedrock ({SIMULATOR_REGION}) on the built-in simulator at {sim.bedrock.endpoint}, "
            "SigV4-signed with its test keys"
        )
        yield Endpoint(provider, where, sim.bedrock.endpoint, bedrock_simulator_settings(sim))
        return
    where = f"the built-in simulator at {sim.base_url}"
    yield Endpoint(provider, where, sim.base_url, {"base_url": sim.base_url, "api_key": api_key})


def given_endpoint(provider: Provider, url: str | None, named: str | None = None) -> Endpoint:
    """``provider`` at ``url`` (``None``: where the transport's settings and environment say),
    with the credentials the transport finds itself; ``named`` is how to print it."""
    if named is not None:
        where = named
    elif url is None:
        where = _CLOUD[provider]
    else:
        where = url if provider == "anthropic" else f"{_CLOUD[provider]} at {url}"
    return Endpoint(provider, where, url, {"base_url": url} if url is not None else {})


#: The variable that points each provider's transport somewhere other than its cloud.
ENDPOINT_VARIABLES: Final[Mapping[Provider, str]] = {
    "anthropic": "ANTHROPIC_BASE_URL",
    "vertex": "ANTHROPIC_VERTEX_BASE_URL",
    "bedrock": "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
}


def environment_endpoint(provider: Provider) -> Endpoint | None:
    """The endpoint the environment configures for ``provider``, or ``None`` to use a simulator:
    Anthropic's API when ``ANTHROPIC_API_KEY`` is set (at ``ANTHROPIC_BASE_URL`` if that is set
    too); a cloud when its endpoint variable is set, with the credentials its transport finds."""
    variable = ENDPOINT_VARIABLES[provider]
    url = os.environ.get(variable, "").strip()
    if provider == "anthropic" and not os.environ.get("ANTHROPIC_API_KEY"):
        return None
    if provider != "anthropic" and not url:
        return None
    named = f"{variable}={url}" if url else _CLOUD[provider]
    if provider != "anthropic":
        named = f"{_CLOUD[provider]} at {named}"
    return given_endpoint(provider, None, named)


def _needs_for_simulate(provider: Provider) -> str | None:
    """The simulator verifies SigV4 itself; for Vertex AI it makes an RSA key with cryptography."""
    if provider == "vertex" and importlib.util.find_spec("cryptography") is None:
        return (
            "the Vertex AI route needs cryptography to make a service-account key: "
            "pip install 'axio-transport-anthropic[vertex]'"
        )
    return None


def provider_option(help: str, *, serving: bool = False) -> Callable[[_F], _F]:
    """``--provider anthropic|vertex|bedrock``, refused as a usage error when this install lacks
    what it needs (naming the extra); ``serving``: for ``simulate``, which needs less."""
    check = _needs_for_simulate if serving else missing_extra

    def usable(ctx: click.Context, param: click.Parameter, value: Provider) -> Provider:
        if (problem := check(value)) is not None:
            raise click.BadParameter(problem, ctx, param)
        return value

    return click.option(
        "--provider",
        type=click.Choice(PROVIDERS),
        default="anthropic",
        show_default=True,
        callback=usable,
        help=help,
    )


def connection_hints(
    provider: Provider, sim: Simulator, api_key: str | None, credentials_file: Path | None
) -> list[str]:
    """The shell lines that point ``provider``'s transport, configured from the environment, at ``sim``."""
    if provider == "vertex":
        assert credentials_file is not None
        return [
            f"export ANTHROPIC_VERTEX_BASE_URL={sim.base_url}",
            f"export GOOGLE_APPLICATION_CREDENTIALS={credentials_file}",
            f"export GOOGLE_CLOUD_PROJECT={SIMULATOR_PROJECT} CLOUD_ML_REGION={SIMULATOR_LOCATION}",
        ]
    if provider == "bedrock":
        return [
            f"export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={sim.bedrock.endpoint} AWS_REGION={SIMULATOR_REGION}",
            f"export AWS_ACCESS_KEY_ID={TEST_KEYS.access_key_id} AWS_SECRET_ACCESS_KEY={TEST_KEYS.secret_access_key}",
            "unset AWS_SESSION_TOKEN AWS_PROFILE AWS_BEARER_TOKEN_BEDROCK",
        ]
    return [f"export ANTHROPIC_BASE_URL={sim.base_url}", f"export ANTHROPIC_API_KEY={api_key or 'sk-sim-any-key'}"]
