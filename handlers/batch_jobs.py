"""Batch jobs: one SQS message `{"jobs": [...]}` with attributes kind=batch and batchId.

Each item runs exactly as a single job (the processor's own process_record, so claims, conditional
writes, retries and webhooks are the same) with job id `<batchId>-<n>` and `batchId` on its record.
Items run together on a bounded thread pool. A redelivery reruns only the items that are not final
yet: the claim of a finished item fails and it is skipped.

The batch itself is a record in the jobs table under `jobId = "batch#<batchId>"`: the table's only
key is `jobId`, and `#` can never occur in a job id (JOB_ID_RE), so the two kinds cannot collide and
GET /status/batch#... is refused as a malformed id. Once every item is final the batch becomes
completed | partial | failed, with `results/batches/<batchId>.json` holding each item's outcome.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError
from handler_shared import Clients, write_log_line

BATCH_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
MAX_ITEMS = 100
ITEM_CONCURRENCY = 8  # items of one batch at a time (the processor may run up to 10 messages at once)
FINAL = ("completed", "failed")
BATCH_FINAL = ("completed", "partial", "failed")
_client = Clients()  # one boto3 client per service, shared by the record threads


class PoisonBatch(Exception):
    """A batch message no retry can fix."""


def log(level: str, event: str, **fields: Any) -> None:
    line = {"level": level, "event": event, "time": now_iso(), **fields}
    write_log_line(line)  # whole: a batch's records log from several threads


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def batch_key(batch_id: str) -> dict[str, Any]:
    return {"jobId": {"S": f"batch#{batch_id}"}}


def item_ids(batch_id: str, total: int) -> list[str]:
    return [f"{batch_id}-{n}" for n in range(total)]


def parse_batch(record: dict[str, Any]) -> tuple[str, list[Any]]:
    attributes = record.get("messageAttributes") or {}
    batch_id = (attributes.get("batchId") or {}).get("stringValue")
    if not isinstance(batch_id, str) or not BATCH_ID_RE.match(batch_id):
        raise PoisonBatch(f"no valid batch id (got {batch_id!r})")
    try:
        document = json.loads(record.get("body") or "")
    except ValueError as exc:
        raise PoisonBatch(f"body is not JSON: {exc}") from exc
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, list) or not 1 <= len(jobs) <= MAX_ITEMS:
        raise PoisonBatch(f"body must be {{'jobs': [1 to {MAX_ITEMS} items]}}")
    return batch_id, jobs


def item_record(record: dict[str, Any], batch_id: str, index: int, job: Any) -> dict[str, Any]:
    """The SQS record a single job of this batch would have arrived in."""
    attributes = record.get("messageAttributes") or {}

    def string(value: str, kind: str = "String") -> dict[str, Any]:
        return {"stringValue": value, "dataType": kind, "stringListValues": [], "binaryListValues": []}

    item_attributes = {"jobId": string(f"{batch_id}-{index}"), "batchId": string(batch_id)}
    if "submittedAt" in attributes:
        item_attributes["submittedAt"] = attributes["submittedAt"]
    return {
        **record,
        "messageId": f"{record.get('messageId', '?')}#{index}",
        "body": json.dumps(job, ensure_ascii=False),
        "messageAttributes": item_attributes,
    }


def item_statuses(dynamodb: Any, table_name: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """jobId -> record, read consistently in one BatchGetItem (<= 100 keys), retrying unprocessed keys."""
    wanted = {"Keys": [{"jobId": {"S": job_id}} for job_id in ids], "ConsistentRead": True}
    found: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {table_name: wanted}
    for pause in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6):  # bounded: DynamoDB asks for backoff on throttling
        if pause:
            time.sleep(pause)
        answer = dynamodb.batch_get_item(RequestItems=request)
        for item in answer.get("Responses", {}).get(table_name, []):
            found[item["jobId"]["S"]] = item
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return found
    raise RuntimeError("BatchGetItem kept returning unprocessed keys")


def _claim_batch(table_name: str, batch_id: str, total: int, attempt: int) -> bool:
    now = now_iso()
    try:
        _client("dynamodb").update_item(
            TableName=table_name,
            Key=batch_key(batch_id),
            UpdateExpression=(
                "SET #kind = :batch, batchId = :id, #total = :total, #s = :processing, "
                "createdAt = if_not_exists(createdAt, :now), startedAt = if_not_exists(startedAt, :now), "
                "updatedAt = :now, attempts = :attempt"
            ),
            ConditionExpression="attribute_not_exists(jobId) OR NOT (#s IN (:c, :p, :f))",
            # "kind" and "total" are DynamoDB reserved words.
            ExpressionAttributeNames={"#s": "status", "#kind": "kind", "#total": "total"},
            ExpressionAttributeValues={
                ":batch": {"S": "batch"},
                ":id": {"S": batch_id},
                ":total": {"N": str(total)},
                ":processing": {"S": "processing"},
                ":now": {"S": now},
                ":attempt": {"N": str(attempt)},
                ":c": {"S": "completed"},
                ":p": {"S": "partial"},
                ":f": {"S": "failed"},
            },
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def batch_outcome(completed: int, failed: int, total: int) -> str:
    if completed + failed < total:
        return "processing"
    if failed == 0:
        return "completed"
    return "failed" if completed == 0 else "partial"


def _item_result(bucket: str, job_id: str) -> Any:
    body = _client("s3").get_object(Bucket=bucket, Key=f"results/{job_id}.json")["Body"].read()
    return json.loads(body.decode("utf-8")).get("result")


def _combined(
    bucket: str, batch_id: str, status: str, records: dict[str, dict[str, Any]], ids: list[str]
) -> str:
    def entry(job_id: str) -> dict[str, Any]:
        item = records.get(job_id) or {}
        status = (item.get("status") or {}).get("S", "queued")
        line: dict[str, Any] = {"jobId": job_id, "status": status}
        if status == "completed":
            line["result"] = _item_result(bucket, job_id)
        elif "error" in item:
            line["error"] = item["error"]["S"]
        return line

    with ThreadPoolExecutor(max_workers=ITEM_CONCURRENCY) as pool:
        jobs = list(pool.map(entry, ids))
    document = {
        "batchId": batch_id,
        "status": status,
        "total": len(ids),
        "completed": sum(1 for j in jobs if j["status"] == "completed"),
        "failed": sum(1 for j in jobs if j["status"] == "failed"),
        "jobs": jobs,
    }
    key = f"results/batches/{batch_id}.json"
    _client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        ContentType="application/json; charset=utf-8",
    )
    return f"s3://{bucket}/{key}"


def _record_progress(
    table_name: str, batch_id: str, status: str, completed: int, failed: int, result_uri: str | None
) -> None:
    now = now_iso()
    sets = ["#s = :status", "completedCount = :c", "failedCount = :f", "updatedAt = :now"]
    values: dict[str, Any] = {
        ":status": {"S": status},
        ":c": {"N": str(completed)},
        ":f": {"N": str(failed)},
        ":now": {"S": now},
        ":done": {"S": "completed"},
        ":partial": {"S": "partial"},
        ":failed": {"S": "failed"},
    }
    if result_uri is not None:
        sets += ["completedAt = :now", "#r = :result"]
        values[":result"] = {"S": result_uri}
    try:
        _client("dynamodb").update_item(
            TableName=table_name,
            Key=batch_key(batch_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="NOT (#s IN (:done, :partial, :failed))",
            ExpressionAttributeNames={"#s": "status", **({"#r": "result"} if result_uri else {})},
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def process_batch_record(record: dict[str, Any], process_record: Callable[[dict[str, Any]], bool]) -> bool:
    """True when the batch is final (or a duplicate of a final one); False: SQS brings it back."""
    table_name = os.environ["JOBS_TABLE_NAME"]
    bucket = os.environ["RESULTS_BUCKET_NAME"]
    message_id = record.get("messageId", "?")
    try:
        attempt = max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        attempt = 1
    try:
        batch_id, jobs = parse_batch(record)
    except PoisonBatch as exc:
        log("ERROR", "poison-batch", messageId=message_id, attempt=attempt, error=str(exc))
        return False
    ids = item_ids(batch_id, len(jobs))
    if not _claim_batch(table_name, batch_id, len(jobs), attempt):
        log("INFO", "duplicate-batch", batchId=batch_id, attempt=attempt, outcome="skipped")
        return True
    log("INFO", "batch-started", batchId=batch_id, items=len(jobs), attempt=attempt)
    records = [item_record(record, batch_id, n, job) for n, job in enumerate(jobs)]
    with ThreadPoolExecutor(max_workers=min(ITEM_CONCURRENCY, len(records))) as pool:
        list(pool.map(process_record, records))
    found = item_statuses(_client("dynamodb"), table_name, ids)
    statuses = [(found.get(job_id, {}).get("status") or {}).get("S") for job_id in ids]
    completed = statuses.count("completed")
    failed = statuses.count("failed")
    status = batch_outcome(completed, failed, len(ids))
    result_uri = _combined(bucket, batch_id, status, found, ids) if status in BATCH_FINAL else None
    _record_progress(table_name, batch_id, status, completed, failed, result_uri)
    log(
        "INFO",
        "batch-attempt-done",
        batchId=batch_id,
        attempt=attempt,
        outcome=status,
        completed=completed,
        failed=failed,
    )
    return status in BATCH_FINAL
