"""POST /schedules, GET /schedules/{scheduleId}, DELETE /schedules/{scheduleId} (Lambda proxy).

A schedule is an EventBridge Scheduler schedule in the stack's group whose target is the main queue
(through the scheduler role, sqs:SendMessage on that queue only). Its Input is the envelope
{"scheduleId", "job"} (schedule_runs.py), so each run is a job with its own id, like POST /submit.
The definition is also kept in the jobs table ("schedule#<id>") so GET still answers after a
one-time schedule deleted itself (ActionAfterCompletion DELETE); the processor adds each run's job
id to it. Environment: JOBS_TABLE_NAME, SCHEDULE_GROUP_NAME, SCHEDULE_TARGET_ARN, SCHEDULER_ROLE_ARN,
SCHEDULE_DLQ_ARN, MAX_ACTIVE_SCHEDULES.

The API may have no authentication, so the number of schedules in the group (one-time schedules that
ran are deleted by Scheduler itself) is capped: POST /schedules beyond MAX_ACTIVE_SCHEDULES answers 409
and creates nothing. Two concurrent creates at the cap may both pass: the cap can be exceeded by the
number of POSTs in flight at once, never more.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import schedule_expressions as expressions
import schedule_runs
from botocore.exceptions import ClientError

MAX_AHEAD = timedelta(days=365)
MAX_JOB_BYTES = 256 * 1024  # SQS's message size limit
MAX_RUNS_SHOWN = 100
_clients: dict[str, Any] = {}
clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731 (tests replace it)


DEFAULT_MAX_ACTIVE = 100


class BadRequest(Exception):
    pass


class AtCapacity(Exception):
    pass


def _active_schedules(group: str, enough: int) -> int:
    """How many schedules the group holds, counted until `enough` (no need to page further)."""
    scheduler, count, token = _client("scheduler"), 0, None
    while count < enough:
        paging = {"NextToken": token} if token else {}
        page = scheduler.list_schedules(GroupName=group, MaxResults=100, **paging)
        count += len(page.get("Schedules", []))
        token = page.get("NextToken")
        if not token:
            break
    return count


def _check_capacity() -> None:
    cap = int(os.environ.get("MAX_ACTIVE_SCHEDULES") or DEFAULT_MAX_ACTIVE)
    if _active_schedules(os.environ["SCHEDULE_GROUP_NAME"], cap) >= cap:
        raise AtCapacity(
            f"This stack already has {cap} active schedules, its limit (scheduling.max_active in "
            "asyncapi.toml); delete one first (DELETE /schedules/{scheduleId})."
        )


def _client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service)
    return _clients[service]


def _log(level: str, event: str, **fields: Any) -> None:
    line = {"level": level, "event": event, "time": time.time(), **fields}
    print(json.dumps(line, default=str), file=sys.stdout, flush=True)


def _response(
    status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body, ensure_ascii=False) if body is not None else "",
    }


def _instant(value: Any, field: str) -> datetime:
    """An ISO 8601 instant; without an offset it is UTC."""
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{field} is not an ISO 8601 date-time: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _definition(body: Any, now: datetime) -> dict[str, Any]:
    """The checked request: expression (at/rate/cron), timezone, endAt; BadRequest with the reason."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = set(body) - {"job", "runAt", "expression", "timezone", "endAt"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    job = body.get("job")
    if not isinstance(job, dict):
        raise BadRequest("job must be a JSON object")
    if len(json.dumps(job, ensure_ascii=False).encode()) > MAX_JOB_BYTES:
        raise BadRequest(f"job is larger than {MAX_JOB_BYTES} bytes")
    if ("runAt" in body) == ("expression" in body):
        raise BadRequest("give either runAt (one time) or expression (rate(...) or cron(...))")
    try:
        tz_name = body.get("timezone") or "UTC"
        if not isinstance(tz_name, str):
            raise BadRequest("timezone must be a string")
        expressions.zone(tz_name)
        if "runAt" in body:
            run_at = _instant(body["runAt"], "runAt")
            if run_at <= now:
                raise BadRequest("runAt is in the past")
            if run_at > now + MAX_AHEAD:
                raise BadRequest("runAt is more than a year ahead")
            local = run_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            return {
                "job": job,
                "expression": f"at({local})",
                "timezone": "UTC",
                "runAt": expressions.iso(run_at),
            }
        expression = body["expression"]
        parsed = expressions.parse(expression)
        if isinstance(parsed, expressions.At):
            raise BadRequest("use runAt for a one-time schedule; expression takes rate(...) or cron(...)")
    except expressions.ExpressionError as exc:
        raise BadRequest(str(exc)) from exc
    definition = {"job": job, "expression": expression, "timezone": tz_name}
    if "endAt" in body:
        end_at = _instant(body["endAt"], "endAt")
        if end_at <= now:
            raise BadRequest("endAt is in the past")
        definition["endAt"] = expressions.iso(end_at)
    return definition


