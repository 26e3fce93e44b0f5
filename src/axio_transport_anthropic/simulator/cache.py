"""A prompt cache that accounts tokens the way the Messages API does across turns."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .replies import estimate_tokens
from .wire import dumps

__all__ = ["CachePlan", "CacheUsage", "PromptCache"]

_TTL_5M: Final = 300.0
_TTL_1H: Final = 3600.0
#: The API looks for earlier cache entries at most this many blocks before each breakpoint.
_LOOKBACK_BLOCKS: Final = 20


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """The input side of `usage` for one request."""

    input_tokens: int
    cache_read_input_tokens: int = 0
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.ephemeral_5m_input_tokens + self.ephemeral_1h_input_tokens

    @property
    def billed_input_tokens(self) -> int:
        """Input that counts against the input-tokens rate limit (cache reads do not)."""
        return self.input_tokens + self.cache_creation_input_tokens


@dataclass(frozen=True, slots=True)
class CachePlan:
    """What a request would read and write; applied with `PromptCache.commit` once the request is admitted."""

    usage: CacheUsage
    stores: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class _Block:
    tokens: int
    prefix_hash: str
    ttl: float | None


class PromptCache:
    """Prefix hashes seen recently; a prefix ends at a content block, in the order tools, system, messages."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, tuple[float, float]] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._expiry)

    def plan(self, body: Mapping[str, Any]) -> CachePlan:
        blocks = _blocks(body)
        total = sum(b.tokens for b in blocks)
        breakpoints = [i for i, b in enumerate(blocks) if b.ttl is not None]
        if not breakpoints:
            return CachePlan(CacheUsage(input_tokens=total))
        now = self._clock()
        read_end = -1
        for bp in breakpoints:
            for i in range(bp, max(read_end, bp - _LOOKBACK_BLOCKS), -1):
                if self._alive(blocks[i].prefix_hash, now):
                    read_end = i
                    break
        stores: list[tuple[str, float]] = []
        if read_end >= 0:
            stores.append((blocks[read_end].prefix_hash, self._expiry[blocks[read_end].prefix_hash][1]))
        written = {_TTL_5M: 0, _TTL_1H: 0}
        start = read_end + 1
        for bp in breakpoints:
            ttl = blocks[bp].ttl
            assert ttl is not None
            stores.append((blocks[bp].prefix_hash, ttl))
            if bp >= start:
                written[ttl] += sum(b.tokens for b in blocks[start : bp + 1])
                start = bp + 1
        usage = CacheUsage(
            input_tokens=sum(b.tokens for b in blocks[breakpoints[-1] + 1 :]),
            cache_read_input_tokens=sum(b.tokens for b in blocks[: read_end + 1]),
            ephemeral_5m_input_tokens=written[_TTL_5M],
            ephemeral_1h_input_tokens=written[_TTL_1H],
        )
        return CachePlan(usage, tuple(stores))

    def commit(self, plan: CachePlan) -> None:
        now = self._clock()
        for prefix_hash, ttl in plan.stores:
            # Reads refresh an entry's lifetime, as the real cache does.
            self._expiry[prefix_hash] = (now + ttl, ttl)
        if now >= self._next_sweep:
            self._expiry = {h: entry for h, entry in self._expiry.items() if entry[0] > now}
            self._next_sweep = now + 30.0

    def _alive(self, prefix_hash: str, now: float) -> bool:
        entry = self._expiry.get(prefix_hash)
        return entry is not None and entry[0] > now


def _blocks(body: Mapping[str, Any]) -> list[_Block]:
    running = hashlib.sha256(dumps(body.get("model")).encode())
    blocks: list[_Block] = []
    for identity, cache_control in _content(body):
        encoded = dumps(identity)
        running.update(encoded.encode())
        blocks.append(_Block(estimate_tokens(encoded), running.copy().hexdigest(), _ttl(cache_control)))
    return blocks


def _content(body: Mapping[str, Any]) -> Iterator[tuple[Any, Any]]:
    """Each block with `cache_control` removed (moving a marker must not change the prefix) and the marker."""
    for tool in _list(body.get("tools")):
        yield ["tool", _strip(tool)], _marker(tool)
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else _list(system):
        yield ["system", _strip(block)], _marker(block)
    for index, message in enumerate(_list(body.get("messages"))):
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        role = message.get("role")
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else _list(content):
            yield ["message", index, role, _strip(block)], _marker(block)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strip(block: Any) -> Any:
    if isinstance(block, Mapping):
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def _marker(block: Any) -> Any:
    return block.get("cache_control") if isinstance(block, Mapping) else None


def _ttl(cache_control: Any) -> float | None:
    if not isinstance(cache_control, Mapping):
        return None
    return _TTL_1H if cache_control.get("ttl") == "1h" else _TTL_5M
