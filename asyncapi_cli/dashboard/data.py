"""What the console shows, read through the day-two code (dayops, clients/schedules.py): no second copy.

Every reader returns plain data (dicts of str/int/float); the templates escape it. Reads are bounded:
job lists page through the jobs index, the charts read at most MAX_CHART_JOBS per status.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from typing import Any

from ..dayops import dlq as dead_letters
from ..dayops import jobs as job_records
from ..dayops.live import live_figures
from ..errors import InputError
from ..jobs_index import INDEX_NAME, INDEXED_STATUSES

CHART_MINUTES = 60
MAX_CHART_JOBS = 5000  # per status: a very busy hour is sampled (the page says so), never a table scan
PAGE_SIZE = 25
# Record fields that describe a failure: the processor's "error", and every "error..." field the runtime
# adds (its type, message, location in the user's code): shown together on a job's page, "error" first.
ERROR_PREFIX = "error"
TIMELINE_FIELDS = {
    "createdAt": "submitted",
    "startedAt": "started",
    "updatedAt": "last change",
    "redrivenAt": "redriven",
    "completedAt": "finished",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def overview(stack: Any) -> dict[str, Any]:
    state = stack.state
    figures = live_figures(stack)
    endpoints = {key: value for key, value in sorted(state.outputs.items()) if isinstance(value, str)}
    return {
        "name": state.name,
        "target": state.target.kind,
        "region": stack.ctx.region,
        "endpoints": endpoints,
        "main_queue": figures.get("main_queue"),
        "dlq": figures.get("dlq"),
        "oldest_age": figures.get("oldest_message_age_seconds"),
        "oldest_note": figures.get("oldest_message_age_note"),
        "mapping_state": figures.get("mapping_state"),
        "alarms": alarms(stack),
    }


def alarms(stack: Any) -> list[dict[str, Any]] | None:
    """The stack's CloudWatch alarms (by its name prefix), or None when there are none to show."""
    try:
        cloudwatch = stack.clients("cloudwatch")
        found = cloudwatch.describe_alarms(AlarmNamePrefix=f"{stack.ctx.names.project}-").get(
            "MetricAlarms", []
        )
    except Exception as exc:  # no CloudWatch on the endpoint, or not allowed: the page goes without
        if type(exc).__module__.startswith("botocore"):
            return None
        raise
    rows = [
        {"name": a["AlarmName"], "state": a.get("StateValue"), "reason": a.get("StateReason")} for a in found
    ]
    return rows or None


def _minute(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // 60 * 60


def _recent(stack: Any, status: str, since: str) -> tuple[list[dict[str, Any]], bool]:
    """Jobs of one status created since `since` (ISO), newest first, from the index; capped."""
    dynamodb = stack.clients("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": stack.ctx.names.table,
        "IndexName": INDEX_NAME,
        "KeyConditionExpression": "#s = :status AND createdAt >= :since",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":status": {"S": status}, ":since": {"S": since}},
        "ScanIndexForward": False,
    }
    found: list[dict[str, Any]] = []
    while len(found) < MAX_CHART_JOBS:
        answer = dynamodb.query(**kwargs, Limit=min(1000, MAX_CHART_JOBS - len(found)))
        found += [job_records._plain(item) for item in answer.get("Items", [])]
        if not answer.get("LastEvaluatedKey"):
            return found, False
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return found, True


