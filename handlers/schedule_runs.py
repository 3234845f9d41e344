"""Scheduled runs, for the job processor: the schedule envelope and the runs record.

EventBridge Scheduler's SQS target cannot set message attributes (its SqsParameters hold only
MessageGroupId: https://docs.aws.amazon.com/scheduler/latest/APIReference/API_SqsParameters.html),
so a schedule's Input is the body envelope {"scheduleId": "...", "job": {...}}. A run has no API
request, hence no jobId attribute: its job id is the SQS MessageId, which SQS assigns (a client
cannot choose it) and which stays the same on every redelivery of that message.

Each run is recorded twice, both idempotently: `scheduleId` on the job (with the processor's claim, in
the same write), and the job id added to the string set `runJobIds` of the schedule's record (key
"schedule#<scheduleId>" in the jobs table).
"""

from __future__ import annotations

import json
import re
from typing import Any

SCHEDULE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RECORD_PREFIX = "schedule#"


def schedule_key(schedule_id: str) -> str:
    return RECORD_PREFIX + schedule_id


def envelope(schedule_id: str, job: Any) -> str:
    """The Input a schedule sends to the queue."""
    return json.dumps({"scheduleId": schedule_id, "job": job}, ensure_ascii=False, separators=(",", ":"))


def scheduled_job(decoded: Any, record: dict[str, Any]) -> tuple[str, Any, str] | None:
    """(job id, payload, scheduleId) when the body is a schedule's envelope; None otherwise."""
    if not isinstance(decoded, dict) or set(decoded) != {"scheduleId", "job"}:
        return None
    schedule_id = decoded["scheduleId"]
    message_id = record.get("messageId")
    if not isinstance(schedule_id, str) or not SCHEDULE_ID_RE.match(schedule_id) or not message_id:
        return None
    return str(message_id), decoded["job"], schedule_id


def schedule_id_of(record: dict[str, Any]) -> str | None:
    try:
        decoded = json.loads(record.get("body") or "")
    except ValueError:
        return None
    found = scheduled_job(decoded, record)
    return found[2] if found else None


def record_extras(record: dict[str, Any]) -> dict[str, str]:
    """{"scheduleId": ...} for a schedule's run: stored on the job with the processor's claim."""
    schedule_id = schedule_id_of(record)
    return {"scheduleId": schedule_id} if schedule_id else {}


def record_run(dynamodb: Any, table: str, job_id: str, schedule_id: str) -> None:
    """Add the run's job id to the schedule's record; a redelivered run adds nothing new (a set)."""
    dynamodb.update_item(
        TableName=table,
        Key={"jobId": {"S": schedule_key(schedule_id)}},
        UpdateExpression="ADD runJobIds :j",
        ExpressionAttributeValues={":j": {"SS": [job_id]}},
    )
