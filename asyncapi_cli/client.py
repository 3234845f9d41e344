"""`asyncapi test-job`: submit through the deployed API, follow the status, fetch the result."""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE, AsyncApiError, InputError, JobTimeoutError
from .retry import Pacer

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


@dataclass
class HttpAnswer:
    status: int
    body: Any
    headers: dict[str, str]


def http(method: str, url: str, payload: Any = None, timeout: float = 30.0) -> HttpAnswer:
    data = json.dumps(payload).encode("utf-8") if payload is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status, headers = response.read(), response.status, dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        raw, status, headers = exc.read(), exc.code, dict(exc.headers.items())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AsyncApiError(f"cannot reach {url}: {reason}") from None
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


def submit(submit_url: str, payload: dict[str, Any]) -> tuple[str, str]:
    answer = http("POST", submit_url, payload)
    if answer.status != 202 or not isinstance(answer.body, dict) or "jobId" not in answer.body:
        raise AsyncApiError(f"submit failed: HTTP {answer.status}: {answer.body}")
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
        delay = pacer.backoff(attempt, POLL_BASE, POLL_CAP)
        try:
            delay = max(delay, float(answer.headers.get("retry-after", 0)))
        except ValueError:
            pass
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
    run.job_id, status_url = submit(submit_url, payload)
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
    submit_url += query  # "?priority=high" (issue 10); relative Locations still resolve
    if count == 1:
        return _single(stack, out, submit_url, payload, timeout, pacer)
    return _many(out, submit_url, payload, timeout, count, concurrency, pacer)


def _single(
    stack: Any, out: Any, submit_url: str, payload: dict[str, Any], timeout: float, pacer: Pacer
) -> int:
    out.info(f"[bold]POST[/] {submit_url}")

    def show(run: JobRun) -> None:
        at, status = run.history[-1]
        detail = ""
        if run.record.get("attempts"):
            detail = f" (attempt {run.record['attempts']})"
        if run.record.get("error") and status != "completed":
            detail += f": {run.record['error']}"
        if len(run.history) == 1:
            out.info(f"  job [bold]{run.job_id}[/]")
        style = {"completed": "green", "failed": "red", "retrying": "yellow"}.get(status, "cyan")
        out.info(f"  {at:6.2f}s  [{style}]{status}[/]{detail}")

    run = run_one(submit_url, payload, timeout, pacer, show)
    result = None
    if run.status == "completed" and run.record.get("result"):
        result = fetch_result(stack, run.record["result"])
        out.info(f"[bold]Result[/] ({run.record['result']}):")
        out.raw(json.dumps(result, indent=2, ensure_ascii=False))
    out.document({"command": "test-job", "job": run.to_json(), "result": result})
    return EXIT_OK if run.status == "completed" else EXIT_JOB_FAILED


def _many(
    out: Any,
    submit_url: str,
    payload: dict[str, Any],
    timeout: float,
    count: int,
    concurrency: int,
    pacer: Pacer,
) -> int:
    runs: list[JobRun] = []
    errors: list[str] = []
    lock = threading.Lock()
    started = time.monotonic()

    def one(_: int) -> None:
        try:
            run = run_one(submit_url, payload, timeout, pacer)
            with lock:
                runs.append(run)
        except AsyncApiError as exc:
            with lock:
                errors.append(str(exc))

    out.info(f"Submitting {count} jobs, {concurrency} at a time, to {submit_url}")
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(count)))
    wall = time.monotonic() - started
    completed = [r for r in runs if r.status == "completed"]
    failed = [r for r in runs if r.status == "failed"]
    latencies = [r.latency for r in completed if r.latency is not None]
    report: dict[str, Any] = {
        "command": "test-job",
        "submitted": count,
        "completed": len(completed),
        "failed": len(failed),
        "errors": len(errors),
        "wall_seconds": round(wall, 3),
        "throughput_per_second": round(len(runs) / wall, 2) if wall else None,
    }
    if latencies:
        report["latency_seconds"] = {
            "p50": round(percentile(latencies, 0.50), 3),
            "p90": round(percentile(latencies, 0.90), 3),
            "p99": round(percentile(latencies, 0.99), 3),
            "max": round(max(latencies), 3),
            "mean": round(statistics.fmean(latencies), 3),
        }
    if errors:
        report["first_error"] = errors[0]
    out.document(report)
    rows = [
        [k, json.dumps(v) if isinstance(v, dict) else str(v)] for k, v in report.items() if k != "command"
    ]
    out.table("test-job", ["measure", "value"], rows)
    if errors:
        return EXIT_USAGE
    return EXIT_JOB_FAILED if failed else EXIT_OK
