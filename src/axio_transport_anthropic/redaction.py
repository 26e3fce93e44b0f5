"""Keeping the API key out of everything a person or a collector reads."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["mask_keys", "without_secret"]

#: What an Anthropic key looks like (``sk-ant-...``): a second net behind removing the key itself,
#: for text that may hold one pasted in the wrong place or echoed by a proxy.
_KEYLIKE: Final = re.compile(r"sk-[A-Za-z0-9_-]{6,}")


def mask_keys(text: str) -> str:
    """``text`` with anything shaped like an API key masked."""
    return _KEYLIKE.sub("sk-***", text) if "sk-" in text else text


def without_secret(text: str, secret: str) -> str:
    """``text`` with this transport's own key removed, whatever it looks like."""
    return text.replace(secret, "[redacted]") if secret and secret in text else text
