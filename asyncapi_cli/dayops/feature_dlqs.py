"""What lands in the features' dead-letter queues, for `asyncapi dlq list` (read-only, like the main DLQ's).

- `<name>-high-dlq`: high-priority jobs, as the main DLQ holds normal ones (a job id attribute);
- `<name>-webhooks-dlq`: webhook deliveries that failed every attempt (body: jobId, deliveryId, ...);
- `<name>-schedules-dlq`: schedule runs Scheduler could not send to the main queue: the body is the
  schedule's input (scheduleId, job) and the message attributes say why (ERROR_CODE, ERROR_MESSAGE:
  EventBridge Scheduler user guide, "Configuring a dead-letter queue for EventBridge Scheduler");
- `<name>-pusher-dlq`: the stream mapping's on-failure records: a description of the skipped batch, not
  the records (requestContext.condition, DDBStreamBatchInfo with the shard and sequence numbers: Lambda
  developer guide, "Retaining discarded batches for a DynamoDB event source").
"""

from __future__ import annotations

import json
from typing import Any

from .dlq import LIST_VISIBILITY, _make_visible, _receive_all, _sent_time

# State keys of the feature DLQs, in the order they are shown.
FEATURE_DLQS = ("high_dlq", "webhooks_dlq", "schedules_dlq", "pusher_dlq")
MAX_LISTED = 100


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = (message.get("MessageAttributes") or {}).get(name) or {}
    return value.get("StringValue")


def describe(message: dict[str, Any]) -> dict[str, Any]:
    """The message as one row: what it is about (job, delivery, schedule, stream batch) and why it failed."""
    try:
        body = json.loads(message.get("Body") or "")
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    about = _attribute(message, "jobId") or body.get("jobId") or body.get("scheduleId")
    batch = body.get("DDBStreamBatchInfo") or {}
    if batch:
        about = f"stream batch {batch.get('startSequenceNumber')}..{batch.get('endSequenceNumber')}"
    error = (
        _attribute(message, "ERROR_MESSAGE")
        or _attribute(message, "ERROR_CODE")
        or (body.get("requestContext") or {}).get("condition")
        or body.get("error")
    )
    return {
        "messageId": message["MessageId"],
        "about": about,
        "deliveryId": body.get("deliveryId"),
        "receiveCount": int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 0)),
        "sentAt": _sent_time(message),
        "error": error,
    }


def list_feature_dead_letters(stack: Any, limit: int = MAX_LISTED) -> list[dict[str, Any]]:
    """Every feature DLQ the state records, with its messages (each seen once, then visible again)."""
    sqs = stack.clients("sqs")
    queues = []
    for key in FEATURE_DLQS:
        record = stack.state.resources.get(key) or {}
        url = record.get("url")
        if not url:
            continue
        messages = _receive_all(sqs, url, LIST_VISIBILITY, limit)
        try:
            rows = sorted((describe(m) for m in messages), key=lambda row: row["sentAt"] or "")
        finally:
            _make_visible(sqs, url, messages)
        queues.append({"key": key, "queue": url.rsplit("/", 1)[-1], "messages": rows})
    return queues
