"""Load on the embedded AWS, reconciled: every accepted job completed or in the DLQ, none lost.

The 1,000-job run is bench/load.py; this is its smaller version for the test suite.
"""

from __future__ import annotations

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.loadcheck import run_load


def test_load_nothing_lost_on_the_embedded_aws() -> None:
    from asyncapi_cli.local import manager

    try:
        stack = ops.open_stack(
            ops.StackOptions(name="load-stack", local=True), creating=True, start_local=True
        )
        ops.up(stack, SilentReporter())
        report = run_load(stack, jobs=100, concurrency=10, fail_every=20, poison=3, timeout=300)
        summary = report.to_json()
        # The problems first: a long report would otherwise cut them off in the failure message.
        assert summary["ok"], {"problems": summary.get("problems"), **summary}
        assert (report.accepted, report.completed, report.failed) == (100, 95, 5)
        assert (report.in_dlq, report.poison_in_dlq, report.lost, report.duplicates, report.stuck) == (
            5,
            3,
            0,
            0,
            0,
        )
    finally:
        manager.stop()
