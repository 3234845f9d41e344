"""The hooks through which the job processor and the status checker serve the optional features:
priorities and batch ids recorded on the job, batch messages, webhooks once a job is final.

Everything here is inert when a feature is off: no `priority`/`batchId`/`kind` message attributes
arrive, and without WEBHOOK_QUEUE_URL no webhook is ever enqueued.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from webhook_outbox import callback_url_of

PRIORITIES = ("high", "normal")
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # leaves room for "-<n>" in a 128-character job id
PUBLIC_WEBHOOK_FIELDS = ("status", "attempts", "lastStatusCode")
MAX_CALLBACK_URL = 2048


def _attribute(record: dict[str, Any], name: str) -> str | None:
    value = ((record.get("messageAttributes") or {}).get(name) or {}).get("stringValue")
    return value if isinstance(value, str) else None


def record_extras(record: dict[str, Any], payload: Any = None) -> dict[str, str]:
    """What the job record keeps besides its status: priority (high|normal) and batchId from the
    message attributes, and the payload's callbackUrl, so that anything seeing the final record (the
    dead-letter recorder, a table-stream consumer) can enqueue the webhook without the message."""
    extras = {}
    callback_url = callback_url_of(payload)
    if callback_url is not None and len(callback_url) <= MAX_CALLBACK_URL:
        extras["callbackUrl"] = callback_url
    priority = _attribute(record, "priority")
    if priority in PRIORITIES:
        extras["priority"] = priority
    batch_id = _attribute(record, "batchId")
    if batch_id is not None and BATCH_ID_RE.match(batch_id):
        extras["batchId"] = batch_id
    return extras


def is_batch(record: dict[str, Any]) -> bool:
    return _attribute(record, "kind") == "batch"


def run_batch(record: dict[str, Any], process_record: Callable[[dict[str, Any]], bool]) -> bool:
    import batch_jobs  # imported on use: job_processor imports this module, batch_jobs needs neither

    try:
        return batch_jobs.process_batch_record(record, process_record)
    except Exception as exc:  # AWS failed around the batch: the message comes back, finished items skip
        line = {
            "level": "ERROR",
            "event": "batch-error",
            "messageId": record.get("messageId"),
            "error": repr(exc),
        }
        print(json.dumps({**line, "time": time.time()}), file=sys.stdout, flush=True)
        return False


def after_final(client: Callable[[str], Any], table_name: str, job_id: str, payload: Any) -> bool:
    """Enqueue the job's webhook if it is final and asked for one. False: could not (retry the message)."""
    from webhook_outbox import ensure_enqueued

    if callback_url_of(payload) is None:
        return True  # no webhook asked for: no extra write
    try:
        return ensure_enqueued(client("dynamodb"), client("sqs"), table_name, job_id)
    except Exception as exc:  # SQS or DynamoDB refused: the message comes back and this runs again
        line = {"level": "ERROR", "event": "webhook-enqueue-failed", "jobId": job_id, "error": repr(exc)}
        print(json.dumps({**line, "time": time.time()}), file=sys.stdout, flush=True)
        return False


def public_fields(item: dict[str, Any]) -> dict[str, Any]:
    """What GET /status adds: priority, batchId, webhook {status, attempts, lastStatusCode}."""
    fields: dict[str, Any] = {}
    for name in ("priority", "batchId"):
        if "S" in (item.get(name) or {}):
            fields[name] = item[name]["S"]
    webhook = (item.get("webhook") or {}).get("M")
    if webhook:
        public: dict[str, Any] = {}
        for name in PUBLIC_WEBHOOK_FIELDS:
            value = webhook.get(name) or {}
            if "N" in value:
                public[name] = int(value["N"])
            elif "S" in value:
                public[name] = value["S"]
        fields["webhook"] = public
    return fields
