"""What a client process measures: CPU, wall, GC and waits around a run of streams, or a stream's memory peak.

Runs in every client's venv: the standard library only at module level (see compare_client.py).
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from client_interface import Client, Received

__all__ = ["measure", "measure_memory"]


async def _streams(client: Client, shape: str, deltas: int, streams: int, loops: int) -> list[Received]:
    results: list[Received] = []
    for _ in range(loops):
        if streams == 1:
            results.append(await client.one(shape, deltas))
        else:
            results.extend(await asyncio.gather(*(client.one(shape, deltas) for _ in range(streams))))
    return results


def _summary(results: list[Received]) -> dict[str, Any]:
    first = results[0]
    return {"per_stream": _fields(first), "all_same": all(r == first for r in results)}


def _fields(got: Received) -> dict[str, int]:
    return {
        "deltas": got.deltas,
        "text_chars": got.text_chars,
        "json_chars": got.json_chars,
        "body_bytes": got.body_bytes,
        "sse_events": got.sse_events,
    }


@dataclass
class _Collected:
    seconds: float = 0.0
    full_passes: int = 0


@contextmanager
def _gc_time() -> Iterator[_Collected]:
    collected = _Collected()
    started = 0.0

    def on_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.thread_time()
        else:
            collected.seconds += time.thread_time() - started
            collected.full_passes += info["generation"] == 2

    gc.callbacks.append(on_gc)
    try:
        yield collected
    finally:
        gc.callbacks.remove(on_gc)


async def measure(client: Client, command: dict[str, Any], profile: cProfile.Profile | None) -> dict[str, Any]:
    shape, deltas = str(command["shape"]), int(command["deltas"])
    streams, loops = int(command.get("streams", 1)), int(command.get("loops", 1))
    gc.collect()
    if profile is not None:
        profile.enable()
    before = resource.getrusage(resource.RUSAGE_SELF)
    with _gc_time() as collected:
        wall = time.perf_counter()
        cpu = time.process_time()
        results = await _streams(client, shape, deltas, streams, loops)
        cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    if profile is not None:
        profile.disable()
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        # Part of cpu_s: the cycle collector's passes, which a profiler charges to whatever allocated.
        "gc_s": collected.seconds,
        "gc_full_passes": collected.full_passes,
        # Voluntary switches: the process blocked, waiting for data (it outran the server).
        # Involuntary ones: something else on the machine took its core.
        "waits": after.ru_nvcsw - before.ru_nvcsw,
        "preempted": after.ru_nivcsw - before.ru_nivcsw,
        "streams": len(results),
        **_summary(results),
    }


async def measure_memory(client: Client, command: dict[str, Any]) -> dict[str, Any]:
    shape, deltas, keep = str(command["shape"]), int(command["deltas"]), bool(command["keep"])
    await client.collect(shape, deltas, keep)  # warm: first-call caches are not the stream's cost
    gc.collect()
    tracemalloc.start()
    text, got = await client.collect(shape, deltas, keep)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "peak_bytes": peak,
        "after_bytes": current,
        "text_chars": len(text),
        "text_bytes": sys.getsizeof(text) if keep else 0,
        "received": _fields(got),
    }
