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
    # The processor may already GetItem on its own table (its role allows nothing more).
    import os

    import boto3

    table = os.environ["JOBS_TABLE_NAME"]
    return "Item" in boto3.client("dynamodb").get_item(TableName=table, Key={"jobId": {"S": flag}})


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
