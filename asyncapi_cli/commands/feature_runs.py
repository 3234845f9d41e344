"""test-job's runs through the features' routes: `--batch N` (POST /batches), `--at/--every --runs`
(POST /schedules) and `--watch` (the stack's WebSocket). The HTTP and WebSocket sides are in clients/;
this module renders. Job and schedule data are printed as plain text (out.raw), never as markup."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..clients import jobs, schedules, watch
from ..clients.batches import follow_batch, submit_batch
from ..clients.transport import stack_url, use_api_key
from ..errors import EXIT_JOB_FAILED, EXIT_OK, InputError
from ..features import batches, scheduling
from ..retry import Pacer


def run_batch(
    stack: Any, out: Any, job_payloads: list[dict[str, Any]], *, timeout: float, pacer: Pacer | None = None
) -> int:
    """POST /batches, then follow GET /batches/{batchId} until the batch is final."""
    pacer = pacer or Pacer()
    use_api_key(stack)
    api = stack_url(stack)
    out.info(f"[bold]POST[/] {api}{batches.POST_PATH} ({len(job_payloads)} jobs)")
    started = pacer.clock()
    batch_id, status_url = submit_batch(api, job_payloads, pacer)
    out.raw(f"  batch {batch_id}")

    def show(body: dict[str, Any]) -> None:
        counts = ""
        if "total" in body:
            counts = f" ({body.get('completed')}/{body['total']} completed, {body.get('failed')} failed)"
        out.raw(f"  {pacer.clock() - started:6.2f}s  {body.get('status')}{counts}")

    body = follow_batch(status_url, batch_id, started + timeout, pacer, show)
    out.document({"command": "test-job", "batch": body, "seconds": round(pacer.clock() - started, 3)})
    rows = [[str(job.get("jobId")), str(job.get("status"))] for job in body.get("jobs") or []]
    out.table(f"batch {batch_id}: {body.get('status')}", ["job", "status"], rows)
    return EXIT_OK if body.get("status") == "completed" else EXIT_JOB_FAILED


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
    schedules.require_feature(stack, "schedule_group", scheduling.FEATURE)
    use_api_key(stack)
    pacer = pacer or Pacer()
    moment = schedules.parse_at(at, datetime.now(timezone.utc)) if at is not None else None
    body = schedules.schedule_body(payload, at=moment, every=every)
    api = stack_url(stack)
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
    run = jobs.JobRun(submitted=pacer.clock())
    run.job_id, status_url = jobs.submit(f"{stack_url(stack)}/submit", payload)

    def seen(status: str, record: dict[str, Any]) -> None:
        if status != run.status:
            run.seen(status, pacer.clock())
            run.record = record
            out.raw(f"  {run.history[-1][0]:6.2f}s  {status}")

    out.raw(f"  job {run.job_id}")
    seen("queued", {})  # accepted: SQS holds it until a processor claims it

    def poll() -> dict[str, Any]:
        followed = jobs.follow(
            run, status_url, run.submitted + timeout, pacer, lambda r: out.raw(f"  {r.status}")
        )
        return followed.record

    how, final = watch.follow_or_poll(
        stack.state.outputs.get("websocket_url"),
        run.job_id,
        lambda message: seen(str(message["status"]), message),
        poll,
        timeout=timeout,
    )
    run.finished = pacer.clock()
    out.document({"command": "test-job", "watch": how, "job": run.to_json(), "final": final})
    return EXIT_OK if final.get("status") == "completed" else EXIT_JOB_FAILED
