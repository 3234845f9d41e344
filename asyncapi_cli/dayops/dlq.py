"""`asyncapi dlq`: list, redrive and purge the dead-letter queue.

SQS has no peek. Listing receives each message with a short visibility timeout (so one pass sees
every message once instead of the same ten again), then makes each visible again at once
(ChangeMessageVisibility 0). The cost, as with the AWS console's "Poll for messages": each listing
adds one to every message's ApproximateReceiveCount, and for those few seconds another consumer (a
redrive task) cannot see them. The DLQ has no redrive policy of its own, so the higher count moves
nothing anywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import AwsError, InputError
from ..retry import Pacer, wait_until

# Marks the dead-letter recorder adds when it forwards a message from the inbox to the DLQ
# (handlers/dead_letter_recorder.py): not sent back to the main queue on a redrive, so a job that
# dead-letters again is recorded again.
RECORDER_MARKS = ("deadLetterRecorded", "deadLetterSourceArn")
LIST_VISIBILITY = 30  # seconds a listed message stays hidden if we die before making it visible again
MAX_LISTED = 1000


def _job_id(message: dict[str, Any]) -> str | None:
    return (message.get("MessageAttributes") or {}).get("jobId", {}).get("StringValue")


def _original_message_id(message: dict[str, Any]) -> str | None:
    """The id the message had before the recorder forwarded it (its DLQ copy is a new message)."""
    return (message.get("MessageAttributes") or {}).get("deadLetterRecorded", {}).get("StringValue")


def _main_queue_arn(stack: Any) -> str:
    record = stack.state.resources["main_queue"]
    if record.get("arn"):
        return str(record["arn"])
    answer = stack.clients("sqs").get_queue_attributes(QueueUrl=record["url"], AttributeNames=["QueueArn"])
    return str(answer["Attributes"]["QueueArn"])


def _receive_all(sqs: Any, url: str, visibility: int, limit: int) -> list[dict[str, Any]]:
    """Every message we can see, each once (hidden for `visibility` s after its receive)."""
    messages: dict[str, dict[str, Any]] = {}
    empty_rounds = 0
    while len(messages) < limit and empty_rounds < 2:  # short polls sample servers: one more try
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        empty_rounds = 0 if batch else empty_rounds + 1
        for message in batch:
            messages.setdefault(message["MessageId"], message)
    return list(messages.values())


def _make_visible(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def _sent_time(message: dict[str, Any]) -> str | None:
    sent = (message.get("Attributes") or {}).get("SentTimestamp")
    if not sent:
        return None
    moment = dt.datetime.fromtimestamp(int(sent) / 1000, dt.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _recorded_errors(stack: Any, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The jobs' records (status, error), by BatchGetItem, 100 keys a call."""
    dynamodb = stack.clients("dynamodb")
    table = stack.ctx.names.table
    found: dict[str, dict[str, Any]] = {}
    unique = sorted(set(job_ids))
    for start in range(0, len(unique), 100):
        keys = [{"jobId": {"S": job_id}} for job_id in unique[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys}}
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(table, []):
                found[item["jobId"]["S"]] = {k: next(iter(v.values())) for k, v in item.items()}
            request = answer.get("UnprocessedKeys") or {}
    return found


def list_dead_letters(stack: Any, limit: int = MAX_LISTED) -> list[dict[str, Any]]:
    sqs = stack.clients("sqs")
    url = stack.state.resources["dlq"]["url"]
    messages = _receive_all(sqs, url, LIST_VISIBILITY, limit)
    try:
        job_ids = [job_id for job_id in map(_job_id, messages) if job_id]
        records = _recorded_errors(stack, job_ids) if job_ids else {}
    finally:
        _make_visible(sqs, url, messages)
    rows = []
    for message in messages:
        job_id = _job_id(message)
        record = records.get(job_id or "", {})
        rows.append(
            {
                "messageId": message["MessageId"],
                "originalMessageId": _original_message_id(message),
                "jobId": job_id,
                "receiveCount": int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 0)),
                "sentAt": _sent_time(message),
                "status": record.get("status"),
                "error": record.get("error") or (None if job_id else "poison message: no job id"),
                "body": message.get("Body"),
            }
        )
    rows.sort(key=lambda row: row["sentAt"] or "")
    return rows


