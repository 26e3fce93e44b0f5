"""BedrockTransport's settings: the region and endpoint, model ids in their three forms, and the checks.

A model is named by a catalogue id (``claude-sonnet-4-6``), a Bedrock id (plain
``anthropic.claude-sonnet-4-5-20250929-v1:0`` or an inference profile ``us.…``/``eu.…``/
``global.…``), or an ARN. Whatever the form, the spec carries the underlying model's limits and
prices, so cost is reckoned as for Anthropic's API.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from axio.models import ModelRegistry, ModelSpec

from . import auth, settings
from .backends.aws_credentials import NO_BOTOCORE
from .errors import ConfigurationError
from .models import ANTHROPIC_MODELS, BEDROCK_MODEL_IDS, DEFAULT_MODEL
from .settings import shown

if TYPE_CHECKING:
    from .bedrock_transport import BedrockTransport

__all__ = [
    "BEDROCK_DEFAULT_MODEL",
    "BEDROCK_MODELS",
    "DEFAULT_REGION",
    "config_region",
    "endpoint",
    "env_api_key",
    "env_endpoint",
    "env_region",
    "from_environment",
    "lenient",
    "prepare",
    "spec_for",
]

#: Where the SDK falls back to as well: every Claude model is offered there.
DEFAULT_REGION: Final = "us-east-1"
BEDROCK_DEFAULT_MODEL: Final = BEDROCK_MODEL_IDS[DEFAULT_MODEL]
#: The catalogue under Bedrock's ids, one spec per id.
BEDROCK_MODELS: Final = ModelRegistry(
    dataclasses.replace(ANTHROPIC_MODELS[name], id=bedrock_id)
    for name, bedrock_id in BEDROCK_MODEL_IDS.items()
    if name == next(k for k, v in BEDROCK_MODEL_IDS.items() if v == bedrock_id)
)
REGION: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_PROFILE_PREFIXES: Final = frozenset({"global", "us", "eu", "apac", "jp", "au", "ca", "us-gov"})
_VERSION: Final = re.compile(r"-v[0-9]+(?::[0-9]+)?$")
_DATE: Final = re.compile(r"-20[0-9]{6}$")
#: Headers the signature owns: a default header may not replace them.
_SIGNED_BY_US: Final = ("authorization", "x-amz-", "host")
_CREDENTIAL_FIELDS: Final = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")

_lenient: ContextVar[bool] = ContextVar("axio_anthropic_bedrock_lenient", default=False)


class _FromEnvironment(str):
    """A Bedrock API key read from the environment: not written by ``to_dict``."""

    __slots__ = ()


def env_api_key() -> str:
    return _FromEnvironment(os.environ.get("AWS_BEARER_TOKEN_BEDROCK", ""))


def from_environment(value: str) -> bool:
    return isinstance(value, _FromEnvironment)


def env_endpoint() -> str:
    """The endpoint override botocore reads too; empty: the region's own endpoint."""
    return os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "")


@contextmanager
def lenient() -> Iterator[None]:
    """Restoring builds without the checks a saved value could fail (botocore missing)."""
    token = _lenient.set(True)
    try:
        with auth.lenient():
            yield
    finally:
        _lenient.reset(token)


def endpoint(t: BedrockTransport, region: str) -> str:
    """The API root requests go to: the override, or the region's runtime endpoint."""
    return t.base_url.rstrip("/") or f"https://bedrock-runtime.{region}.amazonaws.com"


def prepare(t: BedrockTransport) -> None:
    """Complete and check a transport being built; raise naming the first setting that cannot work."""
    for name in ("aws_region", "aws_profile", "auth_token", *_CREDENTIAL_FIELDS):
        if not isinstance(getattr(t, name), str):
            raise ConfigurationError(f"{name} must be a string, got a {type(getattr(t, name)).__name__}")
    if t.auth_token:
        raise ConfigurationError("auth_token is not used with Bedrock: pass a Bedrock API key as api_key")
    if t.vertexai or t.project or t.location:
        raise ConfigurationError("vertexai, project and location are Vertex AI's: Bedrock takes aws_region")
    if isinstance(t.model, str):
        t.model = spec_for(t.model, t.models)
    t.aws_region = t.aws_region.strip()
    if t.aws_region and not REGION.fullmatch(t.aws_region):
        raise ConfigurationError(f"aws_region must be an AWS region such as us-east-1, got {shown(t.aws_region)}")
    given = t.base_url
    # The endpoint is derived when not given; the shared checks read the one in use.
    t.base_url = endpoint(t, t.aws_region or DEFAULT_REGION)
    try:
        settings.validate(t)
    finally:
        t.base_url = given
    auth.validate_headers(t)
    _check_aws(t)
    t.default_headers = dict(t.default_headers)
    t.betas = tuple(t.betas)


