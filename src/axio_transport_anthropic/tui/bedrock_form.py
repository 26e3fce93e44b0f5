"""What the Bedrock settings screen edits, checks and hands back to axio-tui. No widgets here.

As for the Anthropic screen: settings go back as text, and only the transport's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

from axio.models import ModelSpec

from axio_transport_anthropic import bedrock_settings
from axio_transport_anthropic.bedrock_restore import KNOWN
from axio_transport_anthropic.bedrock_transport import BedrockTransport
from axio_transport_anthropic.errors import ConfigurationError
from axio_transport_anthropic.tui.form import (
    NUMBER_FIELDS,
    Problem,
    chat_model,
    read_numbers,
    refusal,
    saved,
    validate_base_url,
)

__all__ = ["NUMBER_FIELDS", "TEXT_FIELDS", "app_model", "check", "result"]

#: (setting, label, placeholder, secret)
TEXT_FIELDS: Final = (
    ("aws_region", "Region", "blank: AWS_REGION, the profile's region, else us-east-1", False),
    ("aws_profile", "Profile", "blank: AWS_PROFILE, else default (keys from the AWS config files)", False),
    ("api_key", "API key", "blank: AWS_BEARER_TOKEN_BEDROCK; none: sign with the profile's keys", True),
    ("base_url", "Endpoint", "blank: https://bedrock-runtime.<region>.amazonaws.com", False),
)
_MANAGED: Final = frozenset({"model", *(f[0] for f in TEXT_FIELDS), *(f[0] for f in NUMBER_FIELDS)})
_LABELS: Final = {name: label for name, label, *_ in (*TEXT_FIELDS, *NUMBER_FIELDS)}


def app_model(app: object, settings: Mapping[str, str]) -> ModelSpec:
    """The model the app chats with through this transport: axio-tui's chat model when the chat
    transport is a Bedrock one, otherwise the saved model, else the transport's default."""
    if (model := chat_model(app, BedrockTransport)) is not None:
        return model
    try:
        return bedrock_settings.spec_for(settings.get("model", ""), bedrock_settings.BEDROCK_MODELS)
    except ConfigurationError:
        return bedrock_settings.BEDROCK_MODELS[bedrock_settings.BEDROCK_DEFAULT_MODEL]


async def check(values: Mapping[str, str]) -> Problem | None:
    """The first thing that keeps these values from making a working transport, checked as the
    transport checks them; a named profile must be in the AWS config files (read off the loop)."""
    if (url_problem := validate_base_url(values.get("base_url", ""))) is not None:
        return Problem("base_url", url_problem.replace("Base URL", "Endpoint"))
    kwargs: dict[str, Any] = {name: values[name] for name, *_ in TEXT_FIELDS if values.get(name)}
    if (number_problem := read_numbers(values, kwargs)) is not None:
        return number_problem
    try:
        BedrockTransport(telemetry=None, **kwargs)
        if profile := kwargs.get("aws_profile"):
            await asyncio.to_thread(bedrock_settings.config_region, profile)
    except ConfigurationError as exc:
        return refusal(exc, _LABELS)
    return None


def result(settings: Mapping[str, str], values: Mapping[str, str], model: ModelSpec) -> dict[str, str]:
    """What the screen saves: this transport's settings only, blank ones left to their defaults."""
    kept = saved(settings, values, _MANAGED, KNOWN)
    kept["model"] = model.id
    return kept
