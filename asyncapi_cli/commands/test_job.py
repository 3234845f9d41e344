"""`test-job`: submit real jobs through the API and follow them (same options and exit codes as the rest)."""

from __future__ import annotations

import math
import sys
from typing import Any

import click

from ..errors import InputError
from ..options import stack_kwargs, stack_options


@click.command("test-job")
@stack_options
@click.option("--payload", help="Job payload: JSON text, or @file.json.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Overall seconds to wait.")
@click.option("--count", type=int, default=1, show_default=True, help="Number of jobs to submit.")
@click.option("--concurrency", type=int, default=1, show_default=True, help="Jobs in flight at once.")
@click.option(
    "--priority", type=click.Choice(["high", "normal"]), help="Submit with ?priority= (feature priorities)."
)
@click.option(
    "--batch",
    type=int,
    help="Submit one batch of N jobs to POST /batches and follow it (feature batches); --payload may "
    "then be an array of N objects.",
)
@click.option("--at", help="Schedule the job once: +10s, +5m, +2h or an ISO 8601 time (feature scheduling).")
@click.option("--every", help='Schedule it repeatedly: "rate(1 minute)" or "cron(...)" (feature scheduling).')
@click.option("--runs", type=int, default=3, show_default=True, help="With --every: runs to wait for.")
@click.option(
    "--watch", is_flag=True, help="Follow the job over the WebSocket (feature websocket; else polls)."
)
@click.option("--url", help="A deployed API's URL (no state file); x-api-key from ASYNCAPI_API_KEY.")
@stack_kwargs
def test_job(
    options: Any,
    out: Any,
    payload: str | None,
    timeout: float,
    count: int,
    concurrency: int,
    priority: str | None,
    batch: int | None,
    at: str | None,
    every: str | None,
    runs: int,
    watch: bool,
    url: str | None = None,
    **_: Any,
) -> None:
    """Submit a real job through the API, follow it to completion, show the result."""
    from .. import ops
    from ..clients.jobs import priority_query
    from ..clients.payloads import batch_jobs, parse_payload
    from ..dayops.target import require_deployed
    from . import feature_runs
    from .job_runs import run_test_jobs

    if not math.isfinite(timeout) or timeout <= 0:
        raise InputError(f"--timeout must be a finite number of seconds above zero, got {timeout:g}")
    if url is not None and (at is not None or every is not None or watch or batch is not None):
        raise InputError(
            "--url submits to /submit only; --at, --every, --watch and --batch need the state file"
        )
    if at is not None or every is not None or watch:
        stack = ops.open_stack(options, creating=False)
        if watch:
            sys.exit(feature_runs.run_watched(stack, out, parse_payload(payload), timeout=timeout))
        parsed = parse_payload(payload)
        sys.exit(
            feature_runs.run_scheduled(stack, out, parsed, at=at, every=every, runs=runs, timeout=timeout)
        )
    if batch is not None:
        if priority is not None:
            raise InputError(
                "--priority applies to /submit; a batch goes to POST /batches (drop one of them)"
            )
        jobs = batch_jobs(payload, batch)
        sys.exit(feature_runs.run_batch(ops.open_stack(options, creating=False), out, jobs, timeout=timeout))
    parsed = parse_payload(payload)
    if count < 1 or concurrency < 1:
        raise InputError("--count and --concurrency must be at least 1")
    query = priority_query(priority)  # "?priority=high"; relative Locations still resolve
    if url is not None:
        from ..clients.url_api import UrlStack, api_base, use_api_key

        use_api_key()
        sys.exit(
            run_test_jobs(
                UrlStack(api_base(url)),
                out,
                parsed,
                timeout=timeout,
                count=count,
                concurrency=concurrency,
                query=query,
            )
        )
    stack = ops.open_stack(options, creating=False)
    require_deployed(stack)
    code = run_test_jobs(
        stack, out, parsed, timeout=timeout, count=count, concurrency=concurrency, query=query
    )
    sys.exit(code)


def register(group: click.Group) -> None:
    for command in (test_job,):
        group.add_command(command)