def _check_aws(t: BedrockTransport) -> None:
    for name in ("aws_profile", *_CREDENTIAL_FIELDS):
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in getattr(t, name)):
            raise ConfigurationError(f"{name} must not contain line breaks or control characters")
    if bool(t.aws_access_key_id) != bool(t.aws_secret_access_key):
        raise ConfigurationError("aws_access_key_id and aws_secret_access_key go together: give both or neither")
    if t.aws_session_token and not t.aws_access_key_id:
        raise ConfigurationError("aws_session_token needs aws_access_key_id and aws_secret_access_key")
    for name in t.default_headers:
        if name.lower().startswith(_SIGNED_BY_US):
            raise ConfigurationError(f"default_headers may not set {name}: the request's signature sets it")
    if not t.api_key and not _lenient.get() and importlib.util.find_spec("botocore") is None:
        raise ConfigurationError(NO_BOTOCORE)


def env_region() -> str:
    """``AWS_REGION`` (the SDK's), then ``AWS_DEFAULT_REGION`` (botocore's); empty when neither is set."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if value := os.environ.get(name, "").strip():
            return value
    return ""


def config_region(profile: str) -> str:
    """The profile's region in the AWS config file, else us-east-1. Reads a file and imports
    botocore: called in a worker thread, on the first request."""
    if importlib.util.find_spec("botocore") is None:
        return DEFAULT_REGION
    import botocore.exceptions
    import botocore.session

    try:
        found = botocore.session.Session(profile=profile or None).get_config_variable("region")
    except botocore.exceptions.ProfileNotFound as exc:
        raise ConfigurationError(f"aws_profile {shown(profile)} is not in the AWS config files") from exc
    if not isinstance(found, str) or not REGION.fullmatch(found.strip()):
        return DEFAULT_REGION
    return found.strip()


def spec_for(model_id: str, models: ModelRegistry) -> ModelSpec:
    """The spec of a model named in any of its forms; a ``ConfigurationError`` naming the forms
    when neither the registry nor the catalogue knows the model behind it."""
    if isinstance(models, ModelRegistry) and (spec := models.get(model_id)) is not None:
        return spec
    if (bedrock_id := BEDROCK_MODEL_IDS.get(model_id)) is not None:
        found = models.get(bedrock_id) if isinstance(models, ModelRegistry) else None
        return found or BEDROCK_MODELS[bedrock_id]
    if (name := underlying_model(model_id)) is not None:
        return dataclasses.replace(ANTHROPIC_MODELS[name], id=model_id)
    raise ConfigurationError(
        f"model {shown(model_id)} names no Claude model this transport knows: give a catalogue id "
        f"({', '.join(BEDROCK_MODEL_IDS)}), a Bedrock id (anthropic.…, or a us./eu./global.… profile) or an "
        "inference-profile ARN; for an application inference profile, pass an axio.models.ModelSpec"
    )


def underlying_model(model_id: str) -> str | None:
    """The catalogue id of the model behind a plain Bedrock id, a profile or an ARN, if known."""
    tail = model_id.strip()
    if tail.startswith("arn:"):
        # arn:aws:bedrock:REGION:ACCOUNT:inference-profile/us.anthropic.claude-…-v1:0
        tail = tail.split(":", 5)[-1].partition("/")[2]
    prefix, dot, rest = tail.partition(".")
    if dot and prefix in _PROFILE_PREFIXES:
        tail = rest
    if not tail.startswith("anthropic."):
        return None
    name = _VERSION.sub("", tail.removeprefix("anthropic."))
    for candidate in (name, _DATE.sub("", name)):
        if candidate in ANTHROPIC_MODELS:
            return candidate
    return None