def _next_run(definition: dict[str, Any], created: datetime, now: datetime) -> str | None:
    end = _instant(definition["endAt"], "endAt") if definition.get("endAt") else None
    when = expressions.next_run(
        definition["expression"], definition["timezone"], now, end=end, anchor=created
    )
    return expressions.iso(when) if when else None


def create(body: Any) -> dict[str, Any]:
    now = clock()
    definition = _definition(body, now)
    _check_capacity()
    schedule_id = str(uuid.uuid4())
    table = os.environ["JOBS_TABLE_NAME"]
    record = {
        "jobId": {"S": schedule_runs.schedule_key(schedule_id)},
        "kind": {"S": "schedule"},
        "definition": {"S": json.dumps(definition, ensure_ascii=False)},
        "createdAt": {"S": expressions.iso(now)},
    }
    _client("dynamodb").put_item(TableName=table, Item=record)
    request: dict[str, Any] = {
        "Name": schedule_id,
        "GroupName": os.environ["SCHEDULE_GROUP_NAME"],
        "ScheduleExpression": definition["expression"],
        "ScheduleExpressionTimezone": definition["timezone"],
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": os.environ["SCHEDULE_TARGET_ARN"],
            "RoleArn": os.environ["SCHEDULER_ROLE_ARN"],
            "Input": schedule_runs.envelope(schedule_id, definition["job"]),
            # A run Scheduler cannot send (after its retries) lands in the schedules' DLQ rather than
            # being dropped (Scheduler API reference, Target.DeadLetterConfig; `asyncapi dlq list`).
            "DeadLetterConfig": {"Arn": os.environ["SCHEDULE_DLQ_ARN"]},
        },
    }
    if definition["expression"].startswith("at("):
        request["ActionAfterCompletion"] = "DELETE"
    if "endAt" in definition:
        request["EndDate"] = _instant(definition["endAt"], "endAt")
    try:
        _client("scheduler").create_schedule(**request)
    except Exception:
        _client("dynamodb").delete_item(TableName=table, Key={"jobId": record["jobId"]})
        raise
    body_out = {"scheduleId": schedule_id, "nextRunAt": _next_run(definition, now, now)}
    return _response(201, body_out, {"Location": f"schedules/{schedule_id}"})


def _record(schedule_id: str) -> dict[str, Any] | None:
    return (
        _client("dynamodb")
        .get_item(
            TableName=os.environ["JOBS_TABLE_NAME"],
            Key={"jobId": {"S": schedule_runs.schedule_key(schedule_id)}},
            ConsistentRead=True,
        )
        .get("Item")
    )


