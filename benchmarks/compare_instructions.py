"""Instructions per event of this project, the published 0.12.2 and the official SDK, on the same stream.

Run (from the repository root, with the project's venv; valgrind installed)::

    .venv/bin/python benchmarks/compare_instructions.py [--setup] [--venv-root /tmp]

Each client of ``compare.py`` runs in its own venv (``compare_venvs.py``; ``--setup`` makes the
missing ones) under callgrind, and streams the same fixed answers (``perf/streams.py``: 1,000 text
deltas, then 1,000 tool-argument chunks) from an in-process replay; the count is the difference
between an answer of 1,010 deltas and one of 10, over 1,000 (``perf/client_work.py``). So it is
each client's whole path per event, HTTP reading to the event it hands out, with what a request
costs by itself left out. Reported in the README, not gated: the peers' dependencies move.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compare_plan import LABELS
from compare_venvs import python_for, venvs
from perf.count import count_all, valgrind_version
from perf.workloads import PEERS

CLIENTS = ("ours-off", "ours-full", "published", "sdk-create", "sdk-stream")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--setup", action="store_true", help="create the extra venvs where missing, then run")
    parser.add_argument("--venv-root", type=Path, default=Path("/tmp"), help="where the extra venvs live")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated (default: all)")
    args = parser.parse_args()
    envs = venvs(args.venv_root)
    missing = [env for env in envs.values() if not env.ready()]
    if missing and not args.setup:
        raise SystemExit(f"missing venvs {[str(env.path) for env in missing]}: run once with --setup")
    for env in missing:
        env.create()
    clients = [client.strip() for client in args.clients.split(",") if client.strip()]
    per_event: dict[str, dict[str, float]] = {}
    for client in clients:
        workloads = [w for w in PEERS if w.name.startswith(f"client/{client}/")]
        print(f"counting {client} ({python_for(client, envs)}) under callgrind ...", file=sys.stderr, flush=True)
        counts = count_all(python_for(client, envs), workloads)
        per_event[client] = {w.unit: counts[w.name][0].per_unit for w in workloads}
    units = [w.unit for w in PEERS if w.name.startswith(f"client/{clients[0]}/")]
    print(f"Instructions per event ({valgrind_version()}, Python {sys.version.split()[0]}):\n")
    print("| event | " + " | ".join(LABELS[client] for client in clients) + " |")
    print("|---|" + "---:|" * len(clients))
    ours = per_event.get("ours-off")
    for unit in units:
        cells = []
        for client in clients:
            count = per_event[client][unit]
            ratio = f" ({count / ours[unit]:.1f}×)" if ours is not None and client != "ours-off" else ""
            cells.append(f"{count:,.0f}{ratio}")
        print(f"| {unit} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
