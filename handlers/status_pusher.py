"""Pushes job status changes from the jobs table's stream (NEW_AND_OLD_IMAGES) to subscribed connections.

A record is a change when the status differs between the old and the new image (an INSERT counts).
Each subscriber gets {"jobId", "status", "updatedAt", ..., "final"}; "final": true is the last one.
No double send to one connection for one change: before sending, the change's mark ("<updatedAt>|
<sequence number>", increasing within the item) is written to the job's subscriber item with the
condition that the connection's last mark is older; a redelivered record, or an older change arriving
after a newer one, is skipped. A failed send restores the old mark and reports the record failed
(ReportBatchItemFailures), so Lambda retries from it: at least once, never twice. A GoneException
removes the stale connection. Records of other items (schedule#..., job#...) are ignored.
Environment: CONNECTIONS_TABLE_NAME.
"""

from __future__ import annotations

from typing import Any

import job_push
from botocore.exceptions import ClientError


def _status(image: dict[str, Any] | None) -> str | None:
    return ((image or {}).get("status") or {}).get("S")


def change_of(record: dict[str, Any]) -> tuple[str, dict[str, Any], str] | None:
    """(job id, status message, mark) for a record that changes a job's status; None otherwise."""
    data = record.get("dynamodb") or {}
    job_id = ((data.get("Keys") or {}).get("jobId") or {}).get("S", "")
    new = data.get("NewImage")
    if record.get("eventName") == "REMOVE" or not new or not job_push.JOB_ID_RE.match(job_id):
        return None
    if _status(new) is None or _status(new) == _status(data.get("OldImage")):
        return None
    message = job_push.status_message(job_id, new)
    mark = f"{message.get('updatedAt', '')}|{str(data.get('SequenceNumber', '')).zfill(40)}"
    return job_id, message, mark


def _claim(job_id: str, connection_id: str, mark: str) -> bool:
    try:
        job_push.client("dynamodb").update_item(
            TableName=job_push.table(),
            Key={"connectionId": {"S": job_push.SUBSCRIBERS_PREFIX + job_id}},
            UpdateExpression="SET sent.#c = :mark",
            ConditionExpression="attribute_exists(connectionId) AND "
            "(attribute_not_exists(sent.#c) OR sent.#c < :mark)",
            ExpressionAttributeNames={"#c": connection_id},
            ExpressionAttributeValues={":mark": {"S": mark}},
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def _unclaim(job_id: str, connection_id: str, mark: str, previous: str | None) -> None:
    names = {"#c": connection_id}
    values = {":mark": {"S": mark}}
    if previous:
        expression, values[":old"] = "SET sent.#c = :old", {"S": previous}
    else:
        expression = "REMOVE sent.#c"
    try:
        job_push.client("dynamodb").update_item(
            TableName=job_push.table(),
            Key={"connectionId": {"S": job_push.SUBSCRIBERS_PREFIX + job_id}},
            UpdateExpression=expression,
            ConditionExpression="sent.#c = :mark",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError:
        pass  # a newer change was sent meanwhile: nothing to restore


def push(record: dict[str, Any]) -> int:
    """Send one change to its subscribers; the number of messages sent."""
    change = change_of(record)
    if change is None:
        return 0
    job_id, message, mark = change
    connection_ids, sent = job_push.subscribers(job_id)
    count = 0
    for connection_id in connection_ids:
        previous = sent.get(connection_id)
        if not _claim(job_id, connection_id, mark):
            continue
        endpoint = job_push.connection_endpoint(connection_id)
        if endpoint is None:  # the connection expired or disconnected
            job_push.forget(connection_id)
            continue
        try:
            count += job_push.send(endpoint, connection_id, message)
        except Exception:
            _unclaim(job_id, connection_id, mark, previous)
            raise
    return count


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    for record in event.get("Records") or []:
        try:
            push(record)
        except Exception as exc:
            # For a stream, Lambda resumes from the first failed record (ReportBatchItemFailures).
            sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
            job_push.log("ERROR", "push-failed", sequenceNumber=sequence, error=repr(exc))
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    return {"batchItemFailures": []}