def series(stack: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """Per minute over the last hour: jobs submitted, completed and failed, and latency p50/p95 (s).

    From the jobs created in the hour (the index's sort key is createdAt); latency is completedAt minus
    createdAt of the completed ones, counted in the minute they completed.
    """
    now = now or utcnow()
    start = _minute(now - dt.timedelta(minutes=CHART_MINUTES - 1))
    minutes = [start + 60 * i for i in range(CHART_MINUTES)]
    since = dt.datetime.fromtimestamp(start, dt.timezone.utc).isoformat(timespec="seconds")
    since = since.replace("+00:00", "Z")
    submitted = dict.fromkeys(minutes, 0)
    completed = dict.fromkeys(minutes, 0)
    failed = dict.fromkeys(minutes, 0)
    latencies: dict[int, list[float]] = {m: [] for m in minutes}
    sampled = False
    for status in INDEXED_STATUSES:
        jobs, capped = _recent(stack, status, since)
        sampled = sampled or capped
        for job in jobs:
            created = job_records.parse_time(job.get("createdAt"))
            if created is not None and _minute(created) in submitted:
                submitted[_minute(created)] += 1
            finished = job_records.parse_time(job.get("completedAt"))
            if finished is None or _minute(finished) not in completed:
                continue
            if status == "completed":
                completed[_minute(finished)] += 1
                if created is not None:
                    latencies[_minute(finished)].append((finished - created).total_seconds())
            elif status == "failed":
                failed[_minute(finished)] += 1

    def percentile(values: list[float], share: float) -> float | None:
        if not values:
            return None
        if len(values) == 1:
            return round(values[0], 3)
        return round(statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1], 3)

    return {
        "minutes": minutes,
        "submitted": [submitted[m] for m in minutes],
        "completed": [completed[m] for m in minutes],
        "failed": [failed[m] for m in minutes],
        "p50": [percentile(latencies[m], 0.50) for m in minutes],
        "p95": [percentile(latencies[m], 0.95) for m in minutes],
        "sampled": sampled,
    }


def jobs_page(stack: Any, status: str | None, cursor: str | None) -> dict[str, Any]:
    if status is not None and status not in INDEXED_STATUSES:
        raise InputError(f"unknown status {status!r}")
    page, next_cursor = job_records.newest_jobs(stack, status=status, limit=PAGE_SIZE, cursor=cursor)
    now = utcnow()
    rows = [job_records.job_row(job, now) for job in page]
    for row in rows:
        row["age"] = job_records.age_text(row.get("ageSeconds"))
    return {"jobs": rows, "next": next_cursor, "status": status, "cursor": cursor}


def job_exists(stack: Any, job_id: str) -> bool:
    answer = stack.clients("dynamodb").get_item(
        TableName=stack.ctx.names.table, Key={"jobId": {"S": job_id}}, ProjectionExpression="jobId"
    )
    return "Item" in answer


def job_detail(stack: Any, job_id: str) -> dict[str, Any]:
    shown = job_records.show_job(stack, job_id)
    record = shown["record"]
    timeline = [(label, record[name]) for name, label in TIMELINE_FIELDS.items() if record.get(name)]
    error_names = sorted((k for k in record if k.startswith(ERROR_PREFIX)), key=lambda k: (k != "error", k))
    errors = [(name, _text(record[name])) for name in error_names if record[name] not in (None, "")]
    shown_keys = {"jobId", "status", "attempts", "result", "payload", *TIMELINE_FIELDS, *error_names}
    return {
        "jobId": job_id,
        "status": record.get("status"),
        "attempts": record.get("attempts"),
        "timeline": timeline,
        "errors": errors,
        "payload": record.get("payload"),
        "result_uri": record.get("result") if isinstance(record.get("result"), str) else None,
        "result": shown["result"],
        "other": sorted((k, v) for k, v in record.items() if k not in shown_keys),
    }


def _text(value: Any) -> str:
    """A field as text: structured ones (a location with file, line and function) as indented JSON."""
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)


def dlq_count(stack: Any) -> int | None:
    figures = live_figures(stack).get("dlq")
    return None if figures is None else int(figures["visible"]) + int(figures["in_flight"])


def dlq_rows(stack: Any) -> list[dict[str, Any]]:
    return dead_letters.list_dead_letters(stack, limit=PAGE_SIZE * 4)


def schedules(stack: Any) -> dict[str, Any]:
    """The stack's schedules with their next run (from the schedules API), or why there are none."""
    from ..clients import schedules as schedule_api
    from ..clients.transport import stack_url

    if "schedule_group" not in stack.state.resources:
        return {"enabled": False, "schedules": []}
    found = schedule_api.list_schedules(stack.clients("scheduler"), schedule_api.group_of(stack))
    api = stack_url(stack)
    for schedule in found:
        try:
            schedule["nextRunAt"] = schedule_api.describe(api, schedule["scheduleId"]).get("nextRunAt")
        except Exception as exc:  # one unreadable schedule does not hide the others
            schedule["nextRunAt"] = f"unavailable ({exc})"
    return {"enabled": True, "schedules": found}
