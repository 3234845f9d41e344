"""Webhooks, producer side: once a job is final, enqueue exactly one delivery for its callbackUrl.

Called by whoever wins a job's final write (the processor, the batch runner, the dead-letter recorder)
and again on every redelivery of a finished job, so a crash between "job final" and "delivery queued"
is repaired by the next delivery of the job's message. Only UpdateItem and SendMessage are used.

The job record gets `webhook = {status: pending, attempts: 0, deliveryId, enqueued}`; the delivery id
(a uuid4) is fixed in the record before the message is sent, so a re-enqueue after a crash carries the
same id and receivers can dedupe by it. The notifier skips a delivery whose record is no longer pending.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

FINAL = ("completed", "failed")
QUEUE_ENV = "WEBHOOK_QUEUE_URL"


def callback_url_of(payload: Any) -> str | None:
    """The job's callbackUrl when it carries one (a string); anything else means no webhook."""
    if isinstance(payload, dict) and isinstance(payload.get("callbackUrl"), str):
        return str(payload["callbackUrl"])
    return None


def _plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "M":
        return {key: _plain(item) for key, item in inner.items()}
    if kind == "N":
        return int(inner) if inner.lstrip("-").isdigit() else float(inner)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    return inner


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def delivery_message(item: dict[str, Any], delivery_id: str, callback_url: str) -> dict[str, Any]:
    """What the notifier needs, snapshotted from the final record: the event is fixed once final."""
    status = item["status"]
    message: dict[str, Any] = {
        "deliveryId": delivery_id,
        "jobId": item["jobId"],
        "status": status,
        "callbackUrl": callback_url,
        "finishedAt": item.get("completedAt") or item.get("updatedAt"),
    }
    if status == "completed" and item.get("result"):
        message["result"] = item["result"]  # s3://bucket/key; the notifier presigns it per attempt
    if status == "failed" and item.get("error"):
        message["error"] = item["error"]  # the job's own, client-safe error as recorded
    return message


def ensure_enqueued(
    dynamodb: Any,
    sqs: Any,
    table_name: str,
    job_id: str,
    *,
    callback_url: str | None = None,
    queue_url: str | None = None,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> bool:
    """Enqueue the job's one webhook delivery if it is final, asked for one and has none queued yet.

    The callback URL is the one recorded on the job (the processor stores it with its claim);
    `callback_url` serves a record that never got one (a job dead-lettered before any claim).
    True: nothing (more) to do. Raises on an AWS error so the caller can retry the message.
    """
    queue_url = queue_url if queue_url is not None else os.environ.get(QUEUE_ENV)
    if not queue_url:
        return True  # the feature is off
    condition = "#s IN (:completed, :failed)"
    if callback_url is None:
        condition += " AND attribute_exists(callbackUrl)"  # no URL anywhere: no webhook
    fresh = {
        "M": {
            "status": {"S": "pending"},
            "attempts": {"N": "0"},
            "deliveryId": {"S": new_id()},
            "enqueued": {"BOOL": False},
        }
    }
    try:
        item = dynamodb.update_item(
            TableName=table_name,
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET webhook = if_not_exists(webhook, :fresh)",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":fresh": fresh,
                ":completed": {"S": "completed"},
                ":failed": {"S": "failed"},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as exc:
        if _conditional_failed(exc):
            return True  # not final (or gone, or no callbackUrl): nothing to announce
        raise
    record = {key: _plain(value) for key, value in item.items()}
    webhook = record.get("webhook") or {}
    if webhook.get("enqueued") or webhook.get("status") != "pending":
        return True
    callback_url = record.get("callbackUrl") or callback_url
    if not isinstance(callback_url, str):
        return True
    delivery_id = str(webhook["deliveryId"])
    message = delivery_message(record, delivery_id, callback_url)
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(message, ensure_ascii=False, sort_keys=True),
        MessageAttributes={"deliveryId": {"DataType": "String", "StringValue": delivery_id}},
    )
    try:
        dynamodb.update_item(
            TableName=table_name,
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET webhook.enqueued = :true",
            ConditionExpression="webhook.deliveryId = :id",
            ExpressionAttributeValues={":true": {"BOOL": True}, ":id": {"S": delivery_id}},
        )
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise
    return True
