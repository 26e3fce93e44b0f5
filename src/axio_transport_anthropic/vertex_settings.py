"""The Vertex AI settings: ``vertexai`` read as 0.12.2 read it, the project and region checked
for the URL they go into and completed from the environment, and the API root for a region.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigurationError
from .settings import DefaultBaseURL, shown

if TYPE_CHECKING:
    from .transport import AnthropicTransport

__all__ = [
    "NO_PROJECT",
    "VERTEX_ANTHROPIC_VERSION",
    "MissingExtraError",
    "api_root",
    "host_for",
    "location_of",
    "prepare",
    "project_of",
]

#: The ``anthropic_version`` a Vertex body carries instead of the direct API's header.
VERTEX_ANTHROPIC_VERSION: Final = "vertex-2023-10-16"
NO_PROJECT: Final = (
    "no Google Cloud project for Vertex AI: pass project=, or set ANTHROPIC_VERTEX_PROJECT_ID or "
    "GOOGLE_CLOUD_PROJECT, or use credentials that name one"
)
_EXTRA: Final = "pip install 'axio-transport-anthropic[vertex]'"
#: Project ids, numbers and the older domain-scoped ids (``example.com:project``).
_PROJECT: Final = re.compile(r"[a-z0-9][a-z0-9.:-]*")
_LOCATION: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
#: A Vertex root is never Anthropic's: a base_url there (0.12.2 saved one) is no override.
_ANTHROPIC_HOST: Final = "api.anthropic.com"


class MissingExtraError(ConfigurationError, ImportError):
    """google-auth is not installed. An ImportError as 0.12.2 raised, and a ConfigurationError."""


def prepare(t: AnthropicTransport) -> None:
    """Read ``vertexai`` ("true"/"1" as 0.12.2 did), check project and location, and make sure
    google-auth is there when Vertex is asked for: raise naming what is wrong."""
    if isinstance(t.vertexai, str):
        t.vertexai = t.vertexai.strip().lower() in ("true", "1")
    if not isinstance(t.vertexai, bool):
        raise ConfigurationError(f"vertexai must be True or False, got {shown(t.vertexai)}")
    for name, pattern in (("project", _PROJECT), ("location", _LOCATION)):
        value = getattr(t, name)
        if not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, got a {type(value).__name__}")
        if value and not pattern.fullmatch(value):
            raise ConfigurationError(f"{name} {shown(value)} is not a Google Cloud {name} name")
    if t.vertexai:
        require_google_auth()


def require_google_auth() -> None:
    try:
        import google.auth
        import google.auth.transport.requests  # noqa: F401  # refresh() needs requests
    except ImportError as exc:
        raise MissingExtraError(f"vertexai=True needs google-auth with requests: {_EXTRA}") from exc


def project_of(t: AnthropicTransport) -> str:
    """The project named, else the official SDK's variables; "" leaves it to the credentials."""
    return (
        t.project
        or os.environ.get("ANTHROPIC_VERTEX_PROJECT_ID")
        or os.environ.get("GOOGLE_CLOUD_PROJECT")
        or os.environ.get("GCLOUD_PROJECT")
        or ""
    )


def location_of(t: AnthropicTransport) -> str:
    """The region named, else the SDK's ``CLOUD_ML_REGION``, 0.12.2's ``GOOGLE_CLOUD_LOCATION``,
    then ``global`` (0.12.2's default)."""
    for found in (t.location, os.environ.get("CLOUD_ML_REGION"), os.environ.get("GOOGLE_CLOUD_LOCATION")):
        if found and _LOCATION.fullmatch(found):
            return found
    return "global"


def host_for(location: str) -> str:
    """``global`` routes to any region with capacity, ``us``/``eu`` stay in one geography, a
    region pins where the data is processed."""
    if location == "global":
        return "aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"aiplatform.{location}.rep.googleapis.com"
    return f"{location}-aiplatform.googleapis.com"


def base_url_override(t: AnthropicTransport) -> str | None:
    """A base_url given for Vertex (a proxy, the simulator), or ``None`` for the default and
    ``ANTHROPIC_BASE_URL``, which name the direct API."""
    if isinstance(t.base_url, DefaultBaseURL) or urlsplit(t.base_url).hostname == _ANTHROPIC_HOST:
        return None
    return t.base_url


def api_root(t: AnthropicTransport, location: str) -> str:
    """What ``/projects/…`` follows: an override, ``ANTHROPIC_VERTEX_BASE_URL``, or Google's host."""
    root = base_url_override(t) or os.environ.get("ANTHROPIC_VERTEX_BASE_URL") or f"https://{host_for(location)}/v1"
    parts = urlsplit(root)
    if parts.path in ("", "/"):
        root = urlunsplit(parts._replace(path="/v1"))
    return root.rstrip("/")
