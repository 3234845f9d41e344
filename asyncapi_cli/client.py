"""`asyncapi test-job`: submit through the deployed API, follow the status, fetch the result."""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any

from . import http_keepalive
from .errors import (
    EXIT_AWS,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    AsyncApiError,
    AwsError,
    InputError,
    JobTimeoutError,
)
from .retry import Pacer
from .throttled import MAX_RETRY_WAIT, RETRIED_STATUSES, retry_after

DEFAULT_PAYLOAD = {"task": "process_data", "data": {"input": "test data"}}
FINAL = ("completed", "failed")
POLL_BASE, POLL_CAP = 0.25, 5.0


def parse_payload(text: str | None) -> dict[str, Any]:
    if text is None:
        return dict(DEFAULT_PAYLOAD)
    source = "--payload"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"payload file {path} does not exist") from None
        except OSError as exc:
            raise InputError(f"cannot read payload file {path}: {exc.strerror}") from None
        source = str(path)
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InputError(f"{source} must be a JSON object (the API accepts only objects)")
    return payload


class EndpointError(AwsError):
    """The API could not be reached (connection refused, reset, DNS, TLS): exit 3."""


class SubmitRefused(AsyncApiError):
    """The API answered, but not 202: the job was not accepted."""

    exit_code = EXIT_AWS


@dataclass
class HttpAnswer:
    status: int
    body: Any
    headers: dict[str, str]


# Sent on every request: the stack's x-api-key when `up --auth api-key` made one (run_test_jobs).
SESSION_HEADERS: dict[str, str] = {}


def use_api_key(stack: Any) -> None:
    """Every request to the stack's API carries its x-api-key from here on, when `up --auth api-key` made
    one: /submit, /status, /batches and /schedules alike."""
    from .secure_api import stack_api_key

    key = stack_api_key(stack)  # read from API Gateway now; never stored
    if key is not None:
        SESSION_HEADERS["x-api-key"] = key


def http(method: str, url: str, payload: Any = None, timeout: float = 30.0) -> HttpAnswer:
    """One request on this thread's kept-alive connection to the URL's origin (http_keepalive)."""
    data = json.dumps(payload).encode("utf-8") if payload is not None else None
    try:
        answer = http_keepalive.request(
            method, url, data, {"Content-Type": "application/json", **SESSION_HEADERS}, timeout
        )
    except (OSError, HTTPException, ValueError) as exc:  # ValueError: a malformed URL
        # The endpoint, not the user's input: exit 3 like any unreachable endpoint.
        raise EndpointError(f"cannot reach {url}: {exc}") from None
    raw, status, headers = answer.body, answer.status, dict(answer.headers)
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        body = raw.decode("utf-8", errors="replace")
    return HttpAnswer(status, body, {k.lower(): v for k, v in headers.items()})


