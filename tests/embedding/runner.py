"""Runs the scenarios in one environment, each under a hard limit, checks each, prints one line
per scenario, then checks that the process state stayed flat over the whole run."""

from __future__ import annotations

import asyncio
import contextvars
import faulthandler
import gc
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.simulator import FaultProfile, Simulator

from .agent_checks import agent_runs_settled
from .checks import ExemplarWatch, Problems, check_exemplars, check_scenario, in_flight, settle
from .environments import Environment
from .host import Host, LogCapture
from .probes import CallbackTimer, Snapshot, snapshot
from .scenarios import KEY, SCENARIOS, Stage, warm_up

__all__ = ["SCENARIO_LIMIT", "run"]

#: asyncio's limit on one scenario; the faulthandler watchdog (which needs no GIL and no loop)
#: exits the process with every thread's stack GRACE seconds later.
SCENARIO_LIMIT = 20.0
GRACE = 10.0
#: Between scenarios (settling, checks, snapshots) and at the end.
BETWEEN_LIMIT = 60.0
MAX_CALLBACK = 0.100
#: Live objects a run of 1,000+ streams may add (one leaked object per stream would be 1,000+).
OBJECT_TOLERANCE = 200


def _arm(seconds: float) -> None:
    faulthandler.dump_traceback_later(seconds, exit=True)


def say(line: str) -> None:
    print(line, flush=True)


@contextmanager
def _gc_off() -> Iterator[None]:
    # A full collection's pause is the heap's size, not any callback's: measured apart (and
    # what is alive is measured after explicit collections).
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Runner:
    def __init__(self, env: Environment, stage: Stage, timer: CallbackTimer, logs: LogCapture, sims: list[Simulator]):
        self.env = env
        self.stage = stage
        self.timer = timer
        self.logs = logs
        self.sims = sims
        self.model = stage.bare().model.id
        self.streams = 0
        self.failed = 0

    def _released(self) -> bool:
        recorder = self.env.recorder
        open_spans = recorder.open_spans() if recorder is not None else []
        pending = in_flight(self.model) or open_spans or any(sim.open_streams for sim in self.sims)
        return not pending and agent_runs_settled(self.stage.host)

    def _forget(self) -> None:
        """Drop what the checks kept of a scenario, so that snapshots measure the transport."""
        self.stage.host.reset()
        self.stage.watch = None
        self.logs.reset()
        if self.env.recorder is not None:
            self.env.recorder.reset()

    async def scenario(self, name: str, before: Snapshot) -> Snapshot:
        host, recorder = self.stage.host, self.env.recorder
        problems = Problems()
        self.stage.watch = ExemplarWatch(problems, self.model, recorder) if recorder is not None else None
        print(f"[{self.env.name}] {name}: running (a hang exits in {SCENARIO_LIMIT + GRACE:.0f} s)", file=sys.stderr)
        sys.stderr.flush()
        _arm(SCENARIO_LIMIT + GRACE)
        self.timer.reset()
        started = time.perf_counter()
        # Pooled transports per scenario: their pools close with them, so snapshots count no idle connections.
        async with AsyncExitStack() as pools:
            stage = self.stage
            stage.shared = await pools.enter_async_context(stage.bare())
            stage.shared_slow = await pools.enter_async_context(stage.bare(stage.slow))
            stage.shared_stall = await pools.enter_async_context(stage.bare(stage.stall))
            try:
                scenario = (warm_up if name == "warm-up" else SCENARIOS[name])(self.stage)
                async with asyncio.timeout(SCENARIO_LIMIT):
                    # A context of its own: what one scenario leaves current cannot blunt the next's checks.
                    await asyncio.create_task(scenario, context=contextvars.Context())
            except TimeoutError:
                problems.add(
                    f"did not complete within {SCENARIO_LIMIT:.0f} s (the loop was free: something never woke)"
                )
            except Exception as exc:
                problems.add("raised", "".join(traceback.format_exception(exc, limit=-3)).strip()[-600:])
            took = time.perf_counter() - started
            longest, where = self.timer.longest, self.timer.where
            _arm(BETWEEN_LIMIT)
            await settle(self._released)
            # Before the pool closes: closing it would end a body the transport left open.
            writing = sum(sim.open_streams for sim in self.sims)
        await asyncio.sleep(0.05)  # closed connections' ends (and their warnings) come a few loop turns later
        check_scenario(problems, host, self.logs, self.model, writing, recorder)
        check_exemplars(problems, self.model, recorder)
        # The first requests import modules (tens of ms, once per process): reported, not held to the limit.
        if longest > MAX_CALLBACK and name != "warm-up":
            problems.add(f"a callback held the event loop over {MAX_CALLBACK * 1000:.0f} ms", where)
        count = len(host.calls)
        self._forget()
        after = await snapshot()
        self.streams += count if name != "warm-up" else 0
        verdict = "ok" if not problems else "FAILED"
        say(
            f"[{self.env.name}] {name}: {count} streams in {took:.2f} s, max callback {longest * 1000:.1f} ms,"
            f" {before.grown(after).describe()}: {verdict}"
        )
        for line in problems.lines():
            say(f"    {line}")
        self.failed += bool(problems)
        return after


