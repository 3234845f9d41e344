"""GET /status/{jobId}: a job's status from DynamoDB, as an API Gateway Lambda proxy response.

A completed job also carries `resultUrl`: a pre-signed HTTPS GET URL (15 minutes) for its result, so a
client needs no AWS credentials to fetch it. Presigning is local signing with the function's own
credentials (no AWS call); the status role needs s3:GetObject on results/* for the URL to work. The
client is made as boto3 makes every client, so AWS_ENDPOINT_URL (the embedded AWS sets it) points
the URL at that endpoint's S3.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from decimal import Decimal
from typing import Any

import batch_status  # GET /batches/{batchId} is served by this function too
import boto3
import job_features  # priority, batchId and webhook fields on a job's status

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
PENDING = ("processing", "retrying")
RETRY_AFTER_SECONDS = "1"
RESULT_URL_SECONDS = 900  # 15 minutes: long enough to fetch, short enough to be worthless when leaked
FIELDS = (
    "status",
    "reason",
    "createdAt",
    "startedAt",
    "updatedAt",
    "completedAt",
    "attempts",
    "result",
    "error",
)
FIELDS += ("scheduleId",)  # a scheduled run names its schedule
_clients: dict[str, Any] = {}


def _dynamodb() -> Any:
    if "dynamodb" not in _clients:
        _clients["dynamodb"] = boto3.client("dynamodb")
    return _clients["dynamodb"]


def _s3() -> Any:
    if "s3" not in _clients:
        from botocore.config import Config

        # SigV4 in every region (the only scheme newer regions accept) and the regional endpoint.
        _clients["s3"] = boto3.client("s3", config=Config(signature_version="s3v4"))
    return _clients["s3"]


def result_url(job_id: str, result_uri: Any) -> str | None:
    """A pre-signed GET for results/<jobId>.json, only for the object the processor wrote for this job."""
    if not isinstance(result_uri, str) or not result_uri.startswith("s3://"):
        return None
    bucket, _, key = result_uri.removeprefix("s3://").partition("/")
    if not bucket or key != f"results/{job_id}.json":
        return None
    return str(
        _s3().generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=RESULT_URL_SECONDS
        )
    )


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


def _plain(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as plain JSON."""
    ((kind, inner),) = value.items()
    if kind == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    return inner


def allowed_origin(event: dict[str, Any]) -> str | None:
    """Access-Control-Allow-Origin for this request. ALLOWED_ORIGINS (comma-separated, set
    by `up --cors-origin`; not a secret): the request's Origin only when listed ("*" allows any);
    unset: "*", the recipe's answer."""
    configured = [o for o in os.environ.get("ALLOWED_ORIGINS", "").split(",") if o]
    if not configured:
        return "*"
    if "*" in configured:
        return "*"
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    origin = headers.get("origin")
    return origin if isinstance(origin, str) and origin in configured else None


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    response = _answer(event, context)
    headers = response.setdefault("headers", {})
    origin = allowed_origin(event)
    headers.pop("Access-Control-Allow-Origin", None)
    if origin is not None:
        headers["Access-Control-Allow-Origin"] = origin
    if os.environ.get("ALLOWED_ORIGINS") and origin != "*":
        headers["Vary"] = "Origin"  # the answer depends on the request's Origin: caches must know
    return response


def _answer(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None) or (event.get("requestContext") or {}).get(
        "requestId"
    )
    if event.get("resource") == batch_status.RESOURCE:  # feature hook: batches
        return batch_status.lambda_handler(event, context)
    try:
        job_id = (event.get("pathParameters") or {}).get("jobId")
        if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
            return _response(400, {"message": "Invalid job id: use 1-128 letters, digits, '-' or '_'."})
        item = (
            _dynamodb()
            .get_item(
                TableName=os.environ["JOBS_TABLE_NAME"], Key={"jobId": {"S": job_id}}, ConsistentRead=True
            )
            .get("Item")
        )
        if not item:
            # SQS may still hold it: the table knows a job only once a processor has picked it up.
            return _response(
                404,
                {
                    "jobId": job_id,
                    "status": "unknown",
                    "message": (
                        "Unknown job, or not started yet: a queued job appears once a processor picks it up."
                    ),
                },
                {"Retry-After": RETRY_AFTER_SECONDS},
            )
        body: dict[str, Any] = {"jobId": job_id}
        for field in FIELDS:
            if field in item:
                body[field] = _plain(item[field])
        body.update(job_features.public_fields(item))  # feature hook
        if body.get("status") == "completed":
            url = result_url(job_id, body.get("result"))
            if url is not None:
                body["resultUrl"] = url
        headers = {"Retry-After": RETRY_AFTER_SECONDS} if body.get("status") in PENDING else {}
        return _response(200, body, headers)
    except Exception as exc:
        # Never leak internals: the detail goes to the log, the client gets a request id.
        print(
            json.dumps(
                {
                    "level": "ERROR",
                    "event": "status-error",
                    "requestId": request_id,
                    "error": repr(exc),
                    "time": time.time(),
                }
            ),
            file=sys.stdout,
            flush=True,
        )
        return _response(500, {"message": "Internal server error", "requestId": request_id})
