"""Items DynamoDB reads to list a page of newest jobs, at two table sizes: the index against the Scan.

    python bench/bench_jobs_page.py [--sizes 1000 100000] [--page 25]

In-process moto (mock_aws). The jobs table is made by the stack's own table unit (stack.py: the
byStatusCreated index), then filled with jobs (90% completed, 8% failed, 2% queued, one a second)
by BatchWriteItem. For each size it lists the newest page of all jobs, the newest page of failed jobs
and the page after it, the way `asyncapi jobs` and the dashboard do (dayops/jobs.newest_jobs), and the
same pages the old way (a Scan of the table, sorted here). Items read are the ScannedCount DynamoDB
answers each Query/Scan with (DynamoDB API reference, Query/Scan: "the number of items evaluated"):
what a read costs in capacity units is about them (moto answers a flat ConsumedCapacity of 1.0, so
the estimate of read capacity below applies DynamoDB's own rule to the items' sizes: 4 KB units,
eventually consistent reads at half a unit).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STATUSES = ["completed"] * 90 + ["failed"] * 8 + ["queued"] * 2
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class Reads:
    """ScannedCount, calls and bytes of items returned, per operation, from botocore's after-call event."""

    def __init__(self, client: Any) -> None:
        self.items = 0
        self.calls = 0
        self.units = 0.0
        self.item_bytes = 200.0  # an item's size, as last measured from the items returned
        client.meta.events.register("after-call.dynamodb.Query", self.count)
        client.meta.events.register("after-call.dynamodb.Scan", self.count)

    def count(self, parsed: dict[str, Any], **_: Any) -> None:
        self.items += int(parsed.get("ScannedCount", 0))
        self.calls += 1
        # A call reads the items it evaluates (a Scan's filter drops them after reading): their sizes
        # summed, rounded up to 4 KB, half a unit each (eventually consistent). An item's JSON is a
        # little larger than DynamoDB's item size: an upper estimate.
        returned = parsed.get("Items", [])
        if returned:
            self.item_bytes = sum(len(json.dumps(item)) for item in returned) / len(returned)
        size = int(parsed.get("ScannedCount", 0)) * self.item_bytes
        self.units += max(1, math.ceil(size / 4096)) * 0.5

    def reset(self) -> None:
        self.items = self.calls = 0
        self.units = 0.0

    def read_units(self) -> float:
        return self.units


def fill(dynamodb: Any, table: str, start: int, end: int) -> None:
    for first in range(start, end, 25):
        requests = []
        for n in range(first, min(first + 25, end)):
            created = (START + dt.timedelta(seconds=n)).isoformat(timespec="milliseconds")
            item = {
                "jobId": {"S": f"job{n:07d}"},
                "status": {"S": STATUSES[n % len(STATUSES)]},
                "createdAt": {"S": created.replace("+00:00", "Z")},
                "attempts": {"N": "1"},
            }
            requests.append({"PutRequest": {"Item": item}})
        dynamodb.batch_write_item(RequestItems={table: requests})


def measure(stack: Any, reads: Reads, page: int) -> list[dict[str, Any]]:
    from asyncapi_cli.dayops import jobs as job_records

    rows = []
    cases: list[tuple[str, str | None, bool]] = [
        ("newest, all statuses", None, False),
        ("newest failed", "failed", False),
        ("failed, second page", "failed", True),
    ]
    for label, status, second in cases:
        cursor = None
        if second:
            _, cursor = job_records.newest_jobs(stack, status=status, limit=page)
        reads.reset()
        began = time.perf_counter()
        shown, _ = job_records.newest_jobs(stack, status=status, limit=page, cursor=cursor)
        index = {"items": reads.items, "calls": reads.calls, "rcu": reads.read_units()}
        index["ms"] = round((time.perf_counter() - began) * 1000, 1)
        reads.reset()
        began = time.perf_counter()
        scanned = job_records._scan_all(stack.clients("dynamodb"), stack.ctx.names.table, status)
        scan = {"items": reads.items, "calls": reads.calls, "rcu": reads.read_units()}
        scan["ms"] = round((time.perf_counter() - began) * 1000, 1)
        newest = sorted(scanned, key=job_records._order, reverse=True)
        if not second:  # the index's page is the Scan's newest page: same answer, fewer reads
            assert [j["jobId"] for j in shown] == [j["jobId"] for j in newest[:page]], label
        rows.append({"case": label, "shown": len(shown), "index": index, "scan": scan})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--page", type=int, default=25)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    import tempfile

    from moto import mock_aws

    from asyncapi_cli import ops
    from asyncapi_cli.engine import SilentReporter
    from asyncapi_cli.local.compat import REGISTRY

    REGISTRY.apply(["event-sources-off"])
    os.chdir(tempfile.mkdtemp(prefix="asyncapi-bench-jobs-"))  # the stack's state file goes there
    os.environ["ASYNCAPI_HOME"] = os.getcwd()
    results = []
    with mock_aws():
        stack = ops.open_stack(ops.StackOptions(name="bench-jobs"), creating=True)
        ops.up(stack, SilentReporter())
        dynamodb = stack.clients("dynamodb")
        reads = Reads(dynamodb)
        filled = 0
        for size in sorted(args.sizes):
            fill(dynamodb, stack.ctx.names.table, filled, size)
            filled = size
            for row in measure(stack, reads, args.page):
                results.append({"jobs": size, **row})
                index, scan = row["index"], row["scan"]
                print(
                    f"{size:>7} jobs  {row['case']:<22} page of {row['shown']:>3}: "
                    f"index reads {index['items']:>4} items in {index['calls']} call(s) "
                    f"(~{index['rcu']} RCU), "
                    f"scan reads {scan['items']:>6} items in {scan['calls']:>3} call(s) (~{scan['rcu']} RCU)"
                )
    print(json.dumps({"page": args.page, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
