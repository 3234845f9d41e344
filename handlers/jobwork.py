"""The work a job does: small, deterministic and pluggable (the processor calls run_job).

A payload may ask for a simulated duration ("seconds": N) and for a deliberate failure
("fail": true, optional "failMessage") so that demos and tests exercise slow and failing jobs.
"failUntilFlag": "<id>" fails until the jobs table holds an item with jobId <id>: a failure that a
person then fixes (put the item), to show a dead-lettered job redriven and completing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

MAX_SECONDS = 240  # stays well inside the processor's 300 s timeout


class JobFailed(Exception):
    """The job itself failed (as opposed to the infrastructure around it)."""


def _flag_in_jobs_table(flag: str) -> bool:
    # The processor's role allows only UpdateItem on its table (least privilege), so the flag is
    # looked up by a conditional update that records when it was seen: it fails when absent.
    import os
    from datetime import datetime, timezone

    import boto3
    from botocore.exceptions import ClientError

    try:
        boto3.client("dynamodb").update_item(
            TableName=os.environ["JOBS_TABLE_NAME"],
            Key={"jobId": {"S": flag}},
            UpdateExpression="SET flagSeenAt = :now",
            ConditionExpression="attribute_exists(jobId)",
            ExpressionAttributeValues={":now": {"S": datetime.now(timezone.utc).isoformat()}},
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def run_job(
    payload: Any,
    sleep: Callable[[float], None] = time.sleep,
    flag_exists: Callable[[str], bool] = _flag_in_jobs_table,
) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise JobFailed(f"payload must be a JSON object, got {type(payload).__name__}")
    seconds = payload.get("seconds", 0)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_SECONDS:
        raise JobFailed(f"'seconds' must be a number from 0 to {MAX_SECONDS}")
    if seconds:
        sleep(float(seconds))
    flag = payload.get("failUntilFlag")
    if flag is not None and not flag_exists(str(flag)):
        raise JobFailed(f"waiting for flag {flag}: not set yet")
    if payload.get("fail"):
        raise JobFailed(str(payload.get("failMessage") or "the job asked to fail"))
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {
        "input": payload,
        "sha256": hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        "characters": len(canonical),
        "keys": sorted(payload),
    }
