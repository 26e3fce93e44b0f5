"""Run one scenario: start its simulators, Prometheus and load processes, and collect the answers.

Every process is stopped on return. Nothing here judges the answers: verify/scenario_report.py does.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from dashboards.queries import committed_dashboards, substitute

from verify.child_commands import (
    LINGER,
    LOAD_DRAIN,
    child_env,
    load_argv,
    prometheus_argv,
    simulator_argv,
)
from verify.panels import evaluations, selectors
from verify.processes import Proc, ProcessError, Supervisor
from verify.promapi import JOB, PromAPI, ScrapeTarget, free_port, prometheus_config
from verify.query_answers import has_data
from verify.raw_run import RANGE_STEP, AlertTimeline, RawRun, RunningLoad, rule_key, rules_of
from verify.scenarios import Scenario

__all__ = ["VerificationError", "run_scenario"]

_LABEL_VALUES: Final = re.compile(r"^\s*label_values\((?P<match>.*),\s*(?P<label>\w+)\s*\)\s*$", re.DOTALL)


class VerificationError(RuntimeError):
    """The verification cannot run at all (no Prometheus, no rules, no CLI)."""


def _wait(what: str, check: Callable[[], bool], timeout: float, proc: Proc | None = None) -> None:
    end = time.monotonic() + timeout
    while not check():
        if proc is not None and not proc.running():
            raise ProcessError(f"{proc.name} exited with {proc.popen.returncode} while waiting for {what}")
        if time.monotonic() > end:
            raise ProcessError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def _check_config(promtool: str | None, config: Path) -> None:
    """`promtool check config`, which also checks the rule files, for a readable error up front."""
    if promtool is None:
        return
    done = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise VerificationError(f"promtool check config failed:\n{done.stdout}{done.stderr}")


def _variable_values(
    api: PromAPI, dashboards: Sequence[Mapping[str, Any]], start: float, end: float
) -> dict[str, list[str]]:
    """Each query variable's values, from its own `label_values()` query, other variables "All"."""
    values: dict[str, list[str]] = {}
    for dashboard in dashboards:
        for variable in (dashboard.get("templating") or {}).get("list") or []:
            name = str(variable.get("name"))
            query = variable.get("query")
            if isinstance(query, Mapping):
                query = query.get("query")
            if variable.get("type") != "query" or name in values or not isinstance(query, str):
                continue
            found = _LABEL_VALUES.match(query)
            if found is not None:
                values[name] = api.label_values(found["label"], substitute(found["match"]), start, end)
    return values


