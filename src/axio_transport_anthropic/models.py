"""The Claude model catalogue and what a response costs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from axio.models import Capability, ModelRegistry, ModelSpec

__all__ = ["ANTHROPIC_MODELS", "DEFAULT_MODEL", "VERTEX_MODEL_IDS", "CachePricing", "cost_usd", "vertex_model_id"]

_REASONING: Final = frozenset({Capability.text, Capability.vision, Capability.reasoning, Capability.tool_use})


def _spec(model_id: str, context: int, output: int, input_cost: float, output_cost: float) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        capabilities=_REASONING,
        context_window=context,
        max_output_tokens=output,
        input_cost=input_cost,
        output_cost=output_cost,
    )


#: Prices are USD per million tokens, as Anthropic lists them for standard (not batch) requests.
ANTHROPIC_MODELS: Final = ModelRegistry(
    [
        _spec("claude-opus-4-6", 1_000_000, 128_000, 5.0, 25.0),
        _spec("claude-sonnet-4-6", 1_000_000, 64_000, 3.0, 15.0),
        _spec("claude-haiku-4-5", 200_000, 64_000, 1.0, 5.0),
        _spec("claude-haiku-4-5-20251001", 200_000, 64_000, 1.0, 5.0),
        _spec("claude-opus-4-5", 200_000, 64_000, 5.0, 25.0),
        _spec("claude-sonnet-4-5", 200_000, 64_000, 3.0, 15.0),
    ]
)

DEFAULT_MODEL: Final = "claude-sonnet-4-6"

#: Amazon Bedrock's id of each catalogue model, as its global cross-region inference profile:
#: on-demand Claude 4.5 and later is invoked through a profile, not the plain model id.
BEDROCK_MODEL_IDS: Final = {
    "claude-opus-4-6": "global.anthropic.claude-opus-4-6-v1",
    "claude-sonnet-4-6": "global.anthropic.claude-sonnet-4-6",
    "claude-haiku-4-5": "global.anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-haiku-4-5-20251001": "global.anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-opus-4-5": "global.anthropic.claude-opus-4-5-20251101-v1:0",
    "claude-sonnet-4-5": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
}

#: The catalogue's ids as Vertex AI names them: dated models take ``@date``, the 4.6 ones are bare.
VERTEX_MODEL_IDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "claude-opus-4-6": "claude-opus-4-6",
        "claude-sonnet-4-6": "claude-sonnet-4-6",
        "claude-haiku-4-5": "claude-haiku-4-5@20251001",
        "claude-haiku-4-5-20251001": "claude-haiku-4-5@20251001",
        "claude-opus-4-5": "claude-opus-4-5@20251101",
        "claude-sonnet-4-5": "claude-sonnet-4-5@20250929",
    }
)
_DATED: Final = re.compile(r"(claude-[a-z0-9-]+?)-(20[0-9]{6})")


def vertex_model_id(model_id: str) -> str:
    """The id Vertex AI knows a model by: from the table, ``name-YYYYMMDD`` as ``name@YYYYMMDD``,
    anything else (an ``@`` id, a model newer than the table) as given."""
    model_id = model_id.removeprefix("anthropic/")  # Vertex Model Garden's spelling, as 0.12.2 took it
    if (known := VERTEX_MODEL_IDS.get(model_id)) is not None:
        return known
    if (dated := _DATED.fullmatch(model_id)) is not None:
        return f"{dated.group(1)}@{dated.group(2)}"
    return model_id


@dataclass(frozen=True, slots=True)
class CachePricing:
    """Prompt-cache multipliers on the base input price."""

    read: float = 0.1
    write_5m: float = 1.25
    write_1h: float = 2.0


_CACHE: Final = CachePricing()


def cost_usd(
    spec: ModelSpec,
    *,
    uncached_input: int,
    output: int,
    cache_read: int = 0,
    cache_write_5m: int = 0,
    cache_write_1h: int = 0,
) -> float:
    """What one response costs, with cache reads and writes priced as Anthropic prices them."""
    per_token_in = spec.input_cost / 1_000_000
    return (
        uncached_input * per_token_in
        + cache_read * per_token_in * _CACHE.read
        + cache_write_5m * per_token_in * _CACHE.write_5m
        + cache_write_1h * per_token_in * _CACHE.write_1h
        + output * spec.output_cost / 1_000_000
    )
