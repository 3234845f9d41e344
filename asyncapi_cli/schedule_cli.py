"""The CLI's side of scheduling and WebSocket status push: `asyncapi schedules`,
`test-job --at/--every/--runs` and `--watch`.

cli.py only parses options; this module talks to the stack (its API, its WebSocket URL, the
scheduler) and renders. Job and schedule data are printed as plain text (out.raw), never as markup.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from . import client
from .errors import EXIT_JOB_FAILED, EXIT_OK, InputError
from .feature_client import api_url
from .features import FeatureTarget, scheduling
from .features import schedule_client as schedules
from .features.watch_client import follow_or_poll
from .retry import Pacer


def _target(stack: Any) -> FeatureTarget:
    ctx = stack.ctx
    return FeatureTarget(ctx.names, ctx.region, ctx.account, ctx.partition)


def _require(stack: Any, key: str, feature: str) -> None:
    if key not in stack.state.resources:
        raise InputError(
            f"stack {stack.state.name} has no {feature}: turn it on "
            f"(asyncapi up --with {feature}, or [features] {feature} = true in asyncapi.toml)"
        )


def list_schedules(stack: Any, out: Any) -> int:
    """`asyncapi schedules`: every schedule in the stack's group."""
    _require(stack, "schedule_group", scheduling.FEATURE)
    found = schedules.list_schedules(stack.clients("scheduler"), scheduling.group_name(_target(stack)))
    out.document({"command": "schedules", "name": stack.state.name, "schedules": found})
    columns = ["schedule", "state", "expression", "timezone", "endAt"]
    rows = [[str(s.get(c if c != "schedule" else "scheduleId") or "") for c in columns] for s in found]
    out.table(f"{len(found)} schedule(s)", columns, rows)
    return EXIT_OK


def run_scheduled(
    stack: Any,
    out: Any,
    payload: dict[str, Any],
    *,
    at: str | None,
    every: str | None,
    runs: int,
    timeout: float,
    pacer: Pacer | None = None,
) -> int:
    """POST /schedules, follow its runs until `runs` (1 for --at) finished, then DELETE it (--every)."""
    if runs < 1:
        raise InputError(f"--runs must be at least 1, got {runs}")
    _require(stack, "schedule_group", scheduling.FEATURE)
    client.use_api_key(stack)
    pacer = pacer or Pacer()
    moment = schedules.parse_at(at, datetime.now(timezone.utc)) if at is not None else None
    body = schedules.schedule_body(payload, at=moment, every=every)
    api = api_url(stack)
    created = schedules.create(api, body)
    schedule_id = str(created["scheduleId"])
    out.raw(f"  schedule {schedule_id}: next run {created.get('nextRunAt')}")

    def progress(described: dict[str, Any]) -> None:
        out.raw(f"  {len(schedules.finished_runs(described))} run(s) finished of {described.get('runCount')}")

    try:
        described = schedules.wait_for_runs(
            api,
            schedule_id,
            1 if at is not None else runs,
            timeout=timeout,
            pacer=pacer,
            on_progress=progress,
        )
    finally:
        if every is not None:
            schedules.delete(api, schedule_id)  # no run starts after DELETE answers
    finished = schedules.finished_runs(described)
    out.document({"command": "test-job", "schedule": described})
    rows = [[str(r.get("jobId")), str(r.get("status"))] for r in described.get("runs") or []]
    out.table(f"schedule {schedule_id}", ["job", "status"], rows)
    return EXIT_OK if finished and all(r.get("status") == "completed" for r in finished) else EXIT_JOB_FAILED


def run_watched(stack: Any, out: Any, payload: dict[str, Any], *, timeout: float) -> int:
    """Submit one job and follow it over the stack's WebSocket (polling when the feature is off)."""
    pacer = Pacer()
    submit_url = f"{api_url(stack)}/submit"
    run = client.JobRun(submitted=pacer.clock())
    run.job_id, status_url = client.submit(submit_url, payload)

    def seen(status: str, record: dict[str, Any]) -> None:
        if status != run.status:
            run.status = status
            run.history.append((pacer.clock() - run.submitted, status))
            run.record = record
            out.raw(f"  {run.history[-1][0]:6.2f}s  {status}")

    out.raw(f"  job {run.job_id}")
    seen("queued", {})  # accepted: SQS holds it until a processor claims it

    def poll() -> dict[str, Any]:
        followed = client.follow(
            run, status_url, run.submitted + timeout, pacer, lambda r: out.raw(f"  {r.status}")
        )
        return followed.record

    how, final = follow_or_poll(
        stack.state.outputs.get("websocket_url"),
        run.job_id,
        lambda message: seen(str(message["status"]), message),
        poll,
        timeout=timeout,
    )
    run.finished = pacer.clock()
    out.document({"command": "test-job", "watch": how, "job": run.to_json(), "final": final})
    return EXIT_OK if final.get("status") == "completed" else EXIT_JOB_FAILED
