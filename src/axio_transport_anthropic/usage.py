"""Token usage as the Messages API reports it, and how one stream's usage reports add up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from axio.types import Usage

__all__ = ["NO_TOKENS", "TokenCounts", "fold_usage"]


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """The usage as Anthropic reports it, slices disjoint (``uncached_input`` excludes the cache)."""

    uncached_input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    thinking: int = 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    def to_usage(self) -> Usage:
        """As axio counts it: ``input_tokens`` is the grand total, cache slices inside it."""
        return Usage.reported(
            self.uncached_input + self.cache_read + self.cache_write,
            self.output,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            reasoning_tokens=self.thinking,
        )


#: Where every stream starts; immutable, so one is shared.
NO_TOKENS: Final = TokenCounts()


def fold_usage(counts: TokenCounts, usage: Any) -> TokenCounts:
    """``counts`` with a usage object folded in. Counts are cumulative, so a later report replaces an
    earlier one; input-side counts only grow (server tools can add input mid-turn, a proxy may send 0)."""
    if not isinstance(usage, dict):
        return counts
    uncached, output, cache_read = counts.uncached_input, counts.output, counts.cache_read
    write_5m, write_1h, thinking = counts.cache_write_5m, counts.cache_write_1h, counts.thinking
    if (value := _int(usage.get("output_tokens"))) is not None:
        output = value
    if (value := _int(usage.get("input_tokens"))) is not None:
        uncached = max(uncached, value)
    if (value := _int(usage.get("cache_read_input_tokens"))) is not None:
        cache_read = max(cache_read, value)
    details = usage.get("output_tokens_details")
    if isinstance(details, dict) and (value := _int(details.get("thinking_tokens"))) is not None:
        thinking = value
    split = usage.get("cache_creation")
    total = _int(usage.get("cache_creation_input_tokens"))
    if isinstance(split, dict):
        five = _int(split.get("ephemeral_5m_input_tokens")) or 0
        hour = _int(split.get("ephemeral_1h_input_tokens")) or 0
        if total is not None and total > five + hour:
            five = total - hour
        if five + hour >= write_5m + write_1h:
            write_5m, write_1h = five, hour
    elif total is not None and total > write_5m + write_1h:
        write_5m = total - write_1h
    return TokenCounts(uncached, output, cache_read, write_5m, write_1h, thinking)


def _int(value: Any) -> int | None:
    return value if type(value) is int else None
