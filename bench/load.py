"""Load on the embedded AWS, reconciled (nothing lost), and the pipeline's throughput against an anchor.

Usage:
  python bench/load.py [--jobs 1000] [--concurrency 20] [--poison 5]      reconcile under failures
  python bench/load.py --throughput [--jobs 500] [--concurrency 50] [--backlog 1000]

--throughput: zero-work jobs; reports completed jobs/s (from the jobs' own createdAt /
completedAt) beside the anchor measured in the same run, before and after the pipeline, a plain moto
server's SendMessage rate at concurrency 20; then the same with a backlog (the mapping disabled while
`--backlog` jobs queue up, then enabled: the drain rate must not drop).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Anchor:
    rate: float  # SendMessage/s
    server_ms: float  # the moto server's CPU per message (start-up excluded)
    client_ms: float  # this process's CPU per message (the 20 client threads)


def moto_send_rate(messages: int = 500, concurrency: int = 20) -> Anchor:
    """The anchor: SendMessage/s against a plain (unpatched) moto server in its own process, from 20
    client threads in this one, into a fresh queue (as many messages as jobs: moto's cost per send
    grows with depth). In its own process, as the issue measured it: a server sharing this process's
    interpreter with the clients measured lower here (42 against 50 msg/s), which would flatter us.
    Also the CPU each message took, server and clients: on a machine others share, the rates move with
    the share this bench gets, and what each unit of work costs decides both."""
    import socket
    import subprocess

    import boto3

    from asyncapi_cli.retry import Pacer, wait_until

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def accepting() -> bool:
            if server.poll() is not None:
                raise SystemExit("the anchor's moto server exited before it accepted connections")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until(accepting, pacer=Pacer(), what="the anchor's moto server", timeout=60, base=0.05, cap=0.5)
        endpoint = f"http://127.0.0.1:{port}"
        local = threading.local()

        def client() -> Any:
            if not hasattr(local, "sqs"):
                local.sqs = boto3.client(
                    "sqs", region_name="us-east-1", endpoint_url=endpoint,
                    aws_access_key_id="testing", aws_secret_access_key="testing",
                )  # fmt: skip
            return local.sqs

        url = client().create_queue(QueueName="anchor")["QueueUrl"]
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda _: client(), range(concurrency * 4)))  # clients built before timing
            server_cpu, client_cpu = process_cpu(server.pid), own_cpu()
            started = time.perf_counter()
            list(pool.map(lambda i: client().send_message(QueueUrl=url, MessageBody=str(i)), range(messages)))
            elapsed = time.perf_counter() - started
        return Anchor(
            messages / elapsed,
            (process_cpu(server.pid) - server_cpu) * 1000 / messages,
            (own_cpu() - client_cpu) * 1000 / messages,
        )
    finally:
        server.terminate()
        server.wait(30)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def own_cpu() -> float:
    """This process's CPU seconds so far (its threads, not its children)."""
    times = os.times()
    return times.user + times.system


