"""`test-job --url` and `status --url`: a deployed API known only by its URL (a CloudFormation stack
from `asyncapi export`, say), with no state file. Reads and submits over HTTP only; the API key, when
the API requires one, comes from the ASYNCAPI_API_KEY environment variable (never a flag: flags show
in process listings)."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from ..errors import EXIT_AWS, AsyncApiError, InputError
from .transport import HttpAnswer, http, send_api_key

API_KEY_VARIABLE = "ASYNCAPI_API_KEY"
PROBE_JOB = "asyncapi-url-probe"  # an id no job has: the status function answers 404 "unknown"


class NotAnAsyncApi(AsyncApiError):
    exit_code = EXIT_AWS


def api_base(url: str) -> str:
    """The stage URL (https://ID.execute-api.REGION.amazonaws.com/prod), from it or from its /submit."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"--url: expected the API's http(s) URL (the stack's ApiUrl output), got {url!r}")
    return url.strip().rstrip("/").removesuffix("/submit")


def use_api_key() -> None:
    """Send ASYNCAPI_API_KEY as x-api-key on the API's requests."""
    send_api_key(os.environ.get(API_KEY_VARIABLE))


class _PresignedResults:
    """Stands in for the S3 client jobs.fetch_result reads a result with: the status function's
    pre-signed resultUrl instead (it signs only results/<jobId>.json, handlers/status_checker.py)."""

    def __init__(self, base: str) -> None:
        self._base = base

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        job_id = Key.removeprefix("results/").removesuffix(".json")
        answer = http("GET", f"{self._base}/status/{urllib.parse.quote(job_id, safe='')}")
        url = answer.body.get("resultUrl") if isinstance(answer.body, dict) else None
        if not url:
            raise NotAnAsyncApi(f"job {job_id} has no resultUrl (HTTP {answer.status})")
        # urllib, not transport.http: the x-api-key is the API's and is never sent to S3.
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (an https URL from the API)
            return {"Body": io.BytesIO(response.read())}


@dataclass
class UrlStack:
    """What test-job's runs (commands/job_runs.py) read of a stack, for an API known by URL."""

    base: str
    state: Any = field(init=False)

    def __post_init__(self) -> None:
        self.state = SimpleNamespace(
            name=self.base,
            target=SimpleNamespace(kind="url"),
            resources={},
            outputs={"api_url": self.base, "submit_url": f"{self.base}/submit"},
        )

    def clients(self, service: str) -> Any:
        if service != "s3":
            raise InputError(f"--url reaches the API over HTTP only; this needs {service} (drop --url)")
        return _PresignedResults(self.base)


def probe_status(base: str) -> tuple[HttpAnswer, float]:
    """GET /status/{a job no one has}: read-only, submits nothing. The answer and its seconds."""
    started = time.monotonic()
    answer = http("GET", f"{base}/status/{PROBE_JOB}")
    return answer, round(time.monotonic() - started, 3)


def check_probe(base: str, answer: HttpAnswer) -> None:
    """NotAnAsyncApi unless the API answered as an asyncapi stack does: 404 "unknown" for a job it does
    not know."""
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status == 403:
        raise NotAnAsyncApi(
            f"{base} refused GET /status (HTTP 403): set {API_KEY_VARIABLE} when the API requires a key"
        )
    if answer.status != 404 or body.get("status") != "unknown":
        raise NotAnAsyncApi(
            f"{base} did not answer as an asyncapi stack: GET /status/{PROBE_JOB} gave HTTP {answer.status}: "
            + json.dumps(answer.body)[:200]
        )
