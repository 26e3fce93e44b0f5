"""Check that every dashboard panel and every alert rule shows something real.

    python verify/run.py --out verify/report.json [--series verify/series.json] [--quick]

For each scenario this starts `axio-anthropic simulate` processes, a real Prometheus (1 s
scrapes and rule evaluations, the rule files of deploy/prometheus/rules) and several
`axio-anthropic load` processes scraped as job "axio-anthropic". When the load is over (the
load processes linger so their last numbers are scraped) it sends every panel's PromQL and
every rule's expression to Prometheus' HTTP API, reads the alert states, and writes:

- the report (`--out`): per scenario, per panel query, per rule and per alert what Prometheus
  answered, the load processes' own `--json` summaries, and `passed`;
- the series (`--series`): every panel query over the run's window, for verify/render.py.

Scenarios:

- `faults`: three simulators (`rate-limited`, `overloaded`, `chaos`), one load process each,
  two models. The `rate-limited` simulator also has per-minute limits below what its load asks
  for, so the rate-limit headroom falls during the run. Every panel query must return data, and
  the 429 and 529 alerts must be pending or firing (`for: 1m`: pending within seconds, firing a
  minute later; the full run lasts long enough for firing).
- `clean`: one simulator with profile `none`, three load processes. Panels must return data
  unless the load processes' own counters prove there was nothing to show (no 429 or 529
  happened, so that panel is empty). Retries, backoff and errors are not excused: their series
  exist at 0 from each model's first request, so their panels show 0. No alert may be pending or
  firing, and the 429 and 529 alerts never were.

Exits 0 when every scenario passed, 1 when a check failed, 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # type: ignore[import-untyped,unused-ignore]  # noqa: E402
from dashboards.queries import committed_dashboards, evaluable_queries, substitute  # noqa: E402

from verify import attribution  # noqa: E402
from verify.panels import Evaluation, evaluations, selectors  # noqa: E402
from verify.processes import Proc, ProcessError, Supervisor  # noqa: E402
from verify.promapi import (  # noqa: E402
    JOB,
    PromAPI,
    PromError,
    QueryResult,
    ScrapeTarget,
    find_prometheus,
    find_promtool,
    free_port,
    prometheus_config,
)

__all__ = [
    "DEFAULT_REPORT",
    "DEFAULT_SERIES",
    "RULES_DIR",
    "Scenario",
    "VerificationError",
    "evaluate",
    "find_prometheus",
    "main",
    "rule_files",
    "run_verification",
    "scenarios",
]

DEFAULT_REPORT: Final = ROOT / "verify" / "report.json"
DEFAULT_SERIES: Final = ROOT / "verify" / "series.json"
RULES_DIR: Final = ROOT / "deploy" / "prometheus" / "rules"

#: Simulator pacing: about 0.4 s per call, so three load processes of 4 agents stay far below the
#: simulator's own 4000 requests/minute limit (a clean run must not meet real 429s).
FIRST_BYTE_DELAY: Final = 0.1
TOKEN_DELAY: Final = 0.02
CONCURRENCY: Final = 4
MAX_RETRIES: Final = 3
#: Per-minute limits of the `rate-limited` simulator. Its load process asks for about 145 answered
#: requests, 8,000 input and 2,500 output tokens a minute, so every bucket drains: over a full run
#: request headroom falls from 100 % to about 0 (the last seconds meet real 429s) and token
#: headroom to about 60 %. The injected 429s (30 % of requests) still drive the 429 alert.
RATE_LIMITS: Final = (("requests", 80), ("tokens", 8000), ("input_tokens", 6000), ("output_tokens", 2000))
#: Per-attempt timeout: the chaos profile's stalls must fail fast.
ATTEMPT_TIMEOUT: Final = 4.0
#: `axio-anthropic load` lets runs under way finish for up to 10 s after --duration.
LOAD_DRAIN: Final = 10.0
#: Load processes keep serving /metrics this long after their run; stopped as soon as the checks
#: have read Prometheus.
LINGER: Final = 90.0
API_KEY: Final = "sk-verify-simulator"
SAMPLE_SERIES: Final = 6
RANGE_STEP: Final = 1.0

_STATES: Final = ("inactive", "pending", "firing")
_ALERT_CLASSES: Final = {
    "429": re.compile(r'"429"|rate_limited|rate_limit_error'),
    "529": re.compile(r'"529"|overloaded'),
}
_ALERT_NAMES: Final = {"429": re.compile(r"RateLimited|429"), "529": re.compile(r"Overload|529")}
_LABEL_VALUES: Final = re.compile(r"^\s*label_values\((?P<match>.*),\s*(?P<label>\w+)\s*\)\s*$", re.DOTALL)
_RECORD_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


class VerificationError(RuntimeError):
    """The verification cannot run at all (no Prometheus, no rules, no CLI)."""


# --------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True, slots=True)
class SimulatorSpec:
    profile: str
    seed: int
    rate_limits: tuple[tuple[str, int], ...] = ()
    """``axio-anthropic simulate --rate-limit`` values; none: the simulator's generous defaults."""


