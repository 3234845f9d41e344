"""`asyncapi jobs`: the jobs table, newest first, and one job with its error and result.

A page of newest jobs is read from the table's index by status and creation time (jobs_index.py):
one Query per status, newest first, each stopping after a page's worth of items, merged here. A page
reads O(page) items whatever the table holds. A stack deployed before the index existed (until its
next `up` adds it) is listed the old way, by a Scan sorted here.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from ..errors import InputError
from ..jobs_index import INDEX_NAME, INDEXED_STATUSES

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


def encode_cursor(item: dict[str, Any]) -> str:
    """Where the next page starts: after this job (createdAt, jobId), URL-safe."""
    text = f"{item.get('createdAt', '')}|{item['jobId']}"
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        text = ""
    created, sep, job_id = text.partition("|")
    if not sep or not job_id:
        raise InputError(f"invalid page cursor {cursor[:40]!r}")
    return created, job_id


def _order(job: dict[str, Any]) -> tuple[str, str]:
    return (str(job.get("createdAt") or ""), str(job["jobId"]))


def _query_status(
    dynamodb: Any, table: str, status: str, limit: int, after: tuple[str, str] | None
) -> list[dict[str, Any]]:
    """The newest `limit` jobs of one status older than `after`, newest first; reads about `limit`.
    (Callers ask one more than a page: its presence says there is a next page.)"""
    values: dict[str, Any] = {":status": {"S": status}}
    condition = "#s = :status"
    if after is not None:
        condition += " AND createdAt <= :before"  # <=: jobs created in the same millisecond
        values[":before"] = {"S": after[0]}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": INDEX_NAME,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        "Limit": limit + (0 if after is None else 1),  # the cursor's own job is read again
    }
    found: list[dict[str, Any]] = []
    while True:
        answer = dynamodb.query(**kwargs)
        items = [_plain(item) for item in answer.get("Items", [])]
        found += [job for job in items if after is None or _order(job) < after]
        if len(found) >= limit or not answer.get("LastEvaluatedKey"):
            return found
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _is_missing_index(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    # DynamoDB answers ValidationException "The table does not have the specified index"; moto 5.2.5
    # answers ResourceNotFoundException "Invalid index: ...".
    error = exc.response.get("Error", {})
    code, message = error.get("Code"), str(error.get("Message", "")).lower()
    return code in ("ValidationException", "ResourceNotFoundException") and "index" in message


def _scan_all(dynamodb: Any, table: str, status: str | None) -> list[dict[str, Any]]:
    """Before the index exists: every item, the old way."""
    kwargs: dict[str, Any] = {"TableName": table}
    if status is not None:
        kwargs |= {
            "FilterExpression": "#s = :status",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":status": {"S": status}},
        }
    jobs: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(**kwargs):
        jobs += [_plain(item) for item in page.get("Items", []) if "createdAt" in item]
    return jobs


def newest_jobs(
    stack: Any, *, status: str | None, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of jobs, newest first, and the cursor of the next page (None: this was the last)."""
    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    after = decode_cursor(cursor) if cursor else None
    dynamodb = stack.clients("dynamodb")
    table = stack.ctx.names.table
    jobs: list[dict[str, Any]] = []
    try:
        for each in (status,) if status else INDEXED_STATUSES:
            jobs += _query_status(dynamodb, table, each, limit + 1, after)
    except Exception as exc:
        if not _is_missing_index(exc):
            raise
        jobs = [job for job in _scan_all(dynamodb, table, status) if after is None or _order(job) < after]
    jobs.sort(key=_order, reverse=True)
    page = jobs[:limit]
    return page, (encode_cursor(page[-1]) if len(jobs) > limit else None)


def job_row(job: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    created = parse_time(job.get("createdAt"))
    row = {key: job[key] for key in SHOWN if key in job}
    row["ageSeconds"] = None if created is None else round((now - created).total_seconds(), 1)
    return row


def list_jobs(stack: Any, *, status: str | None, limit: int, now: dt.datetime) -> list[dict[str, Any]]:
    page, _ = newest_jobs(stack, status=status, limit=limit)
    return [job_row(job, now) for job in page]


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
