"""Dead-letter recorder: a job whose message was dead-lettered ends `failed` (reason `dead-lettered`).

A message can reach the dead-letter queue without its job ever finishing: Lambda throttling counts
receives, a crash or timeout on the last receive writes nothing. Without this, such a job stays
`queued`/`retrying` forever.

Why it forwards instead of leaving the message where it found it
---------------------------------------------------------------
An SQS event source mapping deletes every record the function returns as a success, and a record
reported in `batchItemFailures` becomes visible again after the visibility timeout and is delivered
again (AWS Lambda Developer Guide, "Using Lambda with Amazon SQS" and "Handling errors for an SQS
event source": partial batch responses). Event filtering is no way out either: on SQS it *deletes*
the messages that do not match ("Using event filtering with an Amazon SQS event source"). So a
consumer cannot record a message and leave it in the queue it polls without either deleting it or
receiving it again every visibility timeout, forever (re-sending a marked copy to the same queue only
moves that loop to the copy).

The recorder therefore consumes an *inbox* queue and keeps every message, unchanged, in the stack's
dead-letter queue, which nothing consumes:

    main queue --(maxReceiveCount)--> dead-letter inbox --(this function)--> dead-letter queue
                                            |--(its own maxReceiveCount, if this function keeps failing)--^

- Each message is recorded, then re-sent to DEAD_LETTER_QUEUE_URL with its body and message attributes
  and `deadLetterRecorded` = the original message id (plus `deadLetterSourceArn` when Lambda reports
  the original source), and only then reported done, which deletes it from the inbox. It is handled
  once: no loop. If recording or forwarding fails, the record is reported failed; the inbox's own
  redrive policy to the dead-letter queue bounds the retries, so the message is kept even then.
- The dead-letter queue stays the place to inspect (`dlq list`) and a real dead-letter queue (of the
  inbox), so `dlq redrive` can use StartMessageMoveTask with DestinationArn = the main queue.
- A message that already carries `deadLetterRecorded` (redriven back into the inbox) is forwarded
  without being recorded again.
- The function refuses to forward into the queue it consumes (that would be the loop above).
- Messages with no valid job id (poison messages) are logged and kept; there is no job to mark.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timezone
from typing import Any

import webhook_outbox  # a dead-lettered job's webhook
from botocore.exceptions import ClientError
from handler_shared import Clients, write_log_line

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
RECORDED_ATTRIBUTE = "deadLetterRecorded"
SOURCE_ATTRIBUTE = "deadLetterSourceArn"
REASON = "dead-lettered"
MAX_MESSAGE_ATTRIBUTES = 10  # SQS's limit per message
_client = Clients()  # one boto3 client per service, shared by the record threads


def _now(epoch_ms: float | None = None) -> str:
    moment = datetime.fromtimestamp(
        (epoch_ms if epoch_ms is not None else time.time() * 1000) / 1000, timezone.utc
    )
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log(level: str, event: str, **fields: Any) -> None:
    line = {"level": level, "event": event, "time": _now(), **fields}
    write_log_line(line)  # whole: a batch's records log from several threads


def job_id_of(record: dict[str, Any]) -> str | None:
    """The job id as the processor reads it: the jobId attribute, else a {"jobId", "data"} envelope."""
    attributes = record.get("messageAttributes") or {}
    job_id = (attributes.get("jobId") or {}).get("stringValue")
    if job_id is None:
        try:
            decoded = json.loads(record.get("body") or "")
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            job_id = decoded.get("jobId")
    return job_id if isinstance(job_id, str) and JOB_ID_RE.match(job_id) else None


def _created_at(record: dict[str, Any]) -> str:
    attributes = record.get("messageAttributes") or {}
    submitted = (attributes.get("submittedAt") or {}).get("stringValue")
    sent = (record.get("attributes") or {}).get("SentTimestamp")
    try:
        return _now(float(submitted or sent))
    except (TypeError, ValueError):
        return _now()


def record_dead_letter(table_name: str, job_id: str, message_id: str, created_at: str) -> bool:
    """Mark the job failed/dead-lettered unless it already finished. False: it had finished."""
    now = _now()
    try:
        _client("dynamodb").update_item(
            TableName=table_name,
            Key={"jobId": {"S": job_id}},
            UpdateExpression=(
                "SET #s = :failed, #r = :reason, #e = :error, deadLetterMessageId = :message, "
                "createdAt = if_not_exists(createdAt, :created), updatedAt = :now, completedAt = :now"
            ),
            # A job the processor never picked up has no record yet: create it, failed.
            ConditionExpression="attribute_not_exists(jobId) OR NOT (#s IN (:completed, :failed))",
            ExpressionAttributeNames={"#s": "status", "#r": "reason", "#e": "error"},
            ExpressionAttributeValues={
                ":failed": {"S": "failed"},
                ":completed": {"S": "completed"},
                ":reason": {"S": REASON},
                ":error": {"S": "dead-lettered: the job's message reached the dead-letter queue"},
                ":message": {"S": message_id},
                ":created": {"S": created_at},
                ":now": {"S": now},
            },
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def _attribute_for_send(value: dict[str, Any]) -> dict[str, Any]:
    """A Lambda SQS event message attribute (camelCase) as SendMessage takes it."""
    data_type = value.get("dataType") or "String"
    if data_type.startswith("Binary"):
        import base64

        return {"DataType": data_type, "BinaryValue": base64.b64decode(value.get("binaryValue") or "")}
    return {"DataType": data_type, "StringValue": str(value.get("stringValue") or "")}


def forward(queue_url: str, record: dict[str, Any]) -> str:
    """Keep the message for inspection: same body and attributes, marked as recorded."""
    attributes = {
        name: _attribute_for_send(value) for name, value in (record.get("messageAttributes") or {}).items()
    }
    marks = {RECORDED_ATTRIBUTE: {"DataType": "String", "StringValue": str(record.get("messageId", "?"))}}
    source = (record.get("attributes") or {}).get("DeadLetterQueueSourceArn")
    if source:
        marks[SOURCE_ATTRIBUTE] = {"DataType": "String", "StringValue": str(source)}
    if RECORDED_ATTRIBUTE in attributes:
        marks = {}  # already marked on an earlier pass; keep the original mark
    for name, value in marks.items():
        if len(attributes) < MAX_MESSAGE_ATTRIBUTES:
            attributes[name] = value
    answer = _client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=record.get("body") or "", MessageAttributes=attributes
    )
    return str(answer.get("MessageId", ""))


def _callback_url(record: dict[str, Any]) -> str | None:
    """The job's callbackUrl, from the message body (a job dead-lettered before any claim has no record)."""
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "jobId" in body:
        body = body["data"]  # the {"jobId", "data"} envelope
    url = body.get("callbackUrl") if isinstance(body, dict) else None
    return url if isinstance(url, str) else None