@dataclass(frozen=True, slots=True)
class LoadSpec:
    name: str
    profile: str
    """The ``SimulatorSpec.profile`` of the simulator this load process calls."""
    model: str
    concurrency: int = CONCURRENCY
    labels: attribution.Labels = attribution.LABELS
    """``--label`` values: the call labels the agent runs cycle through."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    simulators: tuple[SimulatorSpec, ...]
    loads: tuple[LoadSpec, ...]
    duration: float
    faults: bool
    """True: every panel must have data and the 429/529 alerts must be active; False: no alert."""


def scenarios(quick: bool = False) -> tuple[Scenario, ...]:
    """The fault scenario lasts long enough for `for: 1m` alerts to fire (pending takes seconds)."""
    faults = Scenario(
        name="faults",
        description=(
            "429s, 529s and every other fault: one load process each on simulators with profiles "
            "rate-limited, overloaded and chaos; two models"
        ),
        simulators=(
            SimulatorSpec("rate-limited", 11, RATE_LIMITS),
            SimulatorSpec("overloaded", 12),
            SimulatorSpec("chaos", 13),
        ),
        loads=(
            LoadSpec("agent-1", "rate-limited", "claude-sonnet-4-6"),
            LoadSpec("agent-2", "overloaded", "claude-sonnet-4-6"),
            LoadSpec("agent-3", "chaos", "claude-haiku-4-5"),
        ),
        duration=25.0 if quick else 70.0,
        faults=True,
    )
    clean = Scenario(
        name="clean",
        description="no faults: three load processes on one simulator with profile none; two models",
        simulators=(SimulatorSpec("none", 21),),
        loads=(
            LoadSpec("agent-1", "none", "claude-sonnet-4-6"),
            LoadSpec("agent-2", "none", "claude-sonnet-4-6"),
            LoadSpec("agent-3", "none", "claude-haiku-4-5"),
        ),
        duration=12.0 if quick else 30.0,
        faults=False,
    )
    return (faults, clean)


def rule_files(directory: Path = RULES_DIR) -> list[Path]:
    return sorted(path for path in directory.glob("*.y*ml") if path.is_file())


def find_cli() -> str | None:
    beside = Path(sys.executable).parent / "axio-anthropic"
    if beside.exists():
        return str(beside)
    return shutil.which("axio-anthropic")


# --------------------------------------------------------------------------------------------
# Running one scenario: processes and the raw answers of Prometheus


@dataclass(slots=True)
class RunningLoad:
    spec: LoadSpec
    proc: Proc
    json_path: Path
    instance: str = ""
    exit_code: int | None = None
    summary: dict[str, Any] | None = None


@dataclass(slots=True)
class AlertTimeline:
    """The first time (seconds after the load started) each alert was seen in each state."""

    started: float
    first: dict[str, dict[str, float]] = field(default_factory=dict)

    def observe(self, groups: Iterable[Mapping[str, Any]], now: float) -> None:
        for rule in _rules_of(groups):
            if rule.get("type") != "alerting":
                continue
            seen = self.first.setdefault(str(rule["name"]), {})
            for alert in rule.get("alerts") or []:
                seen.setdefault(str(alert.get("state")), round(now - self.started, 1))


@dataclass(slots=True)
class RawRun:
    """What the run produced, before any check: Prometheus' answers and the load summaries."""

    window: dict[str, float]
    buildinfo: dict[str, Any]
    targets: list[dict[str, Any]]
    variables: dict[str, list[str]]
    instant: list[tuple[Evaluation, QueryResult]]
    absent: dict[str, bool]
    rules: list[dict[str, Any]]
    rule_queries: dict[str, QueryResult]
    timeline: AlertTimeline
    ranges: list[tuple[Evaluation, QueryResult]]
    exemplars: int
    loads: list[RunningLoad]
    simulators: list[dict[str, Any]]


