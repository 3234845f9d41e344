"""The CLI's side of the issue-10 features: `test-job --batch N` and `asyncapi webhook-secret`.

(`test-job --priority` needs no code of its own: client.run_test_jobs submits to /submit?priority=...)
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from .client import http, post_retrying, use_api_key
from .errors import EXIT_JOB_FAILED, EXIT_OK, AsyncApiError, InputError, JobTimeoutError
from .features import batches, webhooks
from .retry import Pacer
from .throttled import MAX_RETRY_WAIT, RETRIED_STATUSES, retry_after

BATCH_FINAL = ("completed", "partial", "failed")
POLL_BASE, POLL_CAP = 0.25, 5.0


def with_features(text: str | None, flag: str = "--with") -> frozenset[str]:
    """`--with webhooks,priorities` (or --without): the features named, each checked."""
    from .config import FEATURES

    names = frozenset(part.strip() for part in (text or "").split(",") if part.strip())
    unknown = sorted(names - set(FEATURES))
    if unknown:
        raise InputError(f"{flag}: unknown feature {unknown[0]!r}; choose from {', '.join(FEATURES)}")
    return names


def run_test_batch(
    options: Any, out: Any, payload: str | None, count: int, *, timeout: float, priority: str | None
) -> int:
    """`test-job --batch N`."""
    from . import ops
    from .client import DEFAULT_PAYLOAD

    if priority is not None:
        raise InputError("--priority applies to /submit; a batch goes to POST /batches (drop one of them)")
    jobs = batch_jobs(payload, count, DEFAULT_PAYLOAD)
    stack = ops.open_stack(options, creating=False)
    return run_batch(stack, out, jobs, timeout=timeout)


def priority_query(priority: str | None) -> str:
    return "" if priority is None else "?" + urllib.parse.urlencode({"priority": priority})


def batch_jobs(text: str | None, count: int, default: dict[str, Any]) -> list[dict[str, Any]]:
    """--payload for a batch: one JSON object for every job, or a JSON array of `count` objects."""
    if not 1 <= count <= batches.MAX_ITEMS:
        raise InputError(f"--batch must be 1 to {batches.MAX_ITEMS} jobs, got {count}")
    if text is None:
        return [dict(default) for _ in range(count)]
    source = "--payload"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read payload file {path}: {exc.strerror}") from None
        source = str(path)
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{source} is not valid JSON: {exc}") from None
    if isinstance(payload, dict):
        return [dict(payload) for _ in range(count)]
    if isinstance(payload, list) and all(isinstance(item, dict) for item in payload):
        if len(payload) != count:
            raise InputError(f"{source} holds {len(payload)} jobs but --batch asks for {count}")
        return payload
    raise InputError(f"{source} must be a JSON object, or with --batch an array of {count} objects")


def api_url(stack: Any) -> str:
    url = stack.state.outputs.get("api_url")
    if not url or "(known" in str(url):
        raise AsyncApiError("the stack has no deployed API yet; run 'asyncapi up' first")
    return str(url)


def run_batch(
    stack: Any, out: Any, jobs: list[dict[str, Any]], *, timeout: float, pacer: Pacer | None = None
) -> int:
    """POST /batches, then follow GET /batches/{batchId} until the batch is final."""
    pacer = pacer or Pacer()
    use_api_key(stack)
    post_url = f"{api_url(stack)}{batches.POST_PATH}"
    out.info(f"[bold]POST[/] {post_url} ({len(jobs)} jobs)")
    started = pacer.clock()
    # POST /batches has its own, lower throttle (a request carries up to 100 jobs): a 429 is retried.
    answer = post_retrying(post_url, {"jobs": jobs}, pacer)
    if answer.status == 404 or answer.status == 403:
        raise AsyncApiError(
            f"POST {batches.POST_PATH} answered HTTP {answer.status}: is the batches feature on? "
            "(asyncapi up --with batches)"
        )
    if answer.status != 202 or not isinstance(answer.body, dict) or "batchId" not in answer.body:
        raise AsyncApiError(f"batch submit failed: HTTP {answer.status}: {answer.body}")
    batch_id = str(answer.body["batchId"])
    location = answer.headers.get("location") or f"batches/{batch_id}"
    status_url = urllib.parse.urljoin(post_url, location)
    out.raw(f"  batch {batch_id}")
    body = _follow(out, status_url, batch_id, started + timeout, pacer, started)
    out.document({"command": "test-job", "batch": body, "seconds": round(pacer.clock() - started, 3)})
    rows = [[str(job.get("jobId")), str(job.get("status"))] for job in body.get("jobs") or []]
    out.table(f"batch {batch_id}: {body.get('status')}", ["job", "status"], rows)
    return EXIT_OK if body.get("status") == "completed" else EXIT_JOB_FAILED


def _follow(
    out: Any, url: str, batch_id: str, deadline: float, pacer: Pacer, started: float
) -> dict[str, Any]:
    attempt, last = 0, ""
    while True:
        answer = http("GET", url)
        if answer.status == 200 and isinstance(answer.body, dict):
            body: dict[str, Any] = answer.body
        elif answer.status == 404:
            body = {"batchId": batch_id, "status": "queued"}  # no processor has picked it up yet
        elif answer.status in RETRIED_STATUSES:
            body = {"batchId": batch_id, "status": last or "queued"}  # throttled: ask again, as a job's poll
        else:
            raise AsyncApiError(f"batch status failed: HTTP {answer.status}: {answer.body}")
        status = str(body.get("status"))
        if status != last:
            last = status
            counts = ""
            if "total" in body:
                counts = f" ({body.get('completed')}/{body['total']} completed, {body.get('failed')} failed)"
            out.raw(f"  {pacer.clock() - started:6.2f}s  {status}{counts}")
        if status in BATCH_FINAL:
            return body
        remaining = deadline - pacer.clock()
        if remaining <= 0:
            raise JobTimeoutError(f"batch {batch_id} still {status} after the timeout")
        waited = min(retry_after(answer.headers), MAX_RETRY_WAIT)  # never sooner than Retry-After
        pacer.sleep(min(max(pacer.backoff(attempt, POLL_BASE, POLL_CAP), waited), remaining))
        attempt += 1


def webhook_secret(stack: Any) -> dict[str, str]:
    """The signing secret (read from Secrets Manager at the recorded ARN) and that ARN."""
    record = stack.state.resources.get("webhook_secret")
    if not record or not record.get("arn"):
        raise InputError(
            f"stack {stack.state.name} has no webhook signing secret: turn webhooks on "
            "(asyncapi up --with webhooks, or [features] webhooks = true in asyncapi.toml)"
        )
    secret = webhooks.read_secret(stack.clients("secretsmanager"), record["arn"])
    return {"secret": secret, "arn": str(record["arn"])}