def _epoch(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def job_times(stack: Any, job_ids: set[str]) -> list[tuple[float, float]]:
    """(createdAt, completedAt) of each completed job among job_ids."""
    table = stack.state.resources["table"]["name"]
    times: list[tuple[float, float]] = []
    scan = stack.clients("dynamodb").get_paginator("scan")
    for page in scan.paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            if item["jobId"]["S"] in job_ids and "completedAt" in item:
                times.append((_epoch(item["createdAt"]["S"]), _epoch(item["completedAt"]["S"])))
    return times


def completion_rate(stack: Any, job_ids: set[str], since: float | None = None) -> tuple[float, int]:
    """Jobs/s between the first job's createdAt (or `since`) and the last one's completedAt; and how
    many completed."""
    times = job_times(stack, job_ids)
    if not times:
        return 0.0, 0
    start = min(created for created, _ in times) if since is None else since
    return len(times) / max(1e-3, max(completed for _, completed in times) - start), len(times)


def redelivered(stack: Any, job_ids: set[str]) -> int:
    """Jobs whose final write came on a second receive or later (a batch outlived its visibility)."""
    table = stack.state.resources["table"]["name"]
    count = 0
    scan = stack.clients("dynamodb").get_paginator("scan")
    for page in scan.paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            if item["jobId"]["S"] in job_ids and int(item.get("attempts", {}).get("N", "1")) > 1:
                count += 1
    return count


def latency_p50(stack: Any, job_ids: set[str]) -> float:
    """Median seconds from a job's createdAt to its completedAt."""
    return statistics.median(completed - created for created, completed in job_times(stack, job_ids))


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) used so far by the embedded AWS's process and by its Lambda workers
    alive now: every process below it, since workers are forked from a zygote that is its child (Linux
    /proc; {} elsewhere). Per job, it does not depend on how loaded the machine is."""
    from asyncapi_cli.local import manager

    info = manager.running_info() or {}
    pid = info.get("pid")
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def used(process: int) -> float:
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    def used_or_zero(process: int) -> float:
        try:
            return used(process)
        except (OSError, ValueError, IndexError):
            return 0.0  # a worker reclaimed meanwhile

    def children_of(process: int) -> list[int]:
        found: list[int] = []
        try:
            tasks = list(Path(f"/proc/{process}/task").iterdir())
        except OSError:
            return found  # a worker reclaimed meanwhile
        for task in tasks:
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue  # a thread that ended meanwhile
        return found

    try:
        server = used(int(pid))
        below, descendants = children_of(int(pid)), []
        while below:
            descendants += below
            below = [grandchild for child in below for grandchild in children_of(child)]
        return {"server": server, "workers": sum(used_or_zero(d) for d in descendants)}
    except (OSError, ValueError, TypeError, IndexError):
        return {}


def submit_all(stack: Any, jobs: int, concurrency: int) -> set[str]:
    from asyncapi_cli.clients.jobs import SubmitRefused
    from asyncapi_cli.clients.jobs import submit as submit_job

    url = stack.state.outputs["submit_url"]

    def submit(index: int) -> str:
        failures = 0
        while True:  # a busy machine can time a submit out; a job counts once submitted
            try:
                return submit_job(url, {"index": index})[0]
            except SubmitRefused as exc:
                # The stage's throttle (50 requests/s, burst 100: names.StackSettings) answers 429 to a
                # faster burst, as API Gateway does: back off and retry, as a client should.
                if "HTTP 429" not in str(exc) or failures >= 50:
                    raise
                failures += 1
                time.sleep(random.uniform(0.05, 0.25))
            except Exception:
                failures += 1
                if failures >= 3:
                    raise

    with ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(submit, range(jobs)))
    return set(answers)


def queue_depth(stack: Any) -> int:
    attributes = stack.clients("sqs").get_queue_attributes(
        QueueUrl=stack.state.resources["main_queue"]["url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def wait_drained(stack: Any, timeout: float = 900) -> None:
    """Until the main queue is empty: a message leaves it only after its job's final write. One cheap
    call a poll; the table is read afterwards (a scan every half second took 18% of the server's CPU
    for 300 jobs, growing with the table, and its answers are the bench's cost, not the pipeline's)."""
    deadline = time.monotonic() + timeout
    while queue_depth(stack):
        if time.monotonic() > deadline:
            raise TimeoutError("jobs did not complete in time")
        time.sleep(0.5)  # a bench, not a test: the measure comes from the jobs' own timestamps


def wait_completed(stack: Any, job_ids: set[str], timeout: float = 900) -> None:
    """Until every job of job_ids is recorded completed (the queue drained first)."""
    deadline = time.monotonic() + timeout
    wait_drained(stack, timeout)
    while completion_rate(stack, job_ids)[1] < len(job_ids):
        if time.monotonic() > deadline:
            raise TimeoutError("jobs did not complete in time")
        time.sleep(0.5)
        wait_drained(stack, max(1.0, deadline - time.monotonic()))


def set_mapping(stack: Any, enabled: bool) -> None:
    lam = stack.clients("lambda")
    uuid = stack.state.resources["mapping"]["uuid"]
    lam.update_event_source_mapping(UUID=uuid, Enabled=enabled)


def throughput(stack: Any, jobs: int, concurrency: int, backlog: int) -> int:
    anchor = moto_send_rate()
    before, client_before = cpu_seconds(), own_cpu()
    started = time.perf_counter()
    ids = submit_all(stack, jobs, concurrency)
    submitted = time.perf_counter() - started
    wait_drained(stack)
    after, client_after = cpu_seconds(), own_cpu()  # before the bench's own table scans below
    wait_completed(stack, ids)
    rate, done = completion_rate(stack, ids)
    # This machine's speed drifts by a third within minutes (the anchor alone measured 45-85 msg/s in one
    # hour): the anchor again right after the pipeline, and the pipeline against both.
    anchor_after = moto_send_rate()
    print(f"anchor: plain moto server SendMessage at concurrency 20: {anchor.rate:.0f} msg/s before the "
          f"pipeline, {anchor_after.rate:.0f} msg/s after")  # fmt: skip
    print(f"pipeline: {done} zero-work jobs at concurrency {concurrency}: {rate:.0f} completed jobs/s "
          f"({rate / anchor.rate:.2f}x the anchor before, {rate / anchor_after.rate:.2f}x after); "
          f"submits {jobs / submitted:.0f}/s; "
          f"p50 createdAt->completedAt {latency_p50(stack, ids) * 1000:.0f} ms; "
          f"{redelivered(stack, ids)} redelivered")  # fmt: skip
    if before and after:
        per_job = {name: (after[name] - before[name]) * 1000 / jobs for name in before}
        client_ms = (client_after - client_before) * 1000 / jobs
        total = per_job["server"] + per_job["workers"] + client_ms
        print(f"CPU per job: embedded AWS process {per_job['server']:.1f} ms, "
              f"Lambda workers {per_job['workers']:.1f} ms, submitting client {client_ms:.1f} ms: "
              f"{total:.1f} ms")  # fmt: skip
        # Where the machine is shared, each rate follows the CPU this bench is given, divided by what a
        # unit of work costs: the second comparison, steadier than the rates.
        costs = [a.server_ms + a.client_ms for a in (anchor, anchor_after)]
        print(f"CPU per anchor message: {anchor.server_ms:.1f} ms server + {anchor.client_ms:.1f} ms "
              f"clients before, {anchor_after.server_ms:.1f} + {anchor_after.client_ms:.1f} ms after "
              f"(a job costs {total / costs[0]:.2f}x and {total / costs[1]:.2f}x a message)")  # fmt: skip
    if backlog:
        set_mapping(stack, False)
        submitting = cpu_seconds()
        queued = submit_all(stack, backlog, concurrency)
        submitted_cpu = cpu_seconds()
        enabled_at = time.time()  # the drain starts when the mapping is enabled again
        set_mapping(stack, True)
        wait_drained(stack)
        drained_cpu = cpu_seconds()
        wait_completed(stack, queued)
        drained, count = completion_rate(stack, queued, since=enabled_at)
        print(f"backlog: {count} jobs queued first, then drained: {drained:.0f} completed jobs/s "
              f"({drained / rate:.2f}x the rate without a backlog)")  # fmt: skip
        if submitting and submitted_cpu and drained_cpu:
            # The two halves of a job apart: what the pipeline above pays for both at once.
            submit_ms = (submitted_cpu["server"] - submitting["server"]) * 1000 / backlog
            server_ms = (drained_cpu["server"] - submitted_cpu["server"]) * 1000 / backlog
            workers_ms = (drained_cpu["workers"] - submitted_cpu["workers"]) * 1000 / backlog
            print(f"CPU per job, apart: submitting alone {submit_ms:.1f} ms (embedded AWS); processing alone "
                  f"{server_ms:.1f} ms (embedded AWS), {workers_ms:.1f} ms (Lambda workers)")  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--poison", type=int, default=5)
    parser.add_argument("--fail-every", type=int, default=20, help="every Nth job fails (20 = 5%%)")
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument(
        "--throttle-rate",
        type=float,
        default=None,
        help="the stage's steady rate (default: the stack's 50/s; --throughput: 2000/s, burst 4000)",
    )
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="asyncapi-load-")
    os.environ["ASYNCAPI_HOME"] = home
    os.chdir(home)
    from asyncapi_cli import ops
    from asyncapi_cli.engine import SilentReporter
    from asyncapi_cli.loadcheck import render, run_load
    from asyncapi_cli.local import manager
    from asyncapi_cli.secure_api import flag_overrides

    # --throughput measures the emulator, so the stack's own limit must not be what it measures: the
    # stage's default throttle (50 requests/s) is raised, as `up --throttle-rate` would, and said.
    rate = args.throttle_rate or (2000.0 if args.throughput else None)
    options = ops.StackOptions(name="load-bench", local=True)
    if rate is not None:
        burst = max(int(rate * 2), 1)
        options.overrides = flag_overrides(None, (), rate, burst)
        print(f"stage throttle: {rate:.0f} requests/s, burst {burst}")
    try:
        stack = ops.open_stack(options, creating=True, start_local=True)
        ops.up(stack, SilentReporter())
        if args.throughput:
            return throughput(stack, args.jobs or 500, args.concurrency or 50, args.backlog)
        jobs, concurrency = args.jobs or 1000, args.concurrency or 20
        report = run_load(
            stack,
            jobs=jobs,
            concurrency=concurrency,
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
