"""The Claude model catalogue and what a response costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from axio.models import Capability, ModelRegistry, ModelSpec

__all__ = ["ANTHROPIC_MODELS", "DEFAULT_MODEL", "CachePricing", "cost_usd"]

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
