"""What a load run reports while it goes: the interface between the runner and any display."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..telemetry.exports import ExportReport
from .summary import LiveTotals, RunCounts, Summary

__all__ = ["LiveStats", "LoadObserver", "StartInfo"]


@dataclass(frozen=True, slots=True)
class StartInfo:
    """Known once the target and telemetry are up, before the first request."""

    target: str
    simulator: bool
    model: str
    profile: str | None
    concurrency: int
    runs: int | None
    duration: float | None
    metrics_url: str | None
    otlp_endpoint: str | None
    provider: str = "anthropic"


@dataclass(frozen=True, slots=True)
class LiveStats:
    elapsed: float
    runs: RunCounts
    totals: LiveTotals
    final: bool = False
    """The last tick, once the agents have stopped: rates are then the whole run's."""


class LoadObserver(Protocol):
    """Called on the event loop; each call must return quickly."""

    def started(self, info: StartInfo) -> None: ...

    def tick(self, stats: LiveStats) -> None:
        """A few times a second while agents run, and once more when they have stopped."""

    def finished(self, summary: Summary) -> None: ...

    def lingering(self, seconds: float, metrics_url: str) -> None:
        """The run is over; ``/metrics`` stays up for ``seconds`` (or until stopped)."""

    def exported(self, reports: tuple[ExportReport, ...]) -> None:
        """Telemetry has shut down: what each OTLP exporter delivered (called only with export)."""
