"""AWS credentials for signing: explicit keys, or botocore's default chain resolved off the event loop.

The chain (environment, the profile's files, SSO, a credential process, a container or instance
metadata endpoint) may read files, run a process or call an endpoint, and a refreshable set may
refresh itself when asked for a frozen copy: all of that runs in a worker thread, under one lock,
so concurrent streams wait for a single resolution. The frozen copy is reused until botocore says
it needs refreshing; after a 403 ``forget()`` drops it, and the next attempt walks the chain again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, NamedTuple

from ..errors import AnthropicError
from .base import CredentialRefresh

__all__ = ["NO_BOTOCORE", "AwsCredentials", "CredentialsUnavailable", "Frozen", "import_botocore"]

NO_BOTOCORE = (
    "Bedrock signs requests with botocore: pip install 'axio-transport-anthropic[bedrock]' "
    "(or use a Bedrock API key: AWS_BEARER_TOKEN_BEDROCK)"
)


class Frozen(NamedTuple):
    """One consistent set, as botocore's signer reads it (``access_key``, ``secret_key``, ``token``)."""

    access_key: str
    secret_key: str
    token: str | None

    def __repr__(self) -> str:
        return "Frozen(access_key=[redacted], secret_key=[redacted], token=[redacted])"


class CredentialsUnavailable(AnthropicError):
    """No credentials could be found or refreshed; ``transient`` when trying again may help."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message, error_type="credentials_error")
        self.transient = transient
        #: The resolution that failed, when one was tried (telemetry counts it).
        self.refresh: CredentialRefresh | None = None

    def _what(self) -> str:
        return "AWS credentials unavailable"


def import_botocore() -> Any:
    """The ``botocore.session`` module, or a ``CredentialsUnavailable`` naming the extra to install."""
    try:
        import botocore.session
    except ImportError as exc:
        raise CredentialsUnavailable(NO_BOTOCORE) from exc
    return botocore.session


class AwsCredentials:
    """Credentials for one transport: a static set, or the default chain for a profile."""

    __slots__ = ("_frozen", "_lock", "_profile", "_source", "_static")

    def __init__(self, profile: str, static: Frozen | None) -> None:
        self._profile = profile
        self._static = static
        self._source: Any = None
        self._frozen: Frozen | None = static
        self._lock = asyncio.Lock()

    async def get(self) -> tuple[Frozen, CredentialRefresh | None]:
        """A set to sign with, and the resolution it took, if it took one."""
        if (frozen := self._current()) is not None:
            return frozen, None
        async with self._lock:
            if (frozen := self._current()) is not None:
                return frozen, None  # another stream resolved them while this one waited
            started = time.perf_counter()
            try:
                self._frozen = await asyncio.to_thread(self._resolve)
            except CredentialsUnavailable as exc:
                exc.refresh = CredentialRefresh(time.perf_counter() - started, exc)
                raise
            return self._frozen, CredentialRefresh(time.perf_counter() - started)

    def forget(self) -> bool:
        """Drop what was resolved; whether the chain may give other credentials next time."""
        if self._static is not None:
            return False
        self._source, self._frozen = None, None
        return True

    def secrets(self) -> tuple[str, ...]:
        frozen = self._frozen
        return () if frozen is None else tuple(s for s in frozen if s)

    def _current(self) -> Frozen | None:
        frozen, source = self._frozen, self._source
        if frozen is None:
            return None
        # A pure clock check: refreshable sets know their expiry, static ones never need it.
        needed = getattr(source, "refresh_needed", None)
        return None if callable(needed) and needed() else frozen

    def _resolve(self) -> Frozen:
        """In a worker thread: walk the chain (once per source) and take a frozen copy."""
        session = import_botocore()
        from botocore.exceptions import BotoCoreError, ConnectionError, HTTPClientError

        try:
            if self._source is None:
                found = session.Session(profile=self._profile or None).get_credentials()
                if found is None:
                    raise CredentialsUnavailable(
                        "no AWS credentials found (environment, AWS config files, SSO, container or instance "
                        "metadata); configure a profile, or use a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK)"
                    )
                self._source = found
            got = self._source.get_frozen_credentials()
        except (ConnectionError, HTTPClientError, OSError) as exc:
            raise CredentialsUnavailable(f"{type(exc).__name__}: {exc}", transient=True) from exc
        except BotoCoreError as exc:
            raise CredentialsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return Frozen(got.access_key, got.secret_key, got.token or None)
