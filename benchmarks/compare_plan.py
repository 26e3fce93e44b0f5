"""What ``compare.py`` measures: the clients, their order and labels, the regimes and the workloads."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

__all__ = [
    "CLIENT_ORDER",
    "FLOORS",
    "FULL",
    "LABELS",
    "PUBLISHED_VERSION",
    "QUICK",
    "REGIMES",
    "REGIME_NOTES",
    "SDK_VERSION",
    "Workload",
]

PUBLISHED_VERSION: Final = "0.12.2"
SDK_VERSION: Final = "2.14.0"
#: Parse floor and raw read are always measured: every ratio is to them.
FLOORS: Final = ("raw-read", "parse-floor")
CLIENT_ORDER: Final = ("raw-read", "parse-floor", "published", "sdk-create", "sdk-stream", "ours-off", "ours-full")
LABELS: Final = {
    "raw-read": "aiohttp body read (floor)",
    "parse-floor": "aiohttp + SSE split + json.loads (parse floor)",
    "published": f"axio-transport-anthropic {PUBLISHED_VERSION} (PyPI)",
    "sdk-create": "anthropic SDK messages.create(stream=True)",
    "sdk-stream": "anthropic SDK messages.stream()",
    "ours-off": "this project, telemetry=None",
    "ours-full": "this project, full telemetry",
}
REGIMES: Final = ("replay", "live")
REGIME_NOTES: Final = {
    "replay": "the simulator's recorded answers written at wire speed: every client reads as fast as it can",
    "live": "the simulator answering each request itself (token_delay 0, chunking event): fast clients wait on it",
}


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    label: str
    shape: str
    deltas: int
    streams: int = 1
    #: Streams (or rounds of concurrent streams) per measured repeat: short streams are timed in a loop.
    loops: int = 1
    repeats: int = 7
    #: The warm-up run opens the pool: concurrent warm-ups use short answers, the connects are what matter.
    warm_deltas: int | None = None
    warm_loops: int = 2
    #: Clients left out of this workload, to keep the whole run near fifteen minutes.
    skip: tuple[str, ...] = ()
    #: Against the live simulator, fast clients wait on the server (~16 s a round at 1,000 streams):
    #: these are left out there too, and ``live_repeats`` replaces ``repeats``.
    skip_live: tuple[str, ...] = ()
    live_repeats: int | None = None

    def in_regime(self, regime: str) -> Workload:
        if regime != "live":
            return self
        return replace(self, skip=(*self.skip, *self.skip_live), repeats=self.live_repeats or self.repeats)


#: Against the live simulator the published package and the SDK are slower than the server, so their
#: CPU is the same live or replayed (compare the single-stream rows): the concurrent live rounds,
#: where every client waits ~1.5 s (100 streams) or ~16 s (1,000) on the server, keep to the floors
#: and this project, which is what keeps the whole run near ten minutes.
_SLOW_CLIENTS: Final = ("published", "sdk-create", "sdk-stream")
FULL: Final = (
    # Many short rounds: on a shared machine a round's CPU time can be off by a third (a neighbour
    # contending for caches), so each target is the median of 31 same-round ratios.
    Workload("text-1k", "1 stream × 1,000 text deltas", "text", 1000, loops=10, repeats=31),
    Workload("text-10k", "1 stream × 10,000 text deltas", "text", 10_000, loops=1, repeats=31, warm_loops=1),
    Workload("tool-2k", "1 tool-use stream × 2,000 argument chunks", "tool", 2000, loops=5, repeats=31),
    Workload(
        "conc-100",
        "100 concurrent × 1,000 text deltas",
        "text",
        1000,
        streams=100,
        repeats=9,
        warm_deltas=100,
        skip_live=_SLOW_CLIENTS,
    ),
    Workload(
        "conc-1000",
        "1,000 concurrent × 1,000 text deltas",
        "text",
        1000,
        streams=1000,
        repeats=5,
        warm_deltas=10,
        warm_loops=1,
        # ~65 s a round on its own; the SDK is measured here through messages.create. Live, the
        # server paces every client (~16 s a round each): two rounds there, as a cross-check.
        skip=("sdk-stream",),
        skip_live=_SLOW_CLIENTS,
        live_repeats=2,
    ),
)
QUICK: Final = (
    Workload("text-1k", "1 stream × 1,000 text deltas", "text", 1000, loops=3, repeats=3, warm_loops=1),
    Workload("text-10k", "1 stream × 10,000 text deltas", "text", 10_000, loops=1, repeats=3, warm_loops=1),
    Workload("tool-2k", "1 tool-use stream × 2,000 argument chunks", "tool", 2000, loops=2, repeats=3, warm_loops=1),
    Workload(
        "conc-100",
        "100 concurrent × 100 text deltas",
        "text",
        100,
        streams=100,
        repeats=3,
        warm_deltas=10,
        warm_loops=1,
    ),
    Workload(
        "conc-1000",
        "1,000 concurrent × 10 text deltas",
        "text",
        10,
        streams=1000,
        repeats=3,
        warm_loops=1,
        # The SDK's pool of 1,000 connections costs it ~7 s a round even on 10-delta answers.
        skip=("sdk-create", "sdk-stream"),
    ),
)