def _check_flat(name: str, streams: int, first: Snapshot, last: Snapshot) -> bool:
    grown = first.grown(last)
    flat = Problems()
    if grown.objects > OBJECT_TOLERANCE:
        flat.add(f"live objects grew by more than {OBJECT_TOLERANCE}", f"{grown.objects:+d}: {grown.grew_most()}")
    if grown.state > 0:
        flat.add("module-level state grew", grown.describe())
    if grown.proxy_meters:
        flat.add("OpenTelemetry's proxy meter provider keeps more meters", f"{grown.proxy_meters:+d}")
    say(f"[{name}] flat over {streams} streams: {grown.describe()}: {'FAILED' if flat else 'ok'}")
    for line in flat.lines():
        say(f"    {line}")
    return not flat


async def run(env: Environment, only: list[str], *, warm_up: bool = True) -> int:
    """``warm_up=False`` (to see where each scenario alone fails) leaves flatness unchecked."""
    wall, cpu = time.perf_counter(), time.process_time()
    _arm(BETWEEN_LIMIT)
    timer, logs = CallbackTimer(), LogCapture()
    with timer.installed(), logs.installed(), _gc_off():
        async with AsyncExitStack() as stack:
            # Seeds apart: the same seed gives the same response ids, and the checks find spans by them.
            fast = await stack.enter_async_context(Simulator(api_key=KEY, keep_requests=0, seed=1))
            slow = await stack.enter_async_context(Simulator(api_key=KEY, keep_requests=0, seed=2, token_delay=0.1))
            stalls = FaultProfile({"stall": 1.0}, seed=3)
            stall = await stack.enter_async_context(Simulator(api_key=KEY, keep_requests=0, seed=3, profile=stalls))
            unused = AnthropicTransport(base_url=fast.base_url, api_key=KEY)
            urls = fast.base_url, slow.base_url, stall.base_url
            stage = Stage(Host(env.tracer), *urls, shared=unused, shared_slow=unused, shared_stall=unused)
            runner = Runner(env, stage, timer, logs, [fast, slow, stall])
            first = last = await snapshot()
            if warm_up:
                first = last = await runner.scenario("warm-up", first)
            for name in only or list(SCENARIOS):
                last = await runner.scenario(name, last)
            flat = not warm_up or _check_flat(env.name, runner.streams, first, last)
    failed = runner.failed or not flat
    took = f"wall {time.perf_counter() - wall:.1f} s, CPU {time.process_time() - cpu:.1f} s"
    say(f"[{env.name}] {'FAILED' if failed else 'ok'}: {runner.streams} streams, {took}")
    return 1 if failed else 0