def run_scenario(
    scenario: Scenario,
    *,
    cli: str,
    prometheus: str,
    promtool: str | None,
    rules: Sequence[Path],
    workdir: Path,
    log: Callable[[str], None],
) -> RawRun:
    """Run ``scenario`` and collect Prometheus' answers; every process is stopped on return."""
    dashboards = committed_dashboards()
    workdir.mkdir(parents=True, exist_ok=True)
    bound = scenario.duration + LOAD_DRAIN + LINGER + 120.0
    env = child_env()
    with Supervisor(workdir) as supervisor:
        urls: dict[str, str] = {}
        simulators: list[dict[str, Any]] = []
        for sim in scenario.simulators:
            argv = simulator_argv(cli, sim, free_port())
            proc = supervisor.start(f"simulator-{sim.profile}", argv, lifetime=bound, env=env)
            urls[sim.profile] = proc.wait_for(r"listening on (http://\S+)", 30).group(1)
            simulators.append(
                {
                    "profile": sim.profile,
                    "seed": sim.seed,
                    "rate_limits": dict(sim.rate_limits),
                    "base_url": urls[sim.profile],
                }
            )
        log(f"simulators: {', '.join(f'{name} {url}' for name, url in urls.items())}")

        prom_port = free_port()
        config = workdir / "prometheus.yml"
        config.write_text(prometheus_config([], rules), encoding="utf-8")
        _check_config(promtool, config)
        prom = supervisor.start(
            "prometheus", prometheus_argv(prometheus, config, workdir / "tsdb", prom_port), lifetime=bound
        )
        api = PromAPI(prom_port)
        _wait("Prometheus to be ready", api.ready, 60, prom)
        log(f"prometheus {api.base}")

        loads = [
            RunningLoad(
                spec,
                supervisor.start(
                    f"load-{spec.name}",
                    load_argv(cli, spec, urls[spec.profile], scenario.duration, workdir / f"{spec.name}.json"),
                    lifetime=scenario.duration + LOAD_DRAIN + LINGER + 30.0,
                    env=env,
                ),
                workdir / f"{spec.name}.json",
            )
            for spec in scenario.loads
        ]
        for load in loads:
            metrics_port = load.proc.wait_for(r"^metrics: http://127\.0\.0\.1:(\d+)/metrics", 30).group(1)
            load.instance = f"127.0.0.1:{metrics_port}"
        # Each load process prints its metrics URL just before its first request.
        started = time.time()
        timeline = AlertTimeline(started)
        targets = [
            ScrapeTarget(
                load.instance,
                # Not `agent`: a target label would displace the metrics' own `agent` call label.
                {"scenario": scenario.name, "load": load.spec.name, "simulator": load.spec.profile},
            )
            for load in loads
        ]
        config.write_text(prometheus_config(targets, rules), encoding="utf-8")
        api.reload()

        def all_up() -> bool:
            up = [target for target in api.targets() if target.get("health") == "up"]
            return len(up) == len(loads)

        _wait("every load process to be scraped", all_up, 20, prom)
        log(f"{len(loads)} load processes for {scenario.duration:g} s: {', '.join(t.address for t in targets)}")

        # Until every load process has finished its run and lingers; alert states along the way.
        end = time.monotonic() + scenario.duration + LOAD_DRAIN + 45.0
        waiting = {load.spec.name for load in loads}
        while waiting:
            for load in loads:
                if load.spec.name not in waiting:
                    continue
                if re.search(r"^lingering ", load.proc.output(), re.MULTILINE):
                    waiting.discard(load.spec.name)
                elif not load.proc.running():
                    raise ProcessError(
                        f"{load.proc.name} exited with {load.proc.popen.returncode} before its run ended:\n"
                        f"{load.proc.tail()}"
                    )
            if time.monotonic() > end:
                raise ProcessError(f"load processes still running after {scenario.duration:g} s: {sorted(waiting)}")
            timeline.observe(api.rule_groups(), time.time())
            time.sleep(1.0)
        finished = time.time()
        log(f"load over after {finished - started:.0f} s; waiting for a scrape of the final numbers")

        def scraped_after_finish() -> bool:
            result = api.query(f'min(timestamp(up{{job="{JOB}"}} == 1))')
            values = result.data["result"] if result.ok else []
            return bool(values) and float(values[0]["value"][1]) > finished

        _wait("a scrape after the load ended", scraped_after_finish, 15, prom)
        time.sleep(2.5)  # two rule evaluations on the final numbers
        at = time.time()
        timeline.observe(api.rule_groups(), at)

        variables = _variable_values(api, dashboards, started - 60, at)
        planned = list(evaluations(dashboards, variables))
        instant = [(evaluation, api.query(evaluation.expr, at)) for evaluation in planned]
        absent: dict[str, bool] = {}
        for evaluation, result in instant:
            if result.ok and not has_data(result):
                for selector in selectors(evaluation.expr):
                    if selector.text not in absent:
                        counted = api.query(f"count({selector.text})", at)
                        absent[selector.text] = counted.ok and not counted.data["result"]
        groups = api.rule_groups()
        rules_now = list(rules_of(groups))
        rule_queries = {rule_key(rule): api.query(str(rule["query"]), at) for rule in rules_now}
        window_start = started - 5.0
        ranges = [
            (evaluation, api.query_range(evaluation.expr, window_start, at, RANGE_STEP)) for evaluation in planned
        ]
        exemplars = sum(
            len(item.get("exemplars") or [])
            for item in api.exemplars("axio_anthropic_request_duration_seconds_bucket", started, at)
        )
        targets_now = api.targets()
        buildinfo = api.buildinfo()
        log(f"{len(instant)} panel queries, {len(rule_queries)} rules read; stopping the load processes")

        codes = supervisor.stop_many([load.proc for load in loads], grace=20.0)
        for load, code in zip(loads, codes, strict=True):
            load.exit_code = code
            try:
                load.summary = json.loads(load.json_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                load.summary = None
    if supervisor.expired:
        raise ProcessError(f"killed at their deadline: {', '.join(supervisor.expired)}")
    return RawRun(
        window={"start": window_start, "load_started": started, "load_finished": finished, "evaluated_at": at},
        buildinfo=buildinfo,
        targets=targets_now,
        variables=variables,
        instant=instant,
        absent=absent,
        rules=rules_now,
        rule_queries=rule_queries,
        timeline=timeline,
        ranges=ranges,
        exemplars=exemplars,
        loads=loads,
        simulators=simulators,
    )
