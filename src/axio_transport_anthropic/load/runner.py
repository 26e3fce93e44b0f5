"""Workers that repeat agent runs until a run count, a deadline or a stop request ends them.

Bounds: ``runs`` is a budget of agent runs handed out one at a time, so exactly that many start.
At the deadline no new run starts and those under way get ``drain`` seconds to finish, so a
``--duration`` run ends on time without cutting every last request short. A stop request (Ctrl-C)
cancels the runs under way at once. However ``drive()`` ends, no worker outlives it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from .summary import RunCounts

__all__ = ["Budget", "Tally", "drive"]

logger = logging.getLogger("axio_transport_anthropic.load")


@dataclass(slots=True)
class Tally:
    """Agent runs so far; read by the progress bar while the workers update it."""

    started: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.failed

    def snapshot(self) -> RunCounts:
        return RunCounts(self.started, self.completed, self.failed, self.cancelled)


class Budget:
    """Hands out agent runs while the count lasts, the deadline is ahead and nobody closed it."""

    __slots__ = ("_clock", "_closed", "_deadline", "_left")

    def __init__(self, runs: int | None, deadline: float | None, clock: Callable[[], float]) -> None:
        self._left = runs
        self._deadline = deadline
        self._clock = clock
        self._closed = False

    def take(self) -> bool:
        if self._closed or self._left == 0:
            return False
        if self._deadline is not None and self._clock() >= self._deadline:
            self._closed = True
            return False
        if self._left is not None:
            self._left -= 1
        return True

    def close(self) -> None:
        self._closed = True


async def drive(
    run_once: Callable[[int], Awaitable[bool]],
    *,
    concurrency: int,
    runs: int | None,
    duration: float | None,
    drain: float,
    stop: asyncio.Event,
    tally: Tally,
) -> bool:
    """Run ``run_once(worker)`` on ``concurrency`` workers until bounded; ``True`` if ``stop`` cut it short.

    ``run_once`` returns whether the run succeeded; an exception counts as a failed run.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration if duration is not None else None
    budget = Budget(runs, deadline, loop.time)
    workers = [asyncio.create_task(_worker(run_once, index, budget, tally)) for index in range(concurrency)]
    stopped = asyncio.create_task(stop.wait())
    try:
        await _until(workers, stopped, duration)
        if not stopped.done() and not all(w.done() for w in workers):
            # The deadline passed: the budget refuses new runs; let those under way end.
            budget.close()
            await _until(workers, stopped, drain)
        return stopped.done()
    finally:
        budget.close()
        for task in (*workers, stopped):
            task.cancel()
        await asyncio.gather(*workers, stopped, return_exceptions=True)


async def _until(workers: Collection[asyncio.Task[None]], stopped: asyncio.Task[bool], seconds: float | None) -> None:
    """Until every worker is done, ``stop`` is set, or ``seconds`` pass."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds if seconds is not None else None
    pending = {task for task in workers if not task.done()}
    while pending and not stopped.done():
        left = end - loop.time() if end is not None else None
        if left is not None and left <= 0:
            return
        done, _ = await asyncio.wait({*pending, stopped}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        pending -= done


async def _worker(run_once: Callable[[int], Awaitable[bool]], index: int, budget: Budget, tally: Tally) -> None:
    while budget.take():
        tally.started += 1
        try:
            ok = await run_once(index)
        except asyncio.CancelledError:
            tally.cancelled += 1
            raise
        except Exception:
            # The transport already logged and counted the request that failed; this is the run.
            logger.debug("agent run failed", exc_info=True)
            ok = False
        if ok:
            tally.completed += 1
        else:
            tally.failed += 1
