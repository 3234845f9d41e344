"""One job through the deployed API: POST /submit, follow GET /status/{jobId} until it is final, read
its result from S3."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from ..errors import EXIT_AWS, AsyncApiError
from ..retry import Pacer
from .transport import HttpAnswer, poll, post_retrying, read_status

FINAL = ("completed", "failed")


class SubmitRefused(AsyncApiError):
    """The API answered, but not 202: the job was not accepted."""

    exit_code = EXIT_AWS


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

    def seen(self, status: str, at: float) -> None:
        """The job's status as last seen, `at` seconds on the run's clock."""
        self.status = status
        self.history.append((at - self.submitted, status))

    def detail(self) -> str:
        """What the record adds to the status line: the attempt, and the job's error unless it completed.
        Job data: printed as written, never as markup."""
        detail = f" (attempt {self.record['attempts']})" if self.record.get("attempts") else ""
        if self.record.get("error") and self.status != "completed":
            detail += f": {self.record['error']}"
        return detail

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
    from ..dayops.jobs import parse_time

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


def priority_query(priority: str | None) -> str:
    """`test-job --priority`: /submit?priority=... (the priorities feature routes on it)."""
    return "" if priority is None else "?" + urllib.parse.urlencode({"priority": priority})


def accepted(answer: HttpAnswer, url: str, id_field: str, status_path: str) -> tuple[str, str] | None:
    """A 202 that names what was queued: its id and the absolute URL of its status (Location, else
    `status_path` + id). None for any other answer: nothing was queued."""
    if answer.status != 202 or not isinstance(answer.body, dict) or id_field not in answer.body:
        return None
    queued_id = str(answer.body[id_field])
    location = answer.headers.get("location") or f"{status_path}/{queued_id}"
    return queued_id, urllib.parse.urljoin(url, location)


def submit(
    submit_url: str, payload: dict[str, Any], pacer: Pacer | None = None, attempts: int = 5
) -> tuple[str, str]:
    """POST the job. A 503 (nothing was queued) or a 429 (throttled) is retried, bounded: full jitter,
    never sooner than Retry-After, each wait at most 20 s, at most `attempts` tries."""
    answer = post_retrying(submit_url, payload, pacer or Pacer(), attempts)
    found = accepted(answer, submit_url, "jobId", "status")
    if found is None:
        raise SubmitRefused(f"submit failed: HTTP {answer.status}: {answer.body}")
    return found


def follow(run: JobRun, status_url: str, deadline: float, pacer: Pacer, on_change: Any = None) -> JobRun:
    """Poll with exponential backoff and full jitter, never sooner than Retry-After, until final."""

    def read(answer: HttpAnswer) -> str:
        status, record = read_status(answer, run.status, "status check")
        if record is not None:
            run.record = record
        if status != run.status:
            run.seen(status, pacer.clock())
            if on_change is not None:
                on_change(run)
        return status

    poll(status_url, read, FINAL, deadline, pacer, f"job {run.job_id}")
    run.finished = pacer.clock()
    return run


def start(
    submit_url: str, payload: dict[str, Any], pacer: Pacer, on_change: Any = None
) -> tuple[JobRun, str]:
    """Submit one job: its run, now queued, and the URL of its status."""
    run = JobRun(submitted=pacer.clock())
    run.job_id, status_url = submit(submit_url, payload, pacer)
    run.seen("queued", pacer.clock())  # accepted: SQS holds it until a processor claims it
    if on_change is not None:
        on_change(run)
    return run, status_url


def run_one(
    submit_url: str, payload: dict[str, Any], timeout: float, pacer: Pacer, on_change: Any = None
) -> JobRun:
    run, status_url = start(submit_url, payload, pacer, on_change)
    return follow(run, status_url, run.submitted + timeout, pacer, on_change)


def fetch_result(stack: Any, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = stack.clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body.decode("utf-8"))