def _child_env() -> dict[str, str]:
    """The environment minus anything that would send data elsewhere than 127.0.0.1."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "ANTHROPIC_", "PROMETHEUS_MULTIPROC"))
    }
    env["ANTHROPIC_API_KEY"] = API_KEY
    return env


def _rules_of(groups: Iterable[Mapping[str, Any]]) -> Iterable[dict[str, Any]]:
    for group in groups:
        for rule in group.get("rules") or []:
            yield {**rule, "group": group.get("name")}


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


def _load_argv(cli: str, spec: LoadSpec, base_url: str, duration: float, json_path: Path) -> list[str]:
    return [
        cli,
        "load",
        "--base-url",
        base_url,
        "--model",
        spec.model,
        "--concurrency",
        str(spec.concurrency),
        "--duration",
        f"{duration:g}",
        "--max-retries",
        str(MAX_RETRIES),
        "--timeout",
        f"{ATTEMPT_TIMEOUT:g}",
        "--metrics-port",
        "0",
        "--linger",
        f"{LINGER:g}",
        "--json",
        str(json_path),
        "--quiet",
        *attribution.label_argv(spec.labels),
    ]


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
    env = _child_env()
    with Supervisor(workdir) as supervisor:
        urls: dict[str, str] = {}
        simulators: list[dict[str, Any]] = []
        for sim in scenario.simulators:
            port = free_port()
            argv = [cli, "simulate", "--host", "127.0.0.1", "--port", str(port), "--profile", sim.profile]
            argv += ["--seed", str(sim.seed), "--first-byte-delay", f"{FIRST_BYTE_DELAY:g}"]
            argv += ["--token-delay", f"{TOKEN_DELAY:g}", "--quiet"]
            for name, limit in sim.rate_limits:
                argv += ["--rate-limit", f"{name}={limit}"]
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
            "prometheus",
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--enable-feature=exemplar-storage",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            lifetime=bound,
        )
        api = PromAPI(prom_port)
        _wait("Prometheus to be ready", api.ready, 60, prom)
        log(f"prometheus {api.base}")

        loads = [
            RunningLoad(
                spec,
                supervisor.start(
                    f"load-{spec.name}",
                    _load_argv(cli, spec, urls[spec.profile], scenario.duration, workdir / f"{spec.name}.json"),
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
            if result.ok and not _has_data(result):
                for selector in selectors(evaluation.expr):
                    if selector.text not in absent:
                        counted = api.query(f"count({selector.text})", at)
                        absent[selector.text] = counted.ok and not counted.data["result"]
        groups = api.rule_groups()
        rules_now = list(_rules_of(groups))
        rule_queries = {_rule_key(rule): api.query(str(rule["query"]), at) for rule in rules_now}
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


# --------------------------------------------------------------------------------------------
# Checks: pure functions of a RawRun


def _rule_key(rule: Mapping[str, Any]) -> str:
    return f"{rule.get('group')}/{rule.get('name')}"


def _number(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def _has_data(result: QueryResult) -> bool:
    """At least one series with a value that is a number (a NaN from 0/0 draws nothing)."""
    if not result.ok:
        return False
    data = result.data
    if data["resultType"] in ("scalar", "string"):
        return not math.isnan(_number(data["result"][1]))
    return any(not math.isnan(_number(item["value"][1])) for item in data["result"])


def _sample(result: QueryResult) -> list[dict[str, Any]]:
    if not result.ok:
        return []
    data = result.data
    if data["resultType"] in ("scalar", "string"):
        return [{"labels": {}, "value": data["result"][1]}]
    # The largest values first: a sample of zeros says less than one of the busiest series.
    ranked = sorted(
        data["result"],
        key=lambda item: -abs(_number(item["value"][1])) if not math.isnan(_number(item["value"][1])) else 0.0,
    )
    return [{"labels": item["metric"], "value": item["value"][1]} for item in ranked[:SAMPLE_SERIES]]


def _series_count(result: QueryResult) -> int:
    if not result.ok:
        return 0
    data = result.data
    return 1 if data["resultType"] in ("scalar", "string") else len(data["result"])


def _unquote(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


def _matches(matchers: Sequence[tuple[str, str, str]], label: str, value: str) -> bool:
    for name, op, wanted in matchers:
        if name != label:
            continue
        pattern = _unquote(wanted)
        if op == "=" and value != pattern:
            return False
        if op == "!=" and value == pattern:
            return False
        if op == "=~" and re.fullmatch(pattern, value) is None:
            return False
        if op == "!~" and re.fullmatch(pattern, value) is not None:
            return False
    return True


#: For a metric with no series at all: the load summary field that counts its events, and the label
#: that field is keyed by. Not retries, backoff nor errors: their fixed reasons and types exist at 0
#: from a model's first request, so no series at all there is a fault, not a quiet run.
_SUMMARY_COUNTS: Final[Mapping[str, tuple[Callable[[Mapping[str, Any]], Mapping[str, Any]], str]]] = {
    "axio_anthropic_attempts_total": (lambda summary: summary["attempts"]["by_status"], "status"),
    "axio_anthropic_stop_reasons_total": (lambda summary: summary["stop_reasons"], "reason"),
}


def _explain_empty(
    evaluation: Evaluation, absent: Mapping[str, bool], loads: Sequence[RunningLoad]
) -> tuple[bool, str]:
    """Whether an empty answer is the truth: a selector has no series, and the load processes' own
    counters (their --json summaries, read from the registries /metrics served) count no event
    it would have matched."""
    scope = [
        load
        for load in loads
        if evaluation.variables.get("instance", load.instance) == load.instance
        and evaluation.variables.get("model", load.spec.model) == load.spec.model
    ]
    missing = [selector for selector in selectors(evaluation.expr) if absent.get(selector.text)]
    if not missing:
        return False, "no data, though every selector has series: the query itself finds nothing"
    reasons: list[str] = []
    for selector in missing:
        known = _SUMMARY_COUNTS.get(selector.metric)
        if known is None:
            return False, f"{selector.metric} has no series at all"
        field_of, label = known
        if any(load.summary is None for load in scope):
            return False, f"{selector.metric} has no series, and a load summary is missing to tell why"
        counted = sum(
            int(count)
            for load in scope
            if load.summary is not None
            for key, count in field_of(load.summary).items()
            if _matches(selector.matchers, label, str(key))
        )
        if counted:
            return False, f"{selector.text} has no series, but the load processes counted {counted} such events"
        reasons.append(f"{selector.metric} matching {selector.text!r}: 0 in the summaries of {len(scope)} load(s)")
    return True, "nothing happened to show: " + "; ".join(reasons)


def _panel_entries(raw: RawRun, strict: bool) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for evaluation, result in raw.instant:
        has_data = _has_data(result)
        entry: dict[str, Any] = {
            "dashboard": evaluation.dashboard,
            "panel_id": evaluation.panel_id,
            "title": evaluation.panel_title,
            "ref_id": evaluation.ref_id,
            "variables": dict(evaluation.variables),
            "expr": evaluation.expr,
            "valid": result.ok,
            "error": result.error,
            "series": _series_count(result),
            "has_data": has_data,
            "sample": _sample(result),
        }
        if not result.ok:
            entry["ok"] = False
        elif has_data:
            entry["ok"] = True
        elif strict and evaluation.base:
            entry["ok"] = False
            entry["empty"] = "no data: under faults every panel must show something"
        else:
            explained, reason = _explain_empty(evaluation, raw.absent, raw.loads)
            entry["ok"] = explained
            entry["empty"] = reason
        entries.append(entry)
    return entries


def _classify(rules: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Which alerting rules watch 429s and which 529s: by their expression, recording rules
    expanded, else by name."""
    recorded = {str(rule["name"]): str(rule["query"]) for rule in rules if rule.get("type") == "recording"}

    def expand(expr: str, depth: int = 0) -> str:
        if depth > 5:
            return expr
        return _RECORD_NAME.sub(
            lambda match: (
                f"({expand(recorded[match.group(0)], depth + 1)})" if match.group(0) in recorded else match.group(0)
            ),
            expr,
        )

    alerting = [rule for rule in rules if rule.get("type") == "alerting"]
    classes: dict[str, list[str]] = {}
    for name, pattern in _ALERT_CLASSES.items():
        found = [str(rule["name"]) for rule in alerting if pattern.search(expand(str(rule["query"])))]
        if not found:
            found = [str(rule["name"]) for rule in alerting if _ALERT_NAMES[name].search(str(rule["name"]))]
        classes[name] = found
    return classes


