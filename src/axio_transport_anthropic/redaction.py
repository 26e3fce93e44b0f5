"""Keeping the API key out of everything a person or a collector reads."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "mask_keys", "url_without_credentials", "without_secret"]

#: The shortest secret ``without_secret`` removes. A shorter "key" cannot be told apart from the
#: words around it (a key ``k`` made "not known" read "not [redacted]nown"), and it protects
#: nothing: 8 characters is below any real API key or token (an Anthropic key has over 100) and
#: above the letters, digits and short words a message is made of.
MIN_SECRET_LENGTH: Final = 8
REDACTED: Final = "[redacted]"

#: What an Anthropic key looks like (``sk-ant-...``): a second net behind removing the key itself,
#: for text that may hold one pasted in the wrong place or echoed by a proxy. Not inside a word
#: ("task-runner", "disk-space"), but right after a colour code (``\x1b[35m``) of a console line.
_KEYLIKE: Final = re.compile(r"(?:(?<![A-Za-z0-9])|(?<=[0-9]m))sk-[A-Za-z0-9_-]{6,}")


def mask_keys(text: str) -> str:
    """``text`` with anything shaped like an API key masked."""
    return _KEYLIKE.sub("sk-***", text) if "sk-" in text else text


def without_secret(text: str, secret: str) -> str:
    """``text`` with this transport's own key removed, whatever it looks like, and with the first
    part of it that ``text`` ends in, if any: a quote cut to a length limit can stop mid-key.

    A secret shorter than ``MIN_SECRET_LENGTH`` is not looked for: nothing is replaced."""
    if len(secret) < MIN_SECRET_LENGTH:
        return text
    if secret in text:
        text = text.replace(secret, REDACTED)
    return _without_cut_secret(text, secret)


def _without_cut_secret(text: str, secret: str) -> str:
    # Only a piece of MIN_SECRET_LENGTH or more counts: a shorter one is as likely chance.
    head = secret[:MIN_SECRET_LENGTH]
    at = text.find(head, max(0, len(text) - len(secret) + 1))
    while at != -1:
        if secret.startswith(text[at:]):
            return text[:at] + REDACTED
        at = text.find(head, at + 1)
    return text


def url_without_credentials(url: str) -> str:
    """``url`` without user info, query or fragment, where credentials hide in a URL; a URL too
    malformed to take apart is not quoted at all."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
