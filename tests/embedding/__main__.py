"""``python -m tests.embedding --env ENV``: the default-embedding matrix in one environment.

Needs only the core install (``pip install .``): axio, aiohttp, prometheus-client and
opentelemetry-api; the SDK only for ``sdk-disabled`` and ``recording``. Exits 0 when every check
holds, 1 on any failure (a hang: every thread's stack, then exit 1), 2 in the wrong environment."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import sys

from .environments import ENVIRONMENTS, WrongEnvironment, configure
from .scenarios import SCENARIOS


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.embedding", description=__doc__)
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS)
    parser.add_argument("--only", action="append", choices=list(SCENARIOS), default=[], help="repeatable")
    parser.add_argument("--no-warm-up", action="store_true", help="each scenario on a cold start; no flatness check")
    args = parser.parse_args()
    faulthandler.enable()
    # Until the runner arms its own limits (per scenario): imports and set-up must not hang either.
    faulthandler.dump_traceback_later(120, exit=True)
    try:
        env = configure(args.env)
    except WrongEnvironment as exc:
        print(f"embedding matrix: {exc}", file=sys.stderr)
        return 2
    from .runner import run

    try:
        return asyncio.run(run(env, args.only, warm_up=not args.no_warm_up))
    finally:
        faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    sys.exit(main())