def _yaml_rule_count(files: Sequence[Path]) -> int:
    count: int = 0
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in document.get("groups") or []:
            count += len(group.get("rules") or [])
    return count


def _rule_entries(raw: RawRun, classes: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    class_of = {name: label for label, names in classes.items() for name in names}
    entries: list[dict[str, Any]] = []
    for rule in raw.rules:
        result = raw.rule_queries[_rule_key(rule)]
        entry: dict[str, Any] = {
            "group": rule.get("group"),
            "name": rule.get("name"),
            "type": rule.get("type"),
            "expr": rule.get("query"),
            "health": rule.get("health"),
            "last_error": rule.get("lastError") or None,
            "valid": result.ok,
            "error": result.error,
            "series": _series_count(result),
            "sample": _sample(result),
        }
        if rule.get("type") == "alerting":
            entry["for_seconds"] = rule.get("duration")
            entry["class"] = class_of.get(str(rule["name"]))
            entry["state"] = rule.get("state")
            entry["active"] = [
                {"labels": alert.get("labels"), "state": alert.get("state"), "value": alert.get("value")}
                for alert in rule.get("alerts") or []
            ]
            first = raw.timeline.first.get(str(rule["name"]), {})
            entry["first_pending_s"] = first.get("pending")
            entry["first_firing_s"] = first.get("firing")
        entry["ok"] = result.ok and rule.get("health") == "ok"
        entries.append(entry)
    return entries


def _state_rank(state: Any) -> int:
    return _STATES.index(state) if state in _STATES else 0


def evaluate(scenario: Scenario, raw: RawRun, files: Sequence[Path]) -> dict[str, Any]:
    """The report section of one scenario: every check, its evidence, and ``passed``."""
    failures: list[str] = []
    panels = _panel_entries(raw, strict=scenario.faults)
    base = [entry for entry in panels if not entry["variables"]]
    variants = [entry for entry in panels if entry["variables"]]
    for entry in panels:
        if not entry["ok"]:
            where = f"{entry['dashboard']} / {entry['title']} [{entry['ref_id']}]"
            failures.append(f"panel {where}: {entry['error'] or entry.get('empty') or 'failed'}")

    expected = {(query.dashboard, query.panel_title, query.ref_id, query.expr) for query in evaluable_queries()}
    checked = {(entry["dashboard"], entry["title"], entry["ref_id"], entry["expr"]) for entry in base}
    if expected != checked:
        failures.append(f"panel queries checked differ from evaluable_queries(): {sorted(expected ^ checked)[:5]}")

    instances = sorted(load.instance for load in raw.loads)
    models = sorted({load.spec.model for load in raw.loads})
    for name, wanted in (("job", [JOB]), ("instance", instances), ("model", models)):
        if sorted(raw.variables.get(name, [])) != wanted:
            failures.append(f"variable ${name} lists {raw.variables.get(name)}, expected {wanted}")

    classes = _classify(raw.rules)
    rules = _rule_entries(raw, classes)
    for entry in rules:
        if not entry["ok"]:
            failures.append(f"rule {entry['name']}: health {entry['health']} {entry['last_error'] or entry['error']}")
    if len(raw.rules) != _yaml_rule_count(files):
        failures.append(f"Prometheus loaded {len(raw.rules)} rules, the rule files hold {_yaml_rule_count(files)}")

    alerts = {entry["name"]: entry for entry in rules if entry["type"] == "alerting"}
    alert_checks: list[dict[str, Any]] = []
    for label, names in classes.items():
        states = {name: alerts[name]["state"] for name in names}
        if not names:
            failures.append(f"no alerting rule watches {label}s")
        if scenario.faults:
            ok = any(_state_rank(state) >= 1 for state in states.values())
            expectation = "pending or firing"
        else:
            ever = {name: sorted(raw.timeline.first.get(name, {})) for name in names}
            ok = all(_state_rank(state) == 0 for state in states.values()) and not any(ever.values())
            expectation = "inactive, and never pending or firing during the run"
        check = {"status": label, "alerts": names, "states": states, "expected": expectation, "ok": ok and bool(names)}
        alert_checks.append(check)
        if not check["ok"]:
            failures.append(f"{label} alerts {names}: {states}, expected {expectation}")
    if not scenario.faults:
        active = {name: entry["state"] for name, entry in alerts.items() if _state_rank(entry["state"]) >= 1}
        alert_checks.append({"status": "any", "alerts": sorted(alerts), "active": active, "ok": not active})
        if active:
            failures.append(f"alerts active in a run without faults: {active}")

    attribution_checks = attribution.checks(raw.instant, [load.spec.labels for load in raw.loads])
    for check in attribution_checks:
        if not check["ok"]:
            failures.append(
                f"panel {check['dashboard']} / {check['title']}: {check['label']} values {check['seen']}, "
                f"expected those the load processes attached: {check['expected']}"
            )
    if not attribution_checks:
        failures.append("no panel breaks cost or tokens down by a call label")

    load_entries: list[dict[str, Any]] = []
    for load in raw.loads:
        load_entries.append(
            {
                "name": load.spec.name,
                "simulator_profile": load.spec.profile,
                "model": load.spec.model,
                "concurrency": load.spec.concurrency,
                "labels": {name: list(values) for name, values in load.spec.labels},
                "instance": load.instance,
                "exit_code": load.exit_code,
                "summary": load.summary,
            }
        )
        if load.exit_code != 0 or load.summary is None:
            failures.append(
                f"load {load.spec.name} exited with {load.exit_code}, summary {'ok' if load.summary else 'missing'}"
            )
        elif load.summary["requests"]["total"] == 0:
            failures.append(f"load {load.spec.name} made no request")
    if scenario.faults:
        statuses: dict[str, int] = {}
        for load in raw.loads:
            for status, count in ((load.summary or {}).get("attempts", {}).get("by_status") or {}).items():
                statuses[status] = statuses.get(status, 0) + int(count)
        for status in ("429", "529"):
            if not statuses.get(status):
                failures.append(f"the fault run produced no {status} attempt")

    return {
        "passed": not failures,
        "failures": failures,
        "description": scenario.description,
        "duration_seconds": scenario.duration,
        "window": raw.window,
        "simulators": raw.simulators,
        "loads": load_entries,
        "targets": [
            {
                "instance": target.get("labels", {}).get("instance"),
                "labels": target.get("labels"),
                "health": target.get("health"),
                "last_error": target.get("lastError") or None,
            }
            for target in raw.targets
        ],
        "variables": raw.variables,
        "summary": {
            "panel_queries_ok": sum(entry["ok"] for entry in base),
            "panel_queries": len(base),
            "panel_queries_with_data": sum(entry["has_data"] for entry in base),
            "panels_with_data": _panels_with_data(base),
            "panels": len({(entry["dashboard"], entry["panel_id"]) for entry in base}),
            "repeat_queries_ok": sum(entry["ok"] for entry in variants),
            "repeat_queries": len(variants),
            "rules_ok": sum(entry["ok"] for entry in rules),
            "rules": len(rules),
            "alerts": {name: entry["state"] for name, entry in alerts.items()},
            "exemplars": raw.exemplars,
        },
        "alert_checks": alert_checks,
        "attribution_checks": attribution_checks,
        "panels": panels,
        "rules": rules,
    }


def _panels_with_data(base: Sequence[Mapping[str, Any]]) -> int:
    panels: dict[tuple[str, int], bool] = {}
    for entry in base:
        key = (entry["dashboard"], entry["panel_id"])
        panels[key] = panels.get(key, True) and bool(entry["has_data"])
    return sum(panels.values())


def series_of(raw: RawRun) -> dict[str, Any]:
    """Every panel query over the run's window, values rounded; a NaN becomes null (a gap)."""

    def value(raw_value: Any) -> float | None:
        number = _number(raw_value)
        return None if math.isnan(number) else float(f"{number:.6g}")

    items: list[dict[str, Any]] = []
    for evaluation, result in raw.ranges:
        series = []
        if result.ok:
            for item in result.data["result"]:
                series.append(
                    {"labels": item["metric"], "values": [[float(t), value(v)] for t, v in item.get("values", [])]}
                )
        items.append(
            {
                "key": evaluation.key(),
                "dashboard": evaluation.dashboard,
                "panel_id": evaluation.panel_id,
                "title": evaluation.panel_title,
                "ref_id": evaluation.ref_id,
                "legend_format": evaluation.legend_format,
                "variables": dict(evaluation.variables),
                "expr": evaluation.expr,
                "error": result.error,
                "series": series,
            }
        )
    return {**raw.window, "step": RANGE_STEP, "variables": raw.variables, "queries": items}


# --------------------------------------------------------------------------------------------
# The whole verification


def _log(message: str) -> None:
    sys.stderr.write(f"[verify {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def run_verification(
    out: Path = DEFAULT_REPORT,
    series_out: Path | None = DEFAULT_SERIES,
    quick: bool = False,
    log: Callable[[str], None] = _log,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    """Run every scenario (or those named in ``only``), write the report (and series), return it."""
    prometheus = find_prometheus()
    if prometheus is None:
        raise VerificationError("the prometheus binary is not installed (apt-get install prometheus)")
    cli = find_cli()
    if cli is None:
        raise VerificationError("no axio-anthropic command beside this Python nor on PATH (pip install -e .)")
    files = rule_files()
    if not files:
        raise VerificationError(f"no rule files in {RULES_DIR}")
    began = time.monotonic()
    report: dict[str, Any] = {
        "passed": False,
        "mode": "quick" if quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "prometheus": {"binary": prometheus},
        "rule_files": [str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path) for path in files],
        "job": JOB,
        "scenarios": {},
    }
    series: dict[str, Any] = {"mode": report["mode"], "started_at": report["started_at"], "scenarios": {}}
    chosen = [scenario for scenario in scenarios(quick) if not only or scenario.name in only]
    with tempfile.TemporaryDirectory(prefix="axio-verify-") as tmp:
        for scenario in chosen:
            log(f"scenario {scenario.name}: {scenario.description}")
            scenario_began = time.monotonic()
            workdir = Path(tmp) / scenario.name
            try:
                raw = run_scenario(
                    scenario,
                    cli=cli,
                    prometheus=prometheus,
                    promtool=find_promtool(),
                    rules=files,
                    workdir=workdir,
                    log=log,
                )
            except (ProcessError, PromError, VerificationError, subprocess.TimeoutExpired) as exc:
                logs = {path.stem: path.read_text(errors="replace")[-3000:] for path in sorted(workdir.glob("*.log"))}
                section: dict[str, Any] = {"passed": False, "failures": [f"run failed: {exc}"], "logs": logs}
                log(f"scenario {scenario.name}: run failed: {exc}")
            else:
                section = evaluate(scenario, raw, files)
                report["prometheus"]["version"] = raw.buildinfo.get("version")
                series["scenarios"][scenario.name] = series_of(raw)
            section["wall_seconds"] = round(time.monotonic() - scenario_began, 1)
            report["scenarios"][scenario.name] = section
            log(f"scenario {scenario.name}: {'passed' if section['passed'] else 'FAILED'}")
    report["passed"] = bool(chosen) and all(section["passed"] for section in report["scenarios"].values())
    report["wall_seconds"] = round(time.monotonic() - began, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if series_out is not None:
        series_out.parent.mkdir(parents=True, exist_ok=True)
        series_out.write_text(json.dumps(series, separators=(",", ":")) + "\n", encoding="utf-8")
    return report


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    lines = [f"verification {'PASSED' if report.get('passed') else 'FAILED'} in {report.get('wall_seconds')} s"]
    for name, section in (report.get("scenarios") or {}).items():
        numbers = section.get("summary")
        if numbers:
            lines.append(
                f"  {name}: panel queries {numbers['panel_queries_ok']}/{numbers['panel_queries']} ok "
                f"({numbers['panel_queries_with_data']} with data; panels with data "
                f"{numbers['panels_with_data']}/{numbers['panels']}), repeated-row queries "
                f"{numbers['repeat_queries_ok']}/{numbers['repeat_queries']} ok, rules "
                f"{numbers['rules_ok']}/{numbers['rules']} ok"
            )
            for check in section.get("alert_checks") or []:
                shown = check.get("states", check.get("active"))
                lines.append(f"    {check['status']} alerts: {shown} ({'ok' if check['ok'] else 'FAILED'})")
            for check in section.get("attribution_checks") or []:
                verdict = "ok" if check["ok"] else "FAILED"
                lines.append(f"    {check['title']}: {check['label']} {check['seen']} ({verdict})")
        for failure in section.get("failures") or []:
            lines.append(f"    FAIL {failure}")
    return lines


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Unwinds through the Supervisor, which stops every child.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORT, help="report JSON (default: %(default)s)")
    parser.add_argument("--series", type=Path, default=DEFAULT_SERIES, help="series JSON for verify/render.py")
    parser.add_argument("--quick", action="store_true", help="shorter runs (the 1m alerts then only reach pending)")
    parser.add_argument("--scenario", action="append", default=[], help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        report = run_verification(args.out, args.series, quick=args.quick, only=args.scenario)
    except VerificationError as exc:
        sys.stderr.write(f"verify: {exc}\n")
        return 2
    print("\n".join(summary_lines(report)))
    print(f"report: {args.out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
