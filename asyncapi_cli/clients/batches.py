"""A batch through the deployed API (feature batches): POST /batches, then follow GET /batches/{batchId}
until the batch is final."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import AsyncApiError
from ..features import batches
from ..retry import Pacer
from .jobs import SubmitRefused, accepted
from .transport import HttpAnswer, poll, post_retrying, read_status

BATCH_FINAL = ("completed", "partial", "failed")


def submit_batch(api_url: str, jobs: list[dict[str, Any]], pacer: Pacer) -> tuple[str, str]:
    """POST the jobs as one batch: its id and the URL of its status."""
    post_url = f"{api_url}{batches.POST_PATH}"
    # POST /batches has its own, lower throttle (a request carries up to 100 jobs): a 429 is retried.
    answer = post_retrying(post_url, {"jobs": jobs}, pacer)
    if answer.status == 404 or answer.status == 403:
        raise AsyncApiError(
            f"POST {batches.POST_PATH} answered HTTP {answer.status}: is the batches feature on? "
            "(asyncapi up --with batches)"
        )
    found = accepted(answer, post_url, "batchId", "batches")
    if found is None:
        raise SubmitRefused(f"batch submit failed: HTTP {answer.status}: {answer.body}")
    return found


def follow_batch(
    url: str,
    batch_id: str,
    deadline: float,
    pacer: Pacer,
    on_change: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """The batch's last status document, once final; on_change(document) each time its status changes."""
    seen: str = ""
    latest: dict[str, Any] = {}

    def read(answer: HttpAnswer) -> str:
        nonlocal seen, latest
        # Nothing seen yet and throttled: it waits in the queue as far as anyone knows.
        status, record = read_status(answer, seen or "queued", "batch status")
        latest = record if record is not None else {"batchId": batch_id, "status": status}
        if status != seen:
            seen = status
            on_change(latest)
        return status

    poll(url, read, BATCH_FINAL, deadline, pacer, f"batch {batch_id}")
    return latest
