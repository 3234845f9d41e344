"""`asyncapi jobs`: the jobs table, newest first, and one job with its error and result.

The table's key is jobId alone (the recipe defines it; no index by time), so listing Scans every
page and sorts by createdAt here. At the sizes this tool is for (thousands of jobs) that is a few
calls; the README says so.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from ..errors import InputError

STATUSES = ("queued", "processing", "retrying", "completed", "failed")
SHOWN = ("jobId", "status", "attempts", "createdAt", "updatedAt", "completedAt", "priority", "error")


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    record = {key: deserializer.deserialize(value) for key, value in item.items()}
    # DynamoDB numbers are Decimals: show whole numbers as ints.
    return {k: int(v) if isinstance(v, Decimal) and v == int(v) else v for k, v in record.items()}


def parse_time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def list_jobs(stack: Any, *, status: str | None, limit: int, now: dt.datetime) -> list[dict[str, Any]]:
    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    dynamodb = stack.clients("dynamodb")
    table = stack.ctx.names.table
    kwargs: dict[str, Any] = {"TableName": table}
    if status is not None:
        kwargs |= {
            "FilterExpression": "#s = :status",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":status": {"S": status}},
        }
    jobs: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(**kwargs):
        jobs += [_plain(item) for item in page.get("Items", [])]
    oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    jobs.sort(key=lambda job: (parse_time(job.get("createdAt")) or oldest, job["jobId"]), reverse=True)
    rows = []
    for job in jobs[:limit]:
        created = parse_time(job.get("createdAt"))
        row = {key: job[key] for key in SHOWN if key in job}
        row["ageSeconds"] = None if created is None else round((now - created).total_seconds(), 1)
        rows.append(row)
    return rows


def show_job(stack: Any, job_id: str) -> dict[str, Any]:
    """The record, its error, and the result document from the results bucket (when completed)."""
    item = (
        stack.clients("dynamodb")
        .get_item(TableName=stack.ctx.names.table, Key={"jobId": {"S": job_id}}, ConsistentRead=True)
        .get("Item")
    )
    if item is None:
        raise InputError(f"job {job_id} is not in the jobs table (unknown, or still waiting in the queue)")
    record = _plain(item)
    shown: dict[str, Any] = {"jobId": job_id, "record": record, "error": record.get("error"), "result": None}
    uri = record.get("result")
    if isinstance(uri, str) and uri.startswith("s3://"):
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = stack.clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            shown["result"] = json.loads(body.decode("utf-8"))
        except ValueError:
            shown["result"] = body.decode("utf-8", errors="replace")
    return shown
