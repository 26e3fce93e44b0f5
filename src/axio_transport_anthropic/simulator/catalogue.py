"""The `/v1/models` listing, built from the package's model catalogue."""

from __future__ import annotations

import re
from typing import Any, Final

from ..models import ANTHROPIC_MODELS

__all__ = ["model_entries", "model_entry"]

_DATED: Final = re.compile(r"^(?P<base>.+)-(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
#: Undated ids get a fixed date so listings stay deterministic.
_UNDATED_CREATED_AT: Final = "2025-01-01T00:00:00Z"


def model_entry(model_id: str) -> dict[str, Any]:
    dated = _DATED.match(model_id)
    base = dated["base"] if dated else model_id
    created = f"{dated['y']}-{dated['m']}-{dated['d']}T00:00:00Z" if dated else _UNDATED_CREATED_AT
    return {"type": "model", "id": model_id, "display_name": _display_name(base), "created_at": created}


def model_entries() -> list[dict[str, Any]]:
    return [model_entry(spec.id) for spec in ANTHROPIC_MODELS.values()]


def _display_name(base: str) -> str:
    # "claude-sonnet-4-6" -> "Claude Sonnet 4.6"
    words: list[str] = []
    numbers: list[str] = []
    for part in base.split("-"):
        (numbers if part.isdigit() else words).append(part)
    name = " ".join(word.capitalize() for word in words)
    return f"{name} {'.'.join(numbers)}" if numbers else name
