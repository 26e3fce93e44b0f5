"""What every client of ``compare_client.py`` shares: the request it sends, what it reports, its interface.

Runs in every client's venv: the standard library only at module level (see compare_client.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Final, Protocol

__all__ = ["HEADERS", "KEY", "MAX_TOKENS", "MODEL", "Client", "Received", "ask", "version_of"]

KEY: Final = "sk-ant-bench-0000"
MODEL: Final = "claude-sonnet-4-6"
#: What the axio transports send for this model (its max_output_tokens); the others send the same.
MAX_TOKENS: Final = 64000
HEADERS: Final = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}


def ask(shape: str, deltas: int) -> str:
    # Must match compare_sim.ask (not imported: this file runs in venvs without the project).
    return f"bench:{shape}:{deltas}"


@dataclass(slots=True)
class Received:
    """What one stream delivered: a check that every client got the whole answer."""

    deltas: int = 0
    text_chars: int = 0
    json_chars: int = 0
    body_bytes: int = 0
    sse_events: int = 0


class Client(Protocol):
    async def open(self, url: str, pool: int, max_tokens: int) -> None: ...

    async def one(self, shape: str, deltas: int) -> Received: ...

    async def collect(self, shape: str, deltas: int, keep: bool) -> tuple[str, Received]:
        """One stream whose text is kept (``keep``) or only counted; for the memory measurement."""
        ...

    async def close(self) -> None: ...

    def versions(self) -> dict[str, str]: ...


def version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"