def mark_queued(stack: Any, job_id: str) -> bool:
    """failed -> queued (only if still failed), so the processor takes the redriven job again.

    Done before the message is back in the main queue: the processor refuses to start a job whose
    record says failed, and would drop the message as a finished duplicate.
    """
    from botocore.exceptions import ClientError

    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    try:
        stack.clients("dynamodb").update_item(
            TableName=stack.ctx.names.table,
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET #s = :queued, updatedAt = :now, redrivenAt = :now REMOVE completedAt",
            ConditionExpression="#s = :failed",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":queued": {"S": "queued"},
                ":failed": {"S": "failed"},
                ":now": {"S": now},
            },
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def redrive_one(stack: Any, job_id: str) -> dict[str, Any]:
    """Receive until the job's message is found; send it to the main queue; delete it from the DLQ."""
    sqs = stack.clients("sqs")
    dlq_url = stack.state.resources["dlq"]["url"]
    main_url = stack.state.resources["main_queue"]["url"]
    messages = _receive_all(sqs, dlq_url, LIST_VISIBILITY, MAX_LISTED)
    wanted = [m for m in messages if _job_id(m) == job_id]
    others = [m for m in messages if _job_id(m) != job_id]
    _make_visible(sqs, dlq_url, others)
    if not wanted:
        raise InputError(f"no message of job {job_id} in the dead-letter queue (see 'asyncapi dlq list')")
    requeued = mark_queued(stack, job_id)
    for message in wanted:  # duplicates of one job go back together; the processor dedupes them
        attributes = {
            name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
            for name, value in (message.get("MessageAttributes") or {}).items()
            if name not in RECORDER_MARKS
        }
        sqs.send_message(QueueUrl=main_url, MessageBody=message["Body"], MessageAttributes=attributes)
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return {"jobId": job_id, "messages": len(wanted), "recordRequeued": requeued}


def redrive_all(stack: Any, pacer: Pacer, timeout: float = 300.0) -> dict[str, Any]:
    """StartMessageMoveTask from the DLQ back to the main queue, then wait for the task to end.

    DestinationArn = the main queue: the DLQ's messages were re-sent there by the dead-letter recorder
    (main queue -> inbox -> recorder -> DLQ), so SQS's "original source queue" of a forwarded copy is
    none (or, for a message the inbox dead-lettered itself, the inbox). One active task per queue: a
    second one is an AWS error.
    """
    sqs = stack.clients("sqs")
    dlq_arn = stack.state.resources["dlq"]["arn"]
    job_ids = sorted({row["jobId"] for row in list_dead_letters(stack) if row["jobId"]})
    requeued = [job_id for job_id in job_ids if mark_queued(stack, job_id)]
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=_main_queue_arn(stack))[
        "TaskHandle"
    ]

    def finished() -> dict[str, Any] | None:
        # ListMessageMoveTasks lists the newest task first and gives a TaskHandle only while a task is
        # RUNNING (SQS API reference, ListMessageMoveTasksResultEntry); one task per source queue can
        # run at a time, so the newest task of this DLQ is the one just started.
        results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
        if results and results[0].get("Status") in ("COMPLETED", "FAILED", "CANCELLED"):
            return results[0]
        return None

    task = wait_until(finished, pacer=pacer, what="the message move task", timeout=timeout)
    if task.get("Status") != "COMPLETED":
        reason = task.get("FailureReason", "no reason given")
        raise AwsError(f"the message move task ended {task.get('Status')}: {reason}")
    return {
        "taskHandle": handle,
        "moved": task.get("ApproximateNumberOfMessagesMoved"),
        "jobs": job_ids,
        "recordsRequeued": requeued,
    }


def purge(stack: Any) -> dict[str, Any]:
    """PurgeQueue: every message in the DLQ is deleted (AWS may take up to 60 s to finish)."""
    url = stack.state.resources["dlq"]["url"]
    stack.clients("sqs").purge_queue(QueueUrl=url)
    return {"queue": url, "purged": True}
