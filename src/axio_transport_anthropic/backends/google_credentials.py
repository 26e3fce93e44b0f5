"""Google credentials for Vertex AI: loaded once, refreshed before they expire, never on the loop.

Imported only for a Vertex transport, which checked at construction that google-auth is installed.

``google.auth.default()`` reads files and may run gcloud or ask the metadata server; ``refresh()``
is a blocking HTTP call (google-auth's async transports are experimental). Both run in a worker
thread. One lock makes concurrent streams share a refresh instead of each doing its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import google.auth
import google.auth.transport.requests
from google.auth.credentials import TokenState

from .base import CredentialRefresh

__all__ = [
    "CLOUD_PLATFORM",
    "AccessToken",
    "GoogleCredentials",
    "RefreshFailed",
    "application_default",
    "service_account_file",
]

logger = logging.getLogger("axio_transport_anthropic")

CLOUD_PLATFORM: Final = "https://www.googleapis.com/auth/cloud-platform"

Loader = Callable[[], tuple[Any, str | None]]


def application_default() -> tuple[Any, str | None]:
    """Application Default Credentials and the project they name. Blocking: call it in a thread."""
    credentials, project = google.auth.default(scopes=[CLOUD_PLATFORM])
    return credentials, project


def service_account_file(path: Path) -> Loader:
    """A loader for one service-account key file (the simulator's, made for a run), instead of
    Application Default Credentials, whose environment stays as it is."""

    def load() -> tuple[Any, str | None]:
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_file(str(path), scopes=[CLOUD_PLATFORM])
        return credentials, credentials.project_id

    return load


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    quota_project: str | None
    """Sent as ``x-goog-user-project``: the project billed and counted for quota."""


class RefreshFailed(Exception):
    """No usable token: the refresh failed and the old token (if any) has expired or was refused."""

    def __init__(self, refresh: CredentialRefresh) -> None:
        super().__init__(str(refresh.error))
        self.refresh = refresh


class GoogleCredentials:
    """One set of credentials, shared by every stream (and every copy) of a transport."""

    __slots__ = ("_credentials", "_loader", "_locks", "_previous", "_refused", "_request", "project")

    def __init__(self, loader: Loader = application_default) -> None:
        self._loader = loader
        self._credentials: Any = None
        self.project: str | None = None
        self._locks: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._request: Any = None
        self._refused: str | None = None
        self._previous = ""

    @property
    def loaded(self) -> bool:
        return self._credentials is not None

    async def load(self) -> None:
        """Load the credentials unless they are loaded; google-auth's errors are raised as they are."""
        if self._credentials is not None:
            return
        async with self._lock():
            if self._credentials is None:
                credentials, project = await asyncio.to_thread(self._loader)
                self._credentials, self.project = credentials, project

    async def token(self) -> tuple[AccessToken, CredentialRefresh | None]:
        """A token to send now, and the refresh done to get it (``None`` when none was needed).

        A token is refreshed when google-auth no longer calls it FRESH (3 min 45 s before it
        expires) or after a 401 refused it. Raises ``RefreshFailed`` when no usable token is left.
        """
        await self.load()
        credentials = self._credentials
        if self._usable():
            return self._access(), None
        async with self._lock():
            if self._usable():  # another stream refreshed while this one waited
                return self._access(), None
            before = credentials.token
            started = time.perf_counter()
            try:
                await asyncio.to_thread(credentials.refresh, self._transport())
            except Exception as exc:
                refresh = CredentialRefresh(time.perf_counter() - started, exc)
                if not self._still_valid():
                    raise RefreshFailed(refresh) from exc
                # STALE is still valid for minutes: a failed early refresh need not fail the call.
                logger.warning("Refreshing the Google access token failed (%s); using the current one", exc)
                return self._access(), refresh
            if before and before != credentials.token:
                self._previous = before
            self._refused = None
            return self._access(), CredentialRefresh(time.perf_counter() - started)

    def refuse(self, token: str | None) -> None:
        """A 401 refused ``token`` (``None``: not known which): the next ``token()`` refreshes,
        unless another stream has replaced that token already."""
        current = self._credentials.token if self._credentials is not None else None
        if token is None or token == current:
            self._refused = current

    def tokens(self) -> tuple[str, ...]:
        """The current and the previous token: what must never be quoted back."""
        current = self._credentials.token if self._credentials is not None else None
        return tuple(t for t in (current, self._previous) if t)

    def _lock(self) -> asyncio.Lock:
        """The lock of the running loop: a transport kept across ``asyncio.run()`` calls must not
        wait on a lock bound to a loop that is gone."""
        loop = asyncio.get_running_loop()
        if self._locks is None or self._locks[0] is not loop:
            self._locks = (loop, asyncio.Lock())
        return self._locks[1]

    def _usable(self) -> bool:
        credentials = self._credentials
        token = credentials.token
        return bool(token) and token != self._refused and credentials.token_state == TokenState.FRESH

    def _still_valid(self) -> bool:
        credentials = self._credentials
        token = credentials.token
        return bool(token) and token != self._refused and credentials.token_state == TokenState.STALE

    def _access(self) -> AccessToken:
        quota = getattr(self._credentials, "quota_project_id", None)
        return AccessToken(self._credentials.token, quota if isinstance(quota, str) and quota else None)

    def _transport(self) -> Any:
        # One requests session, reused: refreshes are serialized by the lock.
        if self._request is None:
            self._request = google.auth.transport.requests.Request()
        return self._request
