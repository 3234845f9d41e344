"""The job processor's retry backoff: a failed record's message comes back after a delay it sets itself.

Without it a failed job came back after the queue's visibility timeout, which AWS's guidance sets to six
times the function's timeout (30 minutes for a 300 s processor): too slow for a job that failed at once,
and the embedded AWS used to shorten it to 4 s, which redelivered long jobs while they still ran. Now
both keep AWS's visibility timeout and the processor calls ChangeMessageVisibility on the records it
reports failed ("Handling errors for an SQS event source in Lambda", services-sqs-errorhandling.html,
a backoff through ChangeMessageVisibility; SQS API reference: VisibilityTimeout 0-43,200 s).
The delay: RETRY_BACKOFF_SECONDS ([processor] retry_backoff in asyncapi.toml, default 2) x 2^(attempt-1);
after the last allowed receive (MAX_RECEIVE_COUNT) 0, so SQS's redrive moves the message to the DLQ on
its next receive.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

MAX_VISIBILITY_SECONDS = 43_200  # SQS: a message's visibility timeout is at most 12 hours


def retry_delay(attempt: int, max_receives: int, base: int) -> int:
    """Seconds before a failed record's next receive: base * 2^(attempt-1), capped at SQS's 12 hours;
    0 after the last allowed receive, so SQS's redrive moves it to the DLQ on the next receive."""
    if attempt >= max_receives:
        return 0
    return min(MAX_VISIBILITY_SECONDS, base * 2 ** max(0, attempt - 1))


def _retry_backoff_base() -> int:
    try:
        return max(0, int(os.environ.get("RETRY_BACKOFF_SECONDS", "2")))
    except ValueError:
        return 2


def max_receive_count() -> int:
    try:
        return max(1, int(os.environ.get("MAX_RECEIVE_COUNT", "3")))
    except ValueError:
        return 3


def queue_url_of(clients: Callable[[str], Any], queue_arn: str) -> str:
    """arn:aws:sqs:region:account:name -> the queue's URL on the client's SQS endpoint (AWS's form,
    https://sqs.<region>.amazonaws.com/<account>/<name>, and the same path on a local endpoint)."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    return f"{clients('sqs').meta.endpoint_url.rstrip('/')}/{account}/{name}"


def back_off(
    clients: Callable[[str], Any],
    failed: list[dict[str, Any]],
    attempt_of: Callable[[dict[str, Any]], int],
    log: Callable[..., None],
) -> None:
    """The retry backoff, applied by the processor: each failed record's message comes back after
    retry_delay, not after the queue's whole visibility timeout (6 x the function timeout). Best effort:
    a record whose visibility cannot be changed comes back after that timeout, as without it."""
    base, max_receives = _retry_backoff_base(), max_receive_count()
    for record in failed:
        if not (record.get("receiptHandle") and record.get("eventSourceARN")):
            continue  # not an SQS record: nothing to change
        delay = retry_delay(attempt_of(record), max_receives, base)
        try:
            # One call per failed record (failures are few): ChangeMessageVisibilityBatch would need the
            # same permission, sqs:ChangeMessageVisibility, and a second code path for partial failures.
            clients("sqs").change_message_visibility(
                QueueUrl=queue_url_of(clients, record["eventSourceARN"]),
                ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=delay,
            )
        except (ClientError, BotoCoreError, ValueError) as exc:
            log("ERROR", "retry-backoff-failed", messageId=record.get("messageId"), error=str(exc))
