"""What became of the OTLP exports ``setup()`` started: counted as they happen, reported at shutdown.

An ``ExportChannel`` is fed by a thin wrapper around each exporter (``sdk_exporters.py``): what the
collector accepted, what failed, and why the last HTTP attempt failed. ``shutdown()`` turns each
channel into an ``ExportReport``, so that a program can say what really happened to its traces
instead of assuming they arrived. No OpenTelemetry SDK import here: teardown uses this in a core
install too.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["ExportChannel", "ExportReport", "Signal", "describe_error"]

Signal = Literal["traces", "metrics"]

_UNITS: Final = {"traces": "span", "metrics": "data point"}

_log = logging.getLogger("axio_transport_anthropic")


@dataclass(frozen=True, slots=True)
class ExportReport:
    """One exporter's outcome: spans (traces) or data points (metrics) the collector accepted and
    the ones it never got, with the reason for the last failure."""

    signal: Signal
    endpoint: str
    exported: int
    dropped: int
    reason: str | None = None
    """Why the last export failed (``connection refused``, ``HTTP 503 Service Unavailable``, ``no
    answer within 5.0 s``); ``None`` when nothing was dropped."""

    @property
    def ok(self) -> bool:
        return self.dropped == 0

    def describe(self) -> str:
        """One line: ``12 spans exported to URL`` or ``export to URL failed: 12 spans dropped (why)``."""
        why = f" ({self.reason})" if self.reason else ""
        if self.dropped == 0:
            if self.exported == 0:
                return f"nothing to export to {self.endpoint}"
            return f"{self._count(self.exported)} exported to {self.endpoint}"
        if self.exported == 0:
            return f"export to {self.endpoint} failed: {self._count(self.dropped)} dropped{why}"
        return f"{self._count(self.exported)} exported to {self.endpoint}, {self.dropped:,} dropped{why}"

    def to_json(self) -> dict[str, object]:
        return {
            "signal": self.signal,
            "endpoint": self.endpoint,
            "exported": self.exported,
            "dropped": self.dropped,
            "reason": self.reason,
        }

    def _count(self, amount: int) -> str:
        unit = _UNITS[self.signal]
        return f"{amount:,} {unit}{'' if amount == 1 else 's'}"


class ExportChannel:
    """The counts of one exporter, updated from the SDK's threads and read at shutdown."""

    def __init__(self, signal: Signal, endpoint: str, *, counts_ended: bool) -> None:
        self.signal: Signal = signal
        self.endpoint = endpoint
        self._lock = threading.Lock()
        # Traces: every sampled span that ended, so that spans never handed to the exporter (a
        # queue still full when shutdown gave up) count as dropped too. Metrics: failures only.
        self._ended: int | None = 0 if counts_ended else None
        self._exported = 0
        self._failed = 0
        self._failure: tuple[float, str] | None = None
        self._unreachable_at: float | None = None
        self._stop: Callable[[], None] | None = None
        self._stopped = False

    def on_stop(self, stop: Callable[[], None]) -> None:
        """What interrupts the exporter (its ``shutdown()``: the SDK's retry wait ends with it)."""
        self._stop = stop

    def ended(self) -> None:
        with self._lock:
            if self._ended is not None:
                self._ended += 1

    def exported(self, amount: int) -> None:
        with self._lock:
            self._exported += amount

    def failed(self, amount: int) -> None:
        with self._lock:
            self._failed += amount

    def attempt_failed(self, reason: str, *, unreachable: bool) -> None:
        """One HTTP attempt failed; ``unreachable``: no connection to the collector at all."""
        now = time.monotonic()
        with self._lock:
            self._failure = (now, reason)
            if unreachable:
                self._unreachable_at = now

    def unreachable_since(self, moment: float) -> bool:
        at = self._unreachable_at
        return at is not None and at >= moment

    @property
    def reason(self) -> str | None:
        failure = self._failure
        return failure[1] if failure is not None else None

    def stop(self) -> bool:
        """Stop the exporter once; ``True`` if this call did."""
        with self._lock:
            if self._stopped:
                return False
            self._stopped = True
        if self._stop is not None:
            try:
                self._stop()
            except Exception:
                _log.warning("stopping the %s exporter failed", self.signal, exc_info=True)
        return True

    def report(self, gave_up: str | None = None, since: float = 0.0) -> ExportReport:
        """``gave_up``: why shutdown stopped waiting, if it did; a failure seen since ``since``
        (shutdown's start) is the better reason."""
        with self._lock:
            exported, failed, ended, failure = self._exported, self._failed, self._ended, self._failure
        dropped = max(0, ended - exported) if ended is not None else failed
        reason = None
        if dropped:
            recent = failure is not None and (failure[0] >= since or gave_up is None)
            reason = failure[1] if failure is not None and recent else gave_up
        return ExportReport(self.signal, self.endpoint, exported, dropped, reason)


def describe_error(error: BaseException) -> str:
    """A few words for why an HTTP attempt failed, from the innermost cause that says."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "host not found"
        if isinstance(current, ConnectionResetError):
            return "connection reset"
        if isinstance(current, ssl.SSLError):
            return "TLS error"
        if isinstance(current, TimeoutError) or "Timeout" in type(current).__name__:
            return "timed out"
        causes = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        pending.extend(cause for cause in causes if isinstance(cause, BaseException))
    return type(error).__name__
