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
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from verify.child_commands import find_cli  # noqa: E402
from verify.panel_series import series_of  # noqa: E402
from verify.processes import ProcessError  # noqa: E402
from verify.promapi import JOB, PromError, find_prometheus, find_promtool  # noqa: E402
from verify.rule_checks import RULES_DIR, rule_files  # noqa: E402
from verify.scenario_report import evaluate  # noqa: E402
from verify.scenario_run import VerificationError, run_scenario  # noqa: E402
from verify.scenarios import Scenario, scenarios  # noqa: E402

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
    "summary_lines",
]

DEFAULT_REPORT: Final = ROOT / "verify" / "report.json"
DEFAULT_SERIES: Final = ROOT / "verify" / "series.json"


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
            for check in section.get("agent_checks") or []:
                verdict = "ok" if check["ok"] else "FAILED"
                lines.append(f"    {check['title']} [{check['ref_id']}]: {check['shown']} ({verdict})")
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
