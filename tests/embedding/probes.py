"""What the matrix measures around a scenario: the longest event-loop callback, and the process
state that must stay flat (module-level containers, live objects, OpenTelemetry's proxy meters)."""

from __future__ import annotations

import asyncio
import collections
import gc
import sys
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallbackTimer", "Snapshot", "snapshot"]

#: Modules whose module-level containers are counted.
_PREFIXES = ("axio_transport_anthropic", "opentelemetry")
_CONTAINERS = frozenset(
    {
        dict,
        list,
        set,
        collections.deque,
        weakref.WeakKeyDictionary,
        weakref.WeakValueDictionary,
        weakref.WeakSet,
    }
)


class CallbackTimer:
    """Times every ``asyncio.events.Handle._run`` (each callback and task step the loop runs).

    A patched class attribute, not a loop subclass: ``asyncio.run`` and aiohttp build their handles
    from this class, so nothing else needs to know. ``since`` leaves out a callback that began
    before the window (the runner's own ``gc.collect()`` between scenarios)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.where = ""
        self._since = 0.0
        self._original: Callable[[asyncio.Handle], None] | None = None

    @contextmanager
    def installed(self) -> Iterator[CallbackTimer]:
        original = asyncio.events.Handle._run
        self._original = original
        timer = self

        def _run(handle: asyncio.Handle) -> None:
            started = time.perf_counter()
            try:
                original(handle)
            finally:
                took = time.perf_counter() - started
                if took > timer.longest and started >= timer._since:
                    timer.longest = took
                    timer.where = repr(handle)[:300]

        asyncio.events.Handle._run = _run  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            asyncio.events.Handle._run = original  # type: ignore[method-assign]

    def reset(self) -> None:
        self.longest = 0.0
        self.where = ""
        self._since = time.perf_counter()


def _module_containers() -> dict[str, int]:
    sizes: dict[str, int] = {}
    seen: set[int] = set()
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(_PREFIXES):
            continue
        for attr, value in list(vars(module).items()):
            # The MRO, not isinstance(): the weak mappings are ABCs, and an ABC check caches a
            # weak reference per type it sees, which the object count would then show.
            if attr.startswith("__") or not _CONTAINERS.intersection(type(value).__mro__) or id(value) in seen:
                continue
            seen.add(id(value))
            sizes[f"{name}.{attr}"] = len(value)
    return sizes


def _proxy_meters() -> int | None:
    """How many meters OpenTelemetry's proxy provider keeps (each is kept for good)."""
    try:
        from opentelemetry.metrics._internal import _PROXY_METER_PROVIDER
    except ImportError:
        return None
    meters: Any = getattr(_PROXY_METER_PROVIDER, "_meters", None)
    return None if meters is None else len(meters)


@dataclass(frozen=True)
class Snapshot:
    objects: int
    containers: dict[str, int] = field(default_factory=dict)
    proxy_meters: int | None = None
    types: Counter[str] = field(default_factory=Counter)

    def grown(self, later: Snapshot) -> Growth:
        names = set(self.containers) | set(later.containers)
        containers = {
            name: later.containers.get(name, 0) - self.containers.get(name, 0)
            for name in sorted(names)
            if later.containers.get(name, 0) != self.containers.get(name, 0)
        }
        meters = None
        if self.proxy_meters is not None and later.proxy_meters is not None:
            meters = later.proxy_meters - self.proxy_meters
        types = later.types.copy()
        types.subtract(self.types)
        return Growth(later.objects - self.objects, containers, meters, types)


@dataclass(frozen=True)
class Growth:
    objects: int
    containers: dict[str, int]
    proxy_meters: int | None
    types: Counter[str] = field(default_factory=Counter)

    @property
    def state(self) -> int:
        return sum(self.containers.values())

    def describe(self) -> str:
        grew = sorted(self.containers.items(), key=lambda item: -abs(item[1]))[:3]
        which = ", ".join(f"{name} {delta:+d}" for name, delta in grew)
        meters = "n/a" if self.proxy_meters is None else f"{self.proxy_meters:+d}"
        kinds = f" ({self.grew_most()})" if self.objects >= 100 else ""
        state = f"{self.state:+d}" + (f" ({which})" if which else "")
        return f"objects {self.objects:+d}{kinds}, module state {state}, proxy meters {meters}"

    def grew_most(self) -> str:
        """The types whose live count grew most (what a leak is made of)."""
        return ", ".join(f"{name} {delta:+d}" for name, delta in self.types.most_common(5) if delta > 0)


async def snapshot() -> Snapshot:
    """After full collections, with loop turns between them (what a collection finalizes may
    schedule callbacks): what is alive, not what is waiting for the collector or the loop."""
    for _ in range(3):
        gc.collect()
        await asyncio.sleep(0.01)
    # Twice: the first walk over every object makes ~300 objects of bookkeeping of its own the
    # first time (weak references and sets, as ABC caches are), which the second then counts.
    for _ in range(2):
        gc.collect()
        alive = gc.get_objects()
        types = Counter(type(thing).__qualname__ for thing in alive)
        count = len(alive)
        del alive
    return Snapshot(count, _module_containers(), _proxy_meters(), types)
