"""Webhook notifier: consumes `<name>-webhooks` (SQS mapping, ReportBatchItemFailures), POSTs each delivery.

Per delivery (one SQS message; ApproximateReceiveCount is the attempt number):
- gate: the job record's webhook must still be pending with this delivery id (else: already done, skip);
- the callback URL is resolved and every address checked (webhook_http); refused -> recorded, dropped;
- the body is signed with the stack's secret (Secrets Manager, cached per container) and POSTed;
- 2xx -> delivered. Otherwise the message's visibility is set to an exponential backoff with full
  jitter and the item is reported failed; SQS redelivers it. The last attempt (MAX_ATTEMPTS) records
  `failed` and the queue's redrive policy (maxReceiveCount = MAX_ATTEMPTS) moves it to the webhook DLQ.

Environment: JOBS_TABLE_NAME, WEBHOOK_QUEUE_URL, WEBHOOK_SECRET_ARN (an ARN, never the secret),
RESULTS_BUCKET_NAME (optional, for resultUrl), WEBHOOK_BACKOFF_SCALE (default 1; the embedded AWS
scales the delays down), ASYNCAPI_ALLOW_LOOPBACK_CALLBACKS=1 (embedded AWS only).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.exceptions import ClientError
from webhook_http import Answer, Refused, Resolver, Target, check_url, post, sign, system_resolver

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 60.0  # caps 60, 120, ... 3,840 s: ~2.1 h at most, ~1.06 h expected in all
MAX_VISIBILITY_SECONDS = 43_200  # SQS's ChangeMessageVisibility ceiling (12 h)
RESULT_URL_SECONDS = 900
USER_AGENT = "asyncapi-webhooks/1"


def backoff_delay(attempt: int, *, scale: float = 1.0, uniform: Callable[[float, float], float]) -> int:
    """Seconds before attempt `attempt + 1`: full jitter, uniform(0, base * 2^(attempt-1)), scaled."""
    cap = BACKOFF_BASE_SECONDS * (2 ** max(0, attempt - 1))
    return max(0, min(MAX_VISIBILITY_SECONDS, math.ceil(uniform(0.0, cap) * scale)))


@dataclass
class Deps:
    """Side effects, injected: AWS clients, clock, randomness, DNS and HTTP."""

    clients: Callable[[str], Any]
    clock: Callable[[], float] = time.time
    uniform: Callable[[float, float], float] = random.uniform
    resolve: Resolver = system_resolver
    send: Callable[[Target, bytes, dict[str, str]], Answer] = post
    _secret: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def secret(self, arn: str) -> str:
        """The signing secret, read once per container (never from or into the environment)."""
        with self._lock:
            if arn not in self._secret:
                answer = self.clients("secretsmanager").get_secret_value(SecretId=arn)
                self._secret[arn] = str(answer["SecretString"])
            return self._secret[arn]


_client_cache: dict[str, Any] = {}
_client_lock = threading.Lock()


def _default_client(service: str) -> Any:
    with _client_lock:
        if service not in _client_cache:
            _client_cache[service] = boto3.client(service)
        return _client_cache[service]


DEFAULT_DEPS = Deps(clients=_default_client)


def log(level: str, event: str, **fields: Any) -> None:
    line = {"level": level, "event": event, "time": _iso(time.time()), **fields}
    print(json.dumps(line, default=str, ensure_ascii=False), file=sys.stdout, flush=True)


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value >= 0 and math.isfinite(value) else default


def event_body(message: dict[str, Any], result_url: str | None) -> dict[str, Any]:
    """The documented delivery body: jobId, status, completedAt|failedAt, resultUrl?, error?."""
    status = message["status"]
    body: dict[str, Any] = {"jobId": message["jobId"], "status": status}
    body["completedAt" if status == "completed" else "failedAt"] = message.get("finishedAt")
    if result_url:
        body["resultUrl"] = result_url
    if status == "failed" and message.get("error"):
        body["error"] = message["error"]
    return body


def _result_url(deps: Deps, message: dict[str, Any]) -> str | None:
    uri = message.get("result")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not key or bucket != os.environ.get("RESULTS_BUCKET_NAME", bucket):
        return None
    return str(
        deps.clients("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=RESULT_URL_SECONDS
        )
    )


def _update_webhook(
    deps: Deps,
    job_id: str,
    delivery_id: str,
    sets: dict[str, Any],
    *,
    require_pending: bool = True,
) -> bool:
    """SET webhook.<field> for this delivery; False when the record is no longer this pending delivery."""
    names = {"#st": "status"}
    values: dict[str, Any] = {":id": {"S": delivery_id}, ":pending": {"S": "pending"}}
    parts = []
    for index, (name, value) in enumerate(sets.items()):
        names[f"#f{index}"] = name
        values[f":v{index}"] = (
            {"N": str(value)} if isinstance(value, int) and not isinstance(value, bool) else {"S": str(value)}
        )
        parts.append(f"webhook.#f{index} = :v{index}")
    condition = "webhook.deliveryId = :id" + (" AND webhook.#st = :pending" if require_pending else "")
    try:
        deps.clients("dynamodb").update_item(
            TableName=os.environ["JOBS_TABLE_NAME"],
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET " + ", ".join(parts),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def _attempt(record: dict[str, Any]) -> int:
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


def deliver(record: dict[str, Any], deps: Deps) -> bool:
    """One SQS record. True: done with it (delivered, refused, skipped, failed for good and recorded
    on a message SQS will dead-letter). False: report it failed so SQS retries it after the backoff."""
    attempt = _attempt(record)
    try:
        message = json.loads(record.get("body") or "")
        delivery_id, job_id = str(message["deliveryId"]), str(message["jobId"])
    except (ValueError, KeyError, TypeError):
        log("ERROR", "webhook-poison", messageId=record.get("messageId"), attempt=attempt)
        return False  # malformed: leave it to the DLQ for inspection
    where = {"jobId": job_id, "deliveryId": delivery_id, "attempt": attempt}
    now = deps.clock()
    if not _update_webhook(deps, job_id, delivery_id, {"attempts": attempt, "lastAttemptAt": _iso(now)}):
        log("INFO", "webhook-skipped", outcome="not-pending", **where)
        return True
    allow_loopback = os.environ.get("ASYNCAPI_ALLOW_LOOPBACK_CALLBACKS") == "1"
    try:
        target = check_url(message.get("callbackUrl"), allow_loopback=allow_loopback, resolve=deps.resolve)
    except Refused as exc:
        _update_webhook(deps, job_id, delivery_id, {"status": "refused", "reason": str(exc)})
        log("WARNING", "webhook-refused", reason=str(exc), **where)
        return True
    status = message.get("status")
    body = json.dumps(event_body(message, _result_url(deps, message)), ensure_ascii=False).encode("utf-8")
    timestamp = int(now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Asyncapi-Event": f"job.{status}",
        "X-Asyncapi-Delivery": delivery_id,
        "X-Asyncapi-Timestamp": str(timestamp),
        "X-Asyncapi-Signature": sign(
            deps.secret(os.environ["WEBHOOK_SECRET_ARN"]), timestamp, delivery_id, body
        ),
    }
    answer = deps.send(target, body, headers)
    if answer.status is not None and 200 <= answer.status < 300:
        _update_webhook(deps, job_id, delivery_id, {"status": "delivered", "lastStatusCode": answer.status})
        log("INFO", "webhook-delivered", statusCode=answer.status, **where)
        return True
    outcome: dict[str, Any] = {}
    if answer.status is not None:
        outcome["lastStatusCode"] = answer.status
    else:
        outcome["lastError"] = answer.error or "no answer"
    last = attempt >= MAX_ATTEMPTS
    if last:
        outcome["status"] = "failed"
    _update_webhook(deps, job_id, delivery_id, outcome)
    delay = (
        0
        if last
        else backoff_delay(attempt, scale=_env_float("WEBHOOK_BACKOFF_SCALE", 1.0), uniform=deps.uniform)
    )
    # The last attempt comes back at once so SQS's redrive moves it to the DLQ on the next receive.
    deps.clients("sqs").change_message_visibility(
        QueueUrl=os.environ["WEBHOOK_QUEUE_URL"],
        ReceiptHandle=record["receiptHandle"],
        VisibilityTimeout=delay,
    )
    log(
        "WARNING",
        "webhook-attempt-failed",
        statusCode=answer.status,
        error=answer.error,
        retryIn=None if last else delay,
        outcome="failed" if last else "retrying",
        **where,
    )
    return False


def handle(event: dict[str, Any], deps: Deps) -> dict[str, Any]:
    records = event.get("Records") or []
    if not records:
        return {"batchItemFailures": []}

    def safe(record: dict[str, Any]) -> bool:
        try:
            return deliver(record, deps)
        except Exception as exc:  # an AWS error: retry the message after its visibility timeout
            log("ERROR", "webhook-error", messageId=record.get("messageId"), error=type(exc).__name__)
            return False

    # Deliveries run concurrently: one slow receiver (up to the 10 s timeout) does not hold up the rest.
    with ThreadPoolExecutor(max_workers=min(10, len(records))) as pool:
        outcomes = list(pool.map(safe, records))
    return {
        "batchItemFailures": [
            {"itemIdentifier": record.get("messageId", "")}
            for record, ok in zip(records, outcomes, strict=True)
            if not ok
        ]
    }


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return handle(event, DEFAULT_DEPS)
