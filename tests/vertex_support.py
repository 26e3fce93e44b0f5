"""Vertex AI against the simulator with real google-auth: a service-account file whose key is
made at test time and whose ``token_uri`` is the simulator's ``POST /token``, found through
``GOOGLE_APPLICATION_CREDENTIALS`` as Application Default Credentials are in production."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from axio_transport_anthropic import VertexAITransport
from axio_transport_anthropic.simulator import Simulator

from .support import clear_environment

PROJECT: Final = "sim-project"
#: Everything google-auth and the transport read for Vertex, cleared so no developer's setup leaks in.
GOOGLE_ENVIRONMENT: Final = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "CLOUD_ML_REGION",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "ANTHROPIC_VERTEX_BASE_URL",
)


def clear_google_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    clear_environment(monkeypatch, *GOOGLE_ENVIRONMENT)
    # No gcloud well-known file either: an empty gcloud config directory.
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))


def use_service_account(sim: Simulator, monkeypatch: pytest.MonkeyPatch, home: Path, project: str = PROJECT) -> Path:
    """A fresh key the simulator trusts, as the Application Default Credentials."""
    clear_google_environment(monkeypatch, home)
    path = sim.vertex.service_account(home / f"{project}-sa.json", project=project)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return path


@pytest.fixture(name="sim")
async def service_account_sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Simulator]:
    """The simulator, with a key it trusts as the Application Default Credentials
    (``use_service_account``), in place of conftest's ``sim`` where imported."""
    async with Simulator() as server:
        use_service_account(server, monkeypatch, tmp_path)
        yield server


def vertex_transport(sim: Simulator, session: aiohttp.ClientSession | None = None, **kw: Any) -> VertexAITransport:
    settings: dict[str, Any] = {
        "base_url": sim.base_url,
        "location": "us-east5",
        "max_retries": 3,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "first_byte_timeout": 10.0,
        "idle_timeout": 10.0,
        **kw,
    }
    return VertexAITransport(session=session, **settings)


class ThreadSpy:
    """Wraps a blocking google-auth function: records the thread of each call, calls the real one."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.threads: list[threading.Thread] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread())
        return self.real(*args, **kwargs)


def spy_on_google_auth(monkeypatch: pytest.MonkeyPatch) -> tuple[ThreadSpy, ThreadSpy]:
    """Spies on ``google.auth.default`` and on the service account's ``refresh``."""
    import google.auth
    from google.oauth2 import service_account

    default = ThreadSpy(google.auth.default)
    monkeypatch.setattr(google.auth, "default", default)
    refresh = ThreadSpy(service_account.Credentials.refresh)

    def spied_refresh(self: Any, request: Any) -> None:
        refresh(self, request)

    monkeypatch.setattr(service_account.Credentials, "refresh", spied_refresh)
    return default, refresh


def bearer(sim: Simulator, index: int = -1) -> str:
    return sim.requests[index].headers.get("authorization", "").removeprefix("Bearer ")


def vertex_requests(sim: Simulator) -> list[Any]:
    return [r for r in sim.requests if ":streamRawPredict" in r.path]
