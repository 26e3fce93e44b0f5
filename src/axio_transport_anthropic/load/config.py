"""What one load run does, checked before anything starts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ..models import ANTHROPIC_MODELS, DEFAULT_MODEL
from ..providers import PROVIDERS, missing_extra
from ..simulator import FaultProfile
from ..telemetry.call_labels import check_label_names

__all__ = ["DEFAULT_RUNS", "LoadConfig", "LoadError", "url_problem"]

#: Agent runs when neither a count nor a duration is given.
DEFAULT_RUNS: Final = 100


class LoadError(Exception):
    """A run that cannot start (bad settings, no key, port taken); the message is for the user."""


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """Settings of one run. ``requests`` counts agent runs (tool loops), not HTTP requests."""

    requests: int | None = None
    """Agent runs to finish; each is one tool loop, two Messages API calls when nothing fails."""
    duration: float | None = None
    """Seconds after which no new agent run starts; with ``requests`` too, whichever comes first."""
    concurrency: int = 4
    model: str = DEFAULT_MODEL
    provider: str = "anthropic"
    """Whose wire and credentials: ``anthropic``, ``vertex`` (Vertex AI) or ``bedrock``."""
    base_url: str | None = None
    """``None``: a built-in simulator is started in-process for the run, and the provider's route
    on it used with credentials made for it."""
    api_key: str | None = None
    """For ``base_url`` with the ``anthropic`` provider; ``None`` reads ``ANTHROPIC_API_KEY``. Vertex
    AI and Bedrock use the credentials their transports find (ADC, the AWS chain)."""
    profile: str = "none"
    seed: int = 0
    first_byte_delay: float = 0.0
    token_delay: float = 0.0
    max_retries: int = 3
    retry_base_delay: float = 0.05
    timeout: float | None = None
    """First-byte and idle timeout of each attempt; ``None``: 5 s on the simulator (its stall
    faults must fail fast under load), the transport's defaults on a real URL."""
    metrics_port: int | None = None
    """Serve ``/metrics`` on this port (0: a free one); ``None``: no server."""
    metrics_addr: str = "127.0.0.1"
    """Listen address of ``/metrics``; ``0.0.0.0`` in a container that another one scrapes."""
    linger: float = 0.0
    """Seconds to keep serving ``/metrics`` after the run, for a last scrape."""
    drain: float = 10.0
    """After ``duration``, how long runs under way may take to finish before they are cancelled."""
    log_level: str = "ERROR"
    log_format: str = "console"
    """``console`` (key=value lines) or ``json`` (one object a line) on stderr."""
    labels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Call labels for the agent runs: ``(name, values)``; run *n* gets ``values[n % len(values)]``
    of each, set with ``call_labels()`` around the whole run."""

    def labels_of(self, run: int) -> dict[str, str]:
        """The call labels of the ``run``-th agent run (counted from 0)."""
        return {name: values[run % len(values)] for name, values in self.labels}

    @property
    def runs(self) -> int | None:
        """The run budget: ``requests``, or ``DEFAULT_RUNS`` when no bound was given at all."""
        if self.requests is None and self.duration is None:
            return DEFAULT_RUNS
        return self.requests

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        if self.requests is not None and self.requests < 1:
            raise ValueError(f"requests must be at least 1, not {self.requests}")
        if self.duration is not None and not (self.duration > 0 and math.isfinite(self.duration)):
            raise ValueError(f"duration must be a positive number of seconds, not {self.duration}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.model not in ANTHROPIC_MODELS:
            raise ValueError(f"unknown model {self.model!r}; known: {', '.join(ANTHROPIC_MODELS.keys())}")
        if self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}; known: {', '.join(PROVIDERS)}")
        if (missing := missing_extra(self.provider)) is not None:
            raise ValueError(missing)
        if self.profile not in FaultProfile.names():
            raise ValueError(f"unknown profile {self.profile!r}; known: {', '.join(FaultProfile.names())}")
        if self.base_url is not None and (problem := url_problem(self.base_url)):
            raise ValueError(problem)
        if self.timeout is not None and not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {self.max_retries}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics_port must be between 0 and 65535, not {self.metrics_port}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"log_level must be a logging level name, not {self.log_level!r}")
        if self.log_format not in ("console", "json"):
            raise ValueError(f"log_format must be 'console' or 'json', not {self.log_format!r}")
        check_label_names(name for name, _ in self.labels)
        for name, values in self.labels:
            if not values or not all(values):
                raise ValueError(f"label {name} needs one or more non-empty values, not {values!r}")
        for name in ("first_byte_delay", "token_delay", "retry_base_delay", "linger", "drain"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value}")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a base URL, or ``None`` when it can."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"base URL must start with http:// or https://, not {url!r}"
    if not parts.hostname:
        return f"base URL has no host: {url!r}"
    return None
