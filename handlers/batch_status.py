"""GET /batches/{batchId}: a batch's progress, as an API Gateway Lambda proxy response.

Served by the status checker's function (it routes this resource here) or deployable on its own
(lambda_handler). Reads the batch record (`jobId = "batch#<batchId>"`) and its items' records in one
consistent BatchGetItem, so counts are live while items run. Needs dynamodb:GetItem and
dynamodb:BatchGetItem on the jobs table and s3:GetObject on results/batches/* (for resultUrl).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any

import boto3

RESOURCE = "/batches/{batchId}"
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
FINAL = ("completed", "partial", "failed")
RETRY_AFTER_SECONDS = "1"
RESULT_URL_SECONDS = 900
_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service)
    return _clients[service]


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            "Access-Control-Allow-Origin": "*",
            **(headers or {}),
        },
        "body": json.dumps(body, ensure_ascii=False),
    }


def _items(table_name: str, ids: list[str]) -> dict[str, str]:
    """jobId -> status for the items the table knows (an item not picked up yet is absent)."""
    statuses: dict[str, str] = {}
    request: dict[str, Any] = {
        table_name: {
            "Keys": [{"jobId": {"S": job_id}} for job_id in ids],
            "ConsistentRead": True,
            "ProjectionExpression": "jobId, #s",
            "ExpressionAttributeNames": {"#s": "status"},
        }
    }
    for pause in (0.0, 0.05, 0.1, 0.2, 0.4):  # bounded retries of unprocessed keys
        if pause:
            time.sleep(pause)
        answer = _client("dynamodb").batch_get_item(RequestItems=request)
        for item in answer.get("Responses", {}).get(table_name, []):
            statuses[item["jobId"]["S"]] = item.get("status", {}).get("S", "queued")
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return statuses
    raise RuntimeError("BatchGetItem kept returning unprocessed keys")


def _result_url(uri: str) -> str | None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not key:
        return None
    return str(
        _client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=RESULT_URL_SECONDS
        )
    )


def batch_view(batch_id: str) -> dict[str, Any] | None:
    table_name = os.environ["JOBS_TABLE_NAME"]
    record = (
        _client("dynamodb")
        .get_item(TableName=table_name, Key={"jobId": {"S": f"batch#{batch_id}"}}, ConsistentRead=True)
        .get("Item")
    )
    if not record:
        return None
    total = int(record.get("total", {}).get("N", "0"))
    ids = [f"{batch_id}-{n}" for n in range(total)]
    statuses = _items(table_name, ids) if ids else {}
    jobs = [{"jobId": job_id, "status": statuses.get(job_id, "queued")} for job_id in ids]
    recorded = record.get("status", {}).get("S", "processing")
    view: dict[str, Any] = {
        "batchId": batch_id,
        "status": recorded if recorded in FINAL else "processing",
        "total": total,
        "completed": sum(1 for job in jobs if job["status"] == "completed"),
        "failed": sum(1 for job in jobs if job["status"] == "failed"),
        "jobs": jobs,
    }
    for field in ("createdAt", "startedAt", "updatedAt", "completedAt"):
        if "S" in record.get(field, {}):
            view[field] = record[field]["S"]
    if view["status"] in FINAL and "S" in record.get("result", {}):
        url = _result_url(record["result"]["S"])
        if url:
            view["resultUrl"] = url
    return view


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None) or (event.get("requestContext") or {}).get(
        "requestId"
    )
    try:
        batch_id = (event.get("pathParameters") or {}).get("batchId")
        if not isinstance(batch_id, str) or not BATCH_ID_RE.match(batch_id):
            return _response(400, {"message": "Invalid batch id: use 1-100 letters, digits, '-' or '_'."})
        view = batch_view(batch_id)
        if view is None:
            # Like a job, a batch still waiting in SQS is not in the table yet.
            return _response(
                404,
                {
                    "batchId": batch_id,
                    "status": "unknown",
                    "message": "Unknown batch, or not started yet: a queued batch appears once a processor "
                    "picks it up.",
                },
                {"Retry-After": RETRY_AFTER_SECONDS},
            )
        pending = view["status"] not in FINAL
        return _response(200, view, {"Retry-After": RETRY_AFTER_SECONDS} if pending else None)
    except Exception as exc:  # the detail goes to the log, never to the client
        line = {"level": "ERROR", "event": "batch-status-error", "requestId": request_id, "error": repr(exc)}
        print(json.dumps({**line, "time": time.time()}), file=sys.stdout, flush=True)
        return _response(500, {"message": "Internal server error", "requestId": request_id})
