"""How the handle of ``setup()`` undoes it, within a time bound.

Order: exporters flushed, SDK providers shut down, global providers unset, ``/metrics`` stopped,
logging restored last, so that export failures are logged through the configured pipeline. The
SDK blocks on a collector that is down (OTLP/HTTP retries a refused export for about 7 s, and its
``force_flush`` ignores its timeout), so the providers are flushed and shut down in a worker
thread that the caller waits for only until the deadline; an exporter whose collector cannot be
reached at all (connection refused, unknown host) is stopped as soon as that is seen: at exit,
retrying for seconds only delays the same loss. What each exporter delivered is reported.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from .exports import ExportChannel, ExportReport

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "SdkProvider", "Teardown"]

#: Seconds ``shutdown()`` waits for the exporters by default.
DEFAULT_SHUTDOWN_TIMEOUT: Final = 5.0
#: Once the exporters are stopped mid-export, how long their retry loops get to wind down while
#: logging is still in place.
_WIND_DOWN: Final = 0.25
#: How often the wait for the exports looks for a collector that cannot be reached.
_POLL: Final = 0.02

_log = logging.getLogger("axio_transport_anthropic")


@dataclass(slots=True, frozen=True)
class SdkProvider:
    """An SDK tracer or meter provider, as ``Teardown`` drives it (times in milliseconds)."""

    flush: Callable[[float], object]
    shutdown: Callable[[float], object]


@dataclass(slots=True)
class Teardown:
    """What ``setup()`` started, by kind; ``run()`` undoes it once."""

    providers: list[SdkProvider] = field(default_factory=list)
    channels: list[ExportChannel] = field(default_factory=list)
    """One per exporter: its counts, and ``stop()``, which interrupts an export under way (the
    SDK's retry wait ends when its exporter shuts down)."""
    unset_globals: list[Callable[[], None]] = field(default_factory=list)
    stop_server: list[Callable[[], None]] = field(default_factory=list)
    restore_logging: list[Callable[[], None]] = field(default_factory=list)

    def run(self, timeout: float) -> tuple[ExportReport, ...]:
        """Undo everything; what each exporter delivered."""
        started = time.monotonic()
        gave_up = None
        try:
            if self.providers:
                gave_up = self._shut_providers(started, max(0.0, timeout))
        finally:
            # Each step's undo list runs in reverse, as they were set up.
            _each(reversed(self.unset_globals))
            _each(reversed(self.stop_server))
            _each(reversed(self.restore_logging))
        return tuple(channel.report(gave_up, since=started) for channel in self.channels)

    def _shut_providers(self, started: float, timeout: float) -> str | None:
        """Flush and shut down within ``timeout``; why it stopped waiting, if it did."""
        deadline = started + timeout
        aborted = threading.Event()
        worker = threading.Thread(
            target=self._flush_then_shutdown,
            args=(deadline, aborted),
            name="axio-telemetry-shutdown",
            daemon=True,  # never holds the process up at exit
        )
        worker.start()
        while worker.is_alive() and (left := deadline - time.monotonic()) > 0:
            worker.join(min(_POLL, left))
            for channel in self.channels:
                if channel.unreachable_since(started) and channel.stop():
                    _log.warning(
                        "telemetry export to %s failed (%s); not retrying at shutdown: what it held is dropped",
                        channel.endpoint,
                        channel.reason,
                    )
        if not worker.is_alive():
            return None
        # Said first: the SDK's own complaints about its stopped exporters follow.
        _log.warning(
            "telemetry exports did not finish in %.1f s (is the OTLP collector reachable?); "
            "stopping the exporters, what they still hold is dropped",
            time.monotonic() - started,
        )
        aborted.set()
        for channel in self.channels:
            channel.stop()
        worker.join(_WIND_DOWN)
        return f"no answer within {timeout:.1f} s"

    def _flush_then_shutdown(self, deadline: float, aborted: threading.Event) -> None:
        for provider in self.providers:
            if aborted.is_set():
                break
            _call(provider.flush, _millis_left(deadline))
        # Also after an abort, when the stopped exporters make it quick (the SDK fails a shutdown
        # given no time): nothing is then left for the SDK's own exit hook.
        for provider in self.providers:
            _call(provider.shutdown, max(_millis_left(deadline), _WIND_DOWN * 1000))


def _millis_left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic()) * 1000


def _call(step: Callable[[float], object], millis: float) -> None:
    try:
        step(millis)
    except Exception:
        _log.warning("telemetry shutdown step failed", exc_info=True)


def _each(steps: Iterable[Callable[[], None]]) -> None:
    for step in steps:
        try:
            step()
        except Exception:
            _log.warning("telemetry shutdown step failed", exc_info=True)
