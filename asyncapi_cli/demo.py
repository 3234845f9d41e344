"""`asyncapi demo`: the whole lifecycle on the embedded local AWS, with no AWS account."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from . import ops
from .clients import jobs
from .engine import SilentReporter
from .errors import EXIT_JOB_FAILED, EXIT_OK
from .local import manager
from .names import random_name
from .retry import Pacer
from .state import default_state_path

FAILING_PAYLOAD = {
    "task": "demo-failure",
    "fail": True,
    "failMessage": "simulated failure (the demo asked for it)",
}
SUCCESS_PAYLOAD = {"task": "process_data", "data": {"input": 'test data & more: 100% "quoted" ünïcode'}}


def run_demo(out: Any, *, keep: bool = False, pacer: Pacer | None = None) -> int:
    pacer = pacer or Pacer()
    steps: list[dict[str, Any]] = []
    was_running = manager.running_info() is not None
    workdir = None if keep else Path(tempfile.mkdtemp(prefix="asyncapi-demo-"))
    name = random_name()
    state_path = default_state_path(name) if keep else workdir / f"{name}.json"  # type: ignore[operator]
    # The demo is the recipe's stack (its failing job needs the built-in work): no asyncapi.toml.
    options = ops.StackOptions(name=name, local=True, state_path=state_path, use_config=False)
    ok = True
    deployed = False

    def step(title: str) -> float:
        out.info("")
        out.info(f"== {title}", "bold cyan")
        return time.monotonic()

    def done(title: str, started: float, **facts: Any) -> None:
        steps.append({"step": title, "seconds": round(time.monotonic() - started, 2), **facts})

    try:
        started = step("1. Start the embedded local AWS (moto + gateway + Lambda runtime on 127.0.0.1)")
        info = manager.ensure_running(pacer)
        out.info(f"endpoint {info['endpoint']}, gateway {info['gateway']}, log {info['log']}")
        done("start embedded AWS", started, endpoint=info["endpoint"])

        started = step(f"2. asyncapi up --local --name {name}")
        stack = ops.open_stack(options, creating=True, start_local=True)
        deployed = True
        outcomes = ops.up(stack, out)
        done("up", started, resources=len(outcomes), aws_calls=stack.clients.counter.calls)
        out.info(f"API: {stack.state.outputs['api_url']}")

        started = step("3. A job that succeeds (special characters survive the trip)")
        run = jobs.run_one(stack.state.outputs["submit_url"], SUCCESS_PAYLOAD, 60, pacer, _printer(out))
        result = jobs.fetch_result(stack, run.record["result"]) if run.status == "completed" else None
        exact = bool(result) and result["result"]["input"] == SUCCESS_PAYLOAD
        if result:
            out.raw(json.dumps(result["result"]["input"], ensure_ascii=False))
        out.line("result in S3 equals the payload: ", ("yes", "green") if exact else ("no", "red"))
        ok &= run.status == "completed" and exact
        done("successful job", started, job=run.job_id, status=run.status, exact_result=exact)

        started = step(
            "4. A job that fails: retried by SQS, marked failed on its last receive, then in the DLQ"
        )
        failing = jobs.run_one(stack.state.outputs["submit_url"], FAILING_PAYLOAD, 90, pacer, _printer(out))
        in_dlq = _wait_in_dlq(stack, failing.job_id, pacer)
        out.line(
            f"message of job {failing.job_id} in the dead-letter queue: ",
            ("yes", "green") if in_dlq else ("no", "red"),
        )
        ok &= failing.status == "failed" and in_dlq
        done(
            "failing job",
            started,
            job=failing.job_id,
            status=failing.status,
            attempts=failing.record.get("attempts"),
            in_dlq=in_dlq,
        )

        if keep:
            # The exact command: with other stacks in .asyncapi/, a bare 'asyncapi down' cannot choose.
            down_command = f"asyncapi down --yes --name {name}"
            out.info("")
            out.info(f"--keep: the stack stays up (state {state_path}); '{down_command}' removes it")
        else:
            started = step("5. asyncapi down")
            stack = ops.open_stack(options, creating=False, start_local=False)
            ops.down(stack, out)
            deployed = False
            done("down", started)
    finally:
        if deployed and not keep and was_running:
            # A step failed: take the stack down anyway, so the running embedded AWS keeps nothing.
            with contextlib.suppress(Exception):
                ops.down(ops.open_stack(options, creating=False, start_local=False), SilentReporter())
        if not keep and not was_running:
            manager.stop(pacer)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    report: dict[str, Any] = {"command": "demo", "ok": ok, "steps": steps}
    if keep:
        report |= {
            "name": name,
            "state": str(state_path),
            "down_command": f"asyncapi down --yes --name {name}",
        }
    out.document(report)
    out.table(
        "Demo",
        ["step", "seconds", "facts"],
        [
            [
                s["step"],
                str(s["seconds"]),
                ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("step", "seconds")),
            ]
            for s in steps
        ],
    )
    out.info("Demo passed." if ok else "Demo failed.", "bold green" if ok else "bold red")
    return EXIT_OK if ok else EXIT_JOB_FAILED


def _printer(out: Any) -> Any:
    def show(run: jobs.JobRun) -> None:
        at, status = run.history[-1]
        out.info(f"  {run.job_id}  {at:6.2f}s  {status}{run.detail()}")

    return show


def _wait_in_dlq(stack: Any, job_id: str, pacer: Pacer, timeout: float = 30.0) -> bool:
    """Peek at the DLQ (visibility 0, so nothing is consumed) until the job's message is there."""
    sqs = stack.clients("sqs")
    url = stack.state.resources["dlq"]["url"]
    deadline = pacer.clock() + timeout
    while pacer.clock() < deadline:
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
        )
        for message in response.get("Messages", []):
            if (message.get("MessageAttributes") or {}).get("jobId", {}).get("StringValue") == job_id:
                return True
    return False
