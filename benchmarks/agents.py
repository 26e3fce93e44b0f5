"""What the agent instrumentor costs per model turn: instructions, instrumentor off against on.

Run (from the repository root, valgrind installed)::

    .venv/bin/python benchmarks/agents.py [--answer short|long] [--setting default|sdk]

The runs are the perf gate's agent workloads (``perf/agent_work.py``): an axio ``Agent``'s two-turn
tool loop against the in-process replay, counted by callgrind in one process forked per variant
(``perf/count.py``). The gate checks the short answers on every CI run (``make perf-check``); this
adds the long ones (150 deltas, where per-event work shows) and prints the README's table. Per turn
is per run over two: every run has two turns.

With an SDK, the instrumentor's spans cost the SDK something whoever makes them: the ``floor``
variant makes the same spans with the same attributes straight through the SDK, without the
instrumentor. "Own" is the extra over ``off`` less that.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from perf.count import count_all, valgrind_version
from perf.workloads import AGENT_LONG, WORKLOADS, agent_workload

TURNS_PER_RUN = 2
SETTINGS = ("default", "sdk")
#: Without an SDK the spans cost nothing to make (the API's no-op ones): no floor to count.
STATES = {"default": ("off", "on"), "sdk": ("off", "on", "floor")}
ANSWERS = ("short", "long")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--setting", action="append", choices=SETTINGS, help="only these settings (repeatable)")
    parser.add_argument("--answer", action="append", choices=ANSWERS, help="only these answer sizes (repeatable)")
    parser.add_argument("--repeat", type=int, default=1, help="counts per variant (default %(default)s)")
    args = parser.parse_args()
    cases = [(setting, answer) for setting in args.setting or SETTINGS for answer in args.answer or ANSWERS]
    wanted = {agent_workload(setting, state, answer) for setting, answer in cases for state in STATES[setting]}
    workloads = [w for w in (*WORKLOADS, *AGENT_LONG) if w.name in wanted]
    print(f"counting {len(workloads)} variants under callgrind ...", file=sys.stderr, flush=True)
    counts = count_all(Path(sys.executable), workloads, repeat=args.repeat)
    per_turn = {name: sum(c.per_unit for c in runs) / len(runs) / TURNS_PER_RUN for name, runs in counts.items()}
    print(f"Instructions per model turn ({valgrind_version()}, Python {sys.version.split()[0]}):\n")
    print("| setting | answer | instrumentor off | on | extra per turn | the spans in the SDK | own work |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for setting, answer in cases:
        off, on = per_turn[agent_workload(setting, "off", answer)], per_turn[agent_workload(setting, "on", answer)]
        floor = per_turn.get(agent_workload(setting, "floor", answer), off)
        extra, spans = on - off, floor - off
        cells = [f"{off / 1e6:.3f} M", f"{on / 1e6:.3f} M", f"{extra / 1e3:+.0f} k ({extra / off:+.1%})"]
        cells += [f"{spans / 1e3:+.0f} k ({spans / off:+.1%})" if spans else "-", f"{(extra - spans) / off:+.1%}"]
        print(f"| {setting} | {answer} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