def _queue_name(url_or_arn: str) -> str:
    return re.split(r"[/:]", url_or_arn.rstrip("/"))[-1]


def process_record(record: dict[str, Any], table_name: str, queue_url: str) -> bool:
    message_id = str(record.get("messageId", "?"))
    source_queue = _queue_name(str(record.get("eventSourceARN") or ""))
    if source_queue and source_queue == _queue_name(queue_url):
        log("ERROR", "forward-loop-refused", messageId=message_id, queue=source_queue)
        return False
    try:
        already = RECORDED_ATTRIBUTE in (record.get("messageAttributes") or {})
        job_id = job_id_of(record)
        if job_id is None:
            log("ERROR", "poison-dead-letter", messageId=message_id, outcome="kept")
        elif already:
            log("INFO", "dead-letter-already-recorded", jobId=job_id, messageId=message_id)
        else:
            marked = record_dead_letter(table_name, job_id, message_id, _created_at(record))
            log(
                "INFO",
                "dead-letter-recorded",
                jobId=job_id,
                messageId=message_id,
                outcome="failed" if marked else "already-final",
            )
            # Webhooks (when on): a dead-lettered job is a final `failed` job like any other. Idempotent:
            # a job that already has its delivery (or asked for none) gets nothing more.
            webhook_outbox.ensure_enqueued(
                _client("dynamodb"), _client("sqs"), table_name, job_id, callback_url=_callback_url(record)
            )
        kept_as = forward(queue_url, record)
        log("INFO", "dead-letter-kept", jobId=job_id, messageId=message_id, keptAs=kept_as)
        return True
    except Exception as exc:  # retried; the inbox's redrive policy keeps the message if this persists
        log("ERROR", "dead-letter-error", messageId=message_id, error=f"{type(exc).__name__}: {exc}")
        return False


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    table_name = os.environ["JOBS_TABLE_NAME"]
    queue_url = os.environ["DEAD_LETTER_QUEUE_URL"]
    records = event.get("Records") or []
    failures = [
        {"itemIdentifier": record.get("messageId", "")}
        for record in records
        if not process_record(record, table_name, queue_url)
    ]
    return {"batchItemFailures": failures}
