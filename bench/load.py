"""1,000 jobs on the embedded AWS (5% failing, a few poison messages), reconciled: nothing lost.

Usage: python bench/load.py [--jobs 1000] [--concurrency 20] [--poison 5]
Prints accepted, completed, failed, in DLQ, lost, duplicates, stuck and wall time; exits 1 if any job
is unaccounted for.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--poison", type=int, default=5)
    parser.add_argument("--fail-every", type=int, default=20, help="every Nth job fails (20 = 5%%)")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="asyncapi-load-")
    os.environ["ASYNCAPI_HOME"] = home
    os.chdir(home)
    from asyncapi_cli import ops
    from asyncapi_cli.engine import SilentReporter
    from asyncapi_cli.loadcheck import render, run_load
    from asyncapi_cli.local import manager

    try:
        stack = ops.open_stack(
            ops.StackOptions(name="load-bench", local=True), creating=True, start_local=True
        )
        ops.up(stack, SilentReporter())
        report = run_load(
            stack,
            jobs=args.jobs,
            concurrency=args.concurrency,
            fail_every=args.fail_every,
            poison=args.poison,
            timeout=900,
        )
        print(render(report))
        print(
            f"throughput: {report.accepted / report.submit_seconds:.0f} submits/s; "
            f"{report.accepted / report.wall_seconds:.1f} jobs/s end to end"
        )
        return 0 if report.ok else 1
    finally:
        manager.stop()


if __name__ == "__main__":
    sys.exit(main())