def _live_schedule(schedule_id: str) -> dict[str, Any] | None:
    try:
        return _client("scheduler").get_schedule(
            Name=schedule_id, GroupName=os.environ["SCHEDULE_GROUP_NAME"]
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def _runs(job_ids: list[str]) -> list[dict[str, Any]]:
    table = os.environ["JOBS_TABLE_NAME"]
    runs: list[dict[str, Any]] = []
    for start in range(0, len(job_ids), 100):  # BatchGetItem takes up to 100 keys
        keys = [{"jobId": {"S": job_id}} for job_id in job_ids[start : start + 100]]
        request = {
            table: {
                "Keys": keys,
                "ProjectionExpression": "jobId, #s, createdAt",
                "ExpressionAttributeNames": {"#s": "status"},
            }
        }
        while request:
            answer = _client("dynamodb").batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(table, []):
                runs.append({name: value["S"] for name, value in item.items() if "S" in value})
            request = answer.get("UnprocessedKeys") or {}
    return sorted(runs, key=lambda run: (run.get("createdAt", ""), run["jobId"]))


def describe(schedule_id: str) -> dict[str, Any]:
    record = _record(schedule_id)
    if record is None:
        return _response(404, {"scheduleId": schedule_id, "message": "Unknown schedule"})
    definition = json.loads(record["definition"]["S"])
    created = _instant(record["createdAt"]["S"], "createdAt")
    live = _live_schedule(schedule_id) if "deletedAt" not in record else None
    if live is not None:
        state = "enabled" if live.get("State") == "ENABLED" else "disabled"
    else:
        state = "deleted" if "deletedAt" in record else "completed"
    job_ids = sorted((record.get("runJobIds") or {}).get("SS", []))
    runs = _runs(job_ids)
    body = {
        "scheduleId": schedule_id,
        **{
            key: definition[key]
            for key in ("expression", "timezone", "runAt", "endAt", "job")
            if key in definition
        },
        "state": state,
        "createdAt": record["createdAt"]["S"],
        "nextRunAt": _next_run(definition, created, clock()) if live is not None else None,
        "runCount": len(runs),
        "runs": runs[-MAX_RUNS_SHOWN:],
    }
    if "runAt" in body:
        body.pop("expression", None)
    return _response(200, body)


def delete(schedule_id: str) -> dict[str, Any]:
    if _record(schedule_id) is None:
        return _response(404, {"scheduleId": schedule_id, "message": "Unknown schedule"})
    try:
        _client("scheduler").delete_schedule(Name=schedule_id, GroupName=os.environ["SCHEDULE_GROUP_NAME"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    _client("dynamodb").update_item(
        TableName=os.environ["JOBS_TABLE_NAME"],
        Key={"jobId": {"S": schedule_runs.schedule_key(schedule_id)}},
        UpdateExpression="SET deletedAt = if_not_exists(deletedAt, :now)",
        ExpressionAttributeValues={":now": {"S": expressions.iso(clock())}},
    )
    return _response(204, None)


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None) or (event.get("requestContext") or {}).get(
        "requestId"
    )
    method = event.get("httpMethod") or ""
    schedule_id = (event.get("pathParameters") or {}).get("scheduleId")
    try:
        if schedule_id is None and method == "POST":
            try:
                body = json.loads(event.get("body") or "")
            except ValueError:
                raise BadRequest("the body must be JSON") from None
            return create(body)
        if not isinstance(schedule_id, str) or not schedule_runs.SCHEDULE_ID_RE.match(schedule_id):
            return _response(400, {"message": "Invalid schedule id"})
        if method == "GET":
            return describe(schedule_id)
        if method == "DELETE":
            return delete(schedule_id)
        return _response(405, {"message": "Method not allowed"})
    except BadRequest as exc:
        return _response(400, {"message": str(exc)})
    except AtCapacity as exc:
        return _response(409, {"message": str(exc)})
    except Exception as exc:  # AWS detail goes to the log only
        _log("ERROR", "schedules-error", requestId=request_id, error=repr(exc))
        return _response(500, {"message": "Internal server error", "requestId": request_id})