@dataclass
class JobRun:
    job_id: str = ""
    status: str = "submitting"
    submitted: float = 0.0
    finished: float | None = None
    history: list[tuple[float, str]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def latency(self) -> float | None:
        """createdAt -> completedAt from the job's own record; the polling grid only as a fallback."""
        recorded = recorded_latency(self.record)
        if recorded is not None:
            return recorded
        return None if self.finished is None else self.finished - self.submitted

    def to_json(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "status": self.status,
            "latency": None if self.latency is None else round(self.latency, 3),
            "history": [{"at": round(t, 3), "status": s} for t, s in self.history],
            "record": self.record,
            "error": self.error,
        }


def recorded_latency(record: dict[str, Any]) -> float | None:
    from .dayops.jobs import parse_time

    created, completed = parse_time(record.get("createdAt")), parse_time(record.get("completedAt"))
    if created is None or completed is None:
        return None
    return max(0.0, (completed - created).total_seconds())


def submit_example(url: str, stack_name: str, api_key: bool) -> str:
    """The curl line `up` prints. With API keys on, the header takes the key from `asyncapi api-key` when
    the line runs: the key itself is never printed where logs and terminals keep it."""
    key = f' -H "x-api-key: $(asyncapi api-key --name {stack_name})"' if api_key else ""
    return (
        f"  curl -sS -i -X POST -H 'Content-Type: application/json'{key} "
        f'-d \'{{"task": "process_data", "data": {{"input": "test data"}}}}\' {url}/submit'
    )


def post_retrying(url: str, payload: Any, pacer: Pacer, attempts: int = 5) -> HttpAnswer:
    """POST; a 429 or 503 (nothing was done) is sent again, bounded: full jitter, never sooner than
    Retry-After, each wait at most 20 s, at most `attempts` tries. The last answer is returned."""
    for attempt in range(attempts):
        answer = http("POST", url, payload)
        if answer.status not in RETRIED_STATUSES or attempt == attempts - 1:
            break
        delay = max(pacer.backoff(attempt, 0.5, 8.0), retry_after(answer.headers))
        pacer.sleep(min(delay, MAX_RETRY_WAIT))
    return answer


def submit(
    submit_url: str, payload: dict[str, Any], pacer: Pacer | None = None, attempts: int = 5
) -> tuple[str, str]:
    """POST the job. A 503 (nothing was queued) or a 429 (throttled) is retried, bounded: full jitter,
    never sooner than Retry-After, each wait at most 20 s, at most `attempts` tries."""
    answer = post_retrying(submit_url, payload, pacer or Pacer(), attempts)
    if answer.status != 202 or not isinstance(answer.body, dict) or "jobId" not in answer.body:
        raise SubmitRefused(f"submit failed: HTTP {answer.status}: {answer.body}")
    location = answer.headers.get("location") or f"status/{answer.body['jobId']}"
    return str(answer.body["jobId"]), urllib.parse.urljoin(submit_url, location)


def follow(run: JobRun, status_url: str, deadline: float, pacer: Pacer, on_change: Any = None) -> JobRun:
    """Poll with exponential backoff and full jitter, never sooner than Retry-After, until final."""
    attempt = 0
    while True:
        answer = http("GET", status_url)
        if answer.status == 200 and isinstance(answer.body, dict):
            status = str(answer.body.get("status"))
            run.record = answer.body
        elif answer.status == 404:
            status = "queued"  # SQS holds it; no processor has picked it up yet
        elif answer.status in RETRIED_STATUSES:
            status = run.status  # throttled: ask again after the backoff (and Retry-After)
        else:
            raise AsyncApiError(f"status check failed: HTTP {answer.status}: {answer.body}")
        if status != run.status:
            run.status = status
            run.history.append((pacer.clock() - run.submitted, status))
            if on_change is not None:
                on_change(run)
        if status in FINAL:
            run.finished = pacer.clock()
            return run
        waited = min(retry_after(answer.headers), MAX_RETRY_WAIT)
        delay = max(pacer.backoff(attempt, POLL_BASE, POLL_CAP), waited)
        remaining = deadline - pacer.clock()
        if remaining <= 0:
            raise JobTimeoutError(f"job {run.job_id} still {status} after the timeout")
        attempt += 1
        pacer.sleep(min(delay, remaining))


def run_one(
    submit_url: str, payload: dict[str, Any], timeout: float, pacer: Pacer, on_change: Any = None
) -> JobRun:
    run = JobRun(submitted=pacer.clock())
    deadline = run.submitted + timeout
    run.job_id, status_url = submit(submit_url, payload, pacer)
    run.status = "queued"
    run.history.append((pacer.clock() - run.submitted, "queued"))
    if on_change is not None:
        on_change(run)
    return follow(run, status_url, deadline, pacer, on_change)


def fetch_result(stack: Any, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = stack.clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body.decode("utf-8"))


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
    submit_url = stack.state.outputs.get("submit_url")
    if not submit_url or "(known" in submit_url:
        raise AsyncApiError("the stack has no deployed API yet; run 'asyncapi up' first")
    submit_url += query  # "?priority=high"; relative Locations still resolve
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
        detail = ""
        if run.record.get("attempts"):
            detail = f" (attempt {run.record['attempts']})"
        if run.record.get("error") and status != "completed":
            detail += f": {run.record['error']}"  # data: printed as written, never as markup
        if len(run.history) == 1:
            out.line("  job ", (run.job_id, "bold"))
        style = {"completed": "green", "failed": "red", "retrying": "yellow"}.get(status, "cyan")
        out.line(f"  {at:6.2f}s  ", (status, style), detail)

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
            run.status = "queued"
            run.history.append((pacer.clock() - run.submitted, "queued"))
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
