"""The work a job does: small, deterministic and pluggable (the processor calls run_job).

A payload may ask for a simulated duration ("seconds": N) and for a deliberate failure
("fail": true, optional "failMessage") so that demos and tests exercise slow and failing jobs.
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


def run_job(payload: Any, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise JobFailed(f"payload must be a JSON object, got {type(payload).__name__}")
    seconds = payload.get("seconds", 0)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_SECONDS:
        raise JobFailed(f"'seconds' must be a number from 0 to {MAX_SECONDS}")
    if seconds:
        sleep(float(seconds))
    if payload.get("fail"):
        raise JobFailed(str(payload.get("failMessage") or "the job asked to fail"))
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {
        "input": payload,
        "sha256": hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        "characters": len(canonical),
        "keys": sorted(payload),
    }
