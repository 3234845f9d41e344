"""test-job's runs of the plain /submit path: one job followed live (`_single`), or N jobs C at a time
with a report of what happened to each (`_many`). The HTTP side is clients/jobs.py."""

from __future__ import annotations

import json
import statistics
import threading
import time
from typing import Any

from ..clients.jobs import JobRun, SubmitRefused, fetch_result, follow, run_one, submit
from ..clients.transport import stack_url, use_api_key
from ..errors import (
    EXIT_AWS,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    AsyncApiError,
    JobTimeoutError,
)
from ..retry import Pacer


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run_test_jobs(
    stack: Any,
    out: Any,
    payload: dict[str, Any],
    *,
    timeout: float,
    count: int,
    concurrency: int,
    pacer: Pacer | None = None,
    query: str = "",
) -> int:
    pacer = pacer or Pacer()
    submit_url = stack_url(stack, "submit_url") + query
    use_api_key(stack)
    if count == 1:
        return _single(stack, out, submit_url, payload, timeout, pacer)
    return _many(out, submit_url, payload, timeout, count, concurrency, pacer)


def _single(
    stack: Any, out: Any, submit_url: str, payload: dict[str, Any], timeout: float, pacer: Pacer
) -> int:
    out.line(("POST ", "bold"), submit_url)

    def show(run: JobRun) -> None:
        at, status = run.history[-1]
        if len(run.history) == 1:
            out.line("  job ", (run.job_id, "bold"))
        style = {"completed": "green", "failed": "red", "retrying": "yellow"}.get(status, "cyan")
        out.line(f"  {at:6.2f}s  ", (status, style), run.detail())

    run = run_one(submit_url, payload, timeout, pacer, show)
    result = None
    if run.status == "completed" and run.record.get("result"):
        result = fetch_result(stack, run.record["result"])
        out.line(("Result", "bold"), f" ({run.record['result']}):")
        out.raw(json.dumps(result, indent=2, ensure_ascii=False))
    out.document({"command": "test-job", "job": run.to_json(), "result": result})
    return EXIT_OK if run.status == "completed" else EXIT_JOB_FAILED


class _Stopped(Exception):
    """Ctrl-C: the main thread asked the workers to stop following their jobs."""


def _many(
    out: Any,
    submit_url: str,
    payload: dict[str, Any],
    timeout: float,
    count: int,
    concurrency: int,
    pacer: Pacer,
) -> int:
    """N jobs, C at a time; the report counts what happened (accepted, refused, errors) per job."""
    accepted: list[JobRun] = []
    refused: list[str] = []
    errors: list[str] = []
    timed_out: list[str] = []
    status_errors: list[str] = []  # accepted, then the status could not be followed
    lock = threading.Lock()
    stop = threading.Event()
    next_index = iter(range(count))
    started = time.monotonic()

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise _Stopped()

    worker_pacer = Pacer(sleep=sleep, clock=pacer.clock, rng=pacer.rng)

    def worker() -> None:
        while not stop.is_set():
            with lock:
                if next(next_index, None) is None:
                    return
            run = JobRun(submitted=pacer.clock())
            try:
                run.job_id, status_url = submit(submit_url, payload)
            except SubmitRefused as exc:
                with lock:
                    refused.append(str(exc))
                continue
            except AsyncApiError as exc:
                with lock:
                    errors.append(str(exc))
                continue
            run.seen("queued", pacer.clock())
            with lock:
                accepted.append(run)
            try:
                follow(run, status_url, run.submitted + timeout, worker_pacer)
            except JobTimeoutError:
                with lock:
                    timed_out.append(run.job_id)
            except _Stopped:
                return
            except AsyncApiError as exc:
                run.error = str(exc)
                with lock:
                    status_errors.append(str(exc))

    out.info(f"Submitting {count} jobs, {concurrency} at a time, to {submit_url}")
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(concurrency, count))]
    for thread in threads:
        thread.start()
    interrupted = False
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # short joins keep the main thread responsive to Ctrl-C
    except KeyboardInterrupt:
        stop.set()
        interrupted = True
    with lock:
        report = _report(accepted, refused, errors, timed_out, count, time.monotonic() - started, interrupted)
        report["status_errors"] = len(status_errors)
        if status_errors:
            report["first_status_error"] = status_errors[0]
    out.document(report)
    rows = [
        [k, json.dumps(v) if isinstance(v, dict) else str(v)]
        for k, v in report.items()
        if k not in ("command", "job_ids")
    ]
    out.table(
        "test-job" + (" (interrupted: partial report)" if interrupted else ""), ["measure", "value"], rows
    )
    if interrupted:
        raise KeyboardInterrupt
    if refused or errors or status_errors:
        return EXIT_AWS
    if timed_out:
        return EXIT_USAGE
    return EXIT_JOB_FAILED if report["failed"] else EXIT_OK


def _report(
    accepted: list[JobRun],
    refused: list[str],
    errors: list[str],
    timed_out: list[str],
    requested: int,
    wall: float,
    interrupted: bool,
) -> dict[str, Any]:
    completed = [r for r in accepted if r.status == "completed"]
    failed = [r for r in accepted if r.status == "failed"]
    latencies = [r.latency for r in completed if r.latency is not None]
    report: dict[str, Any] = {
        "command": "test-job",
        "requested": requested,
        "submitted": len(accepted),  # accepted by the API (202): what really entered the queue
        "refused": len(refused),
        "errors": len(errors),  # never reached the API (connection refused, reset)
        "completed": len(completed),
        "failed": len(failed),
        "timed_out": len(timed_out),
        "unfinished": len(accepted) - len(completed) - len(failed),
        "interrupted": interrupted,
        "wall_seconds": round(wall, 3),
        "throughput_per_second": round((len(completed) + len(failed)) / wall, 2) if wall else None,
        "job_ids": [r.job_id for r in accepted],
    }
    if latencies:
        report["latency_seconds"] = {
            "p50": round(percentile(latencies, 0.50), 3),
            "p90": round(percentile(latencies, 0.90), 3),
            "p99": round(percentile(latencies, 0.99), 3),
            "max": round(max(latencies), 3),
            "mean": round(statistics.fmean(latencies), 3),
            "source": "job records: createdAt -> completedAt",
        }
    if refused:
        report["first_refusal"] = refused[0]
    if errors:
        report["first_error"] = errors[0]
    return report
