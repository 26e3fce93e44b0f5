"""What the Vertex AI settings screen edits, checks and hands back to axio-tui. No widgets here.

The credentials are Google's Application Default Credentials, never typed into a form: the screen
edits where requests go (project, location, a base URL for a proxy) and the retries and timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from axio.models import ModelSpec

from axio_transport_anthropic import auth
from axio_transport_anthropic.errors import ConfigurationError
from axio_transport_anthropic.restore import KNOWN
from axio_transport_anthropic.transport import AnthropicTransport
from axio_transport_anthropic.tui.form import NUMBER_FIELDS, Problem, read_numbers, refusal, saved, validate_base_url

__all__ = ["CREDENTIALS_NOTE", "VERTEX_FIELDS", "check", "result"]

#: (setting, label, placeholder)
VERTEX_FIELDS: Final = (
    ("project", "Project", "blank: ANTHROPIC_VERTEX_PROJECT_ID, GOOGLE_CLOUD_PROJECT or the credentials'"),
    ("location", "Location", "blank: CLOUD_ML_REGION, else global (also us, eu, or a region)"),
    ("base_url", "Base URL", "blank: Google's host for the location (a proxy's URL here)"),
)
CREDENTIALS_NOTE: Final = (
    "Credentials: Google's Application Default Credentials "
    "(gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS)."
)
_MANAGED: Final = frozenset({"model", "vertexai", *(f[0] for f in VERTEX_FIELDS), *(f[0] for f in NUMBER_FIELDS)})
_LABELS: Final = {name: label for name, label, *_ in (*VERTEX_FIELDS, *NUMBER_FIELDS)}


def check(values: Mapping[str, str]) -> Problem | None:
    """The first thing that keeps these values from making a Vertex transport, checked as the
    transport checks them (google-auth installed included); blank values stand for the defaults."""
    if (url_problem := validate_base_url(values.get("base_url", ""))) is not None:
        return Problem("base_url", url_problem)
    kwargs: dict[str, Any] = {name: values[name] for name, *_ in VERTEX_FIELDS if values.get(name)}
    if (number_problem := read_numbers(values, kwargs)) is not None:
        return number_problem
    try:
        with auth.lenient():
            AnthropicTransport(vertexai=True, telemetry=None, **kwargs)
    except ConfigurationError as exc:
        return refusal(exc, _LABELS)
    return None


def result(settings: Mapping[str, str], values: Mapping[str, str], model: ModelSpec) -> dict[str, str]:
    """What the screen saves: this transport's settings only, blank ones left to their defaults,
    ``vertexai`` as 0.12.2's screen saved it, and the model the app chats with."""
    kept = saved(settings, values, _MANAGED, KNOWN)
    kept["vertexai"] = "true"
    kept["model"] = model.id
    return kept
