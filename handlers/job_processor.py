"""Job processor: drains the main queue; correct under at-least-once delivery.

- Job id from the `jobId` message attribute (as the /submit integration sends it) or from a
  {"jobId": ..., "data": ...} envelope; the client's payload is never re-encoded.
- Conditional writes make redeliveries and racing duplicates harmless.
- Partial batch responses: only the records that failed go back to the queue.
- A failing job is retried by SQS and marked failed only on its last allowed receive.
- Poison messages (not JSON, no job id) are logged and reported failed so they reach the DLQ.
- The job record (readable by anyone through GET /status) holds only the job's own error: the work
  function's exception, or "internal error (request id ...)" when AWS or the infrastructure failed.
  AWS error text can hold role ARNs and the account id, so it goes to the log only.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import job_errors  # the record's error detail, the logged traceback, the job's own output lines
import job_features  # feature hooks: priority/batchId on the record, batch messages, webhooks
import job_metrics  # one EMF line per job outcome: CloudWatch metrics from the log, no API call
import job_retries  # the retry backoff on failed records (ChangeMessageVisibility)
import schedule_runs  # scheduling hooks: a schedule's run (its envelope, scheduleId, the runs record)
from botocore.exceptions import BotoCoreError, ClientError
from handler_shared import Clients, write_log_line

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
FINAL = ("completed", "failed")
_client = Clients()  # one boto3 client per service, shared by the record threads
job_errors.note_processor_modules()  # before the work is loaded: these are not the user's code


class PoisonMessage(Exception):
    """A message no retry can fix: it goes to the DLQ untouched."""


@functools.lru_cache(maxsize=1)
def load_work() -> Any:
    """The job's work, "module:function": ASYNCAPI_WORK, else asyncapi_work.txt beside this file (written
    by asyncapi's packaging for the user's work module), else the built-in demo work."""
    packaged = os.path.join(os.path.dirname(os.path.abspath(__file__)), "asyncapi_work.txt")
    spec = os.environ.get("ASYNCAPI_WORK")
    if not spec and os.path.isfile(packaged):
        with open(packaged, encoding="utf-8") as handle:
            spec = handle.read().strip()
    module, _, function = (spec or "jobwork:run_job").partition(":")
    return getattr(importlib.import_module(module), function)


def log(level: str, event: str, **fields: Any) -> None:
    line = {"level": level, "event": event, "time": _now(), **fields}
    write_log_line(line)  # whole: a batch's records log from several threads


def _now(epoch_ms: float | None = None) -> str:
    moment = datetime.fromtimestamp(
        (epoch_ms if epoch_ms is not None else time.time() * 1000) / 1000, timezone.utc
    )
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_record(record: dict[str, Any]) -> tuple[str, Any, str]:
    """(job id, payload, createdAt) from an SQS record; PoisonMessage if it cannot be a job."""
    body = record.get("body")
    try:
        decoded = json.loads(body) if isinstance(body, str) else None
    except ValueError as exc:
        raise PoisonMessage(f"body is not JSON: {exc}") from exc
    if decoded is None:
        raise PoisonMessage("message has no body")
    attributes = record.get("messageAttributes") or {}
    job_id = (attributes.get("jobId") or {}).get("stringValue")
    payload = decoded
    if job_id is None and isinstance(decoded, dict) and "jobId" in decoded:
        job_id = decoded.get("jobId")
        payload = decoded.get("data", decoded.get("payload"))
    if job_id is None and (scheduled := schedule_runs.scheduled_job(decoded, record)):
        job_id, payload, _ = scheduled  # a schedule's run: its job id is the SQS message id
    if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
        raise PoisonMessage(f"no valid job id (got {job_id!r})")
    submitted = (attributes.get("submittedAt") or {}).get("stringValue") or decoded_timestamp(decoded)
    sent = (record.get("attributes") or {}).get("SentTimestamp")
    try:
        created_at = _now(float(submitted or sent))
    except (TypeError, ValueError):
        created_at = _now()
    return job_id, payload, created_at


def decoded_timestamp(decoded: Any) -> Any:
    return decoded.get("submittedAt") if isinstance(decoded, dict) and "jobId" in decoded else None


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


def _max_receive_count() -> int:
    try:
        return max(1, int(os.environ.get("MAX_RECEIVE_COUNT", "3")))
    except ValueError:
        return 3


def _is_conditional_failure(exc: Exception) -> bool:
    return (
        isinstance(exc, ClientError)
        and exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )


def claim(
    table_name: str, job_id: str, created_at: str, attempt: int, extras: dict[str, str] | None = None
) -> str | None:
    """Mark the job processing unless it already finished: None when claimed, else the status it
    finished with ("completed" or "failed", from the failed condition's ALL_OLD item)."""
    now = _now()
    # Feature hook: extras (priority, batchId) are stored with the claim, in the same write.
    extra_sets = "".join(f", #x{i} = :x{i}" for i in range(len(extras or {})))
    try:
        _client("dynamodb").update_item(
            TableName=table_name,
            Key={"jobId": {"S": job_id}},
            UpdateExpression=(
                "SET #s = :processing, createdAt = if_not_exists(createdAt, :created), "
                "startedAt = if_not_exists(startedAt, :now), updatedAt = :now, attempts = :attempt"
                + extra_sets
            ),
            ConditionExpression="attribute_not_exists(jobId) OR NOT (#s IN (:completed, :failed))",
            # The finished record comes back in the error (UpdateItem API reference), no read needed.
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ExpressionAttributeNames={
                "#s": "status",
                **{f"#x{i}": name for i, name in enumerate(extras or {})},
            },
            ExpressionAttributeValues={
                ":processing": {"S": "processing"},
                ":created": {"S": created_at},
                ":now": {"S": now},
                ":attempt": {"N": str(attempt)},
                ":completed": {"S": "completed"},
                ":failed": {"S": "failed"},
                **{f":x{i}": {"S": value} for i, value in enumerate((extras or {}).values())},
            },
        )
        return None
    except ClientError as exc:
        if _is_conditional_failure(exc):
            return str((exc.response.get("Item") or {}).get("status", {}).get("S") or "completed")
        raise


def finish(
    table_name: str,
    job_id: str,
    status: str,
    *,
    result_uri: str | None = None,
    error: str | None = None,
    detail: dict[str, Any] | None = None,
    attempt: int,
) -> bool:
    """Write a final (or retrying) status unless the job already finished. False: a twin got there first."""
    now = _now()
    names = {"#s": "status"}
    values: dict[str, Any] = {
        ":status": {"S": status},
        ":now": {"S": now},
        ":attempt": {"N": str(attempt)},
        ":completed": {"S": "completed"},
        ":failed": {"S": "failed"},
    }
    sets = ["#s = :status", "updatedAt = :now", "attempts = :attempt"]
    removes = []
    if status in FINAL:
        sets.append("completedAt = :now")
    if result_uri is not None:
        sets.append("#r = :result")
        names["#r"] = "result"
        values[":result"] = {"S": result_uri}
    if error is not None:
        sets.append("#e = :error")
        names["#e"] = "error"
        values[":error"] = {"S": error[:2000]}
    elif status == "completed":
        removes.extend(["#e", "errorDetail"])
        names["#e"] = "error"
    if detail is not None:  # for `asyncapi jobs show`; GET /status shows only `error`
        sets.append("errorDetail = :detail")
        values[":detail"] = {"M": {k: _attribute(v) for k, v in detail.items()}}
    elif error is not None:  # an infrastructure error now: an earlier attempt's frame no longer applies
        removes.append("errorDetail")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        _client("dynamodb").update_item(
            TableName=table_name,
            Key={"jobId": {"S": job_id}},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(jobId) AND NOT (#s IN (:completed, :failed))",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return True
    except ClientError as exc:
        if _is_conditional_failure(exc):
            return False
        raise


def _attribute(value: Any) -> dict[str, str]:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"N": str(value)}
    return {"S": str(value)[:1000]}


class WorkFailed(Exception):
    """The work function raised: its message is the job's own error, fit for the client."""


def public_error(exc: BaseException, request_id: str) -> str:
    """The error a client may see. Only the work function's own failure is shown as it is."""
    if isinstance(exc, WorkFailed) and exc.__cause__ is not None:
        cause = exc.__cause__
        # The work may itself call AWS: that text is infrastructure detail, not the job's error.
        if not isinstance(cause, (ClientError, BotoCoreError)):
            return f"{type(cause).__name__}: {cause}"
    return f"internal error (request id {request_id})"


_output = job_errors.JobOutput(write_log_line, _now)


def run_work(payload: Any, job_id: str = "-") -> Any:
    """The user's work, its print and logging lines tagged with the job id."""
    try:
        with _output.job(job_id):
            return load_work()(payload)
    except Exception as exc:
        raise WorkFailed(str(exc)) from exc


def process_record(record: dict[str, Any], request_id: str = "-") -> bool:
    """True when the record is done with (success, or a duplicate of a finished job)."""
    message_id = record.get("messageId", "?")
    table_name = os.environ["JOBS_TABLE_NAME"]
    bucket = os.environ["RESULTS_BUCKET_NAME"]
    attempt = _receive_count(record)
    if job_features.is_batch(record):  # feature hook: a batch message runs its items (batch_jobs)
        return job_features.run_batch(record, process_record)
    try:
        job_id, payload, created_at = parse_record(record)
    except PoisonMessage as exc:
        log("ERROR", "poison-message", messageId=message_id, attempt=attempt, error=str(exc))
        return False
    started_ms: float | None = None  # set once the work starts: a job failed before it has no metrics
    extras: dict[str, Any] = {}
    try:
        extras = {**job_features.record_extras(record, payload), **schedule_runs.record_extras(record)}
        finished = claim(table_name, job_id, created_at, attempt, extras)
        if finished is not None:
            log(
                "INFO",
                "duplicate-delivery",
                jobId=job_id,
                messageId=message_id,
                attempt=attempt,
                outcome="skipped",
                status=finished,
            )
            # Feature hook: a crash after the final write but before the webhook was queued is
            # repaired here, by the redelivery.
            handled = job_features.after_final(_client, table_name, job_id, payload)
            # A late twin of an earlier attempt (its visibility ran out while it ran) of a job that has
            # since failed for good: acknowledging it would delete the message the DLQ must keep (for
            # `dlq redrive`). Reported failed, it goes on to the DLQ after its last receive.
            return handled and finished != "failed"
        if schedule_id := schedule_runs.schedule_id_of(record):
            schedule_runs.record_run(_client("dynamodb"), table_name, job_id, schedule_id)
        log("INFO", "job-started", jobId=job_id, messageId=message_id, attempt=attempt)
        started_ms = time.time() * 1000
        result = run_work(payload, job_id)
        key = f"results/{job_id}.json"
        document = {"jobId": job_id, "completedAt": _now(), "result": result}
        _client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8"),
            ContentType="application/json; charset=utf-8",
        )
        won = finish(table_name, job_id, "completed", result_uri=f"s3://{bucket}/{key}", attempt=attempt)
        log(
            "INFO",
            "job-completed",
            jobId=job_id,
            attempt=attempt,
            outcome="completed" if won else "duplicate",
        )
        if won:
            _metrics("completed", extras, started_ms, created_at)
        return job_features.after_final(_client, table_name, job_id, payload)  # feature hook: webhook
    except Exception as exc:  # the job or AWS failed: retry, or fail for good on the last receive
        error = public_error(exc, request_id)
        work_failed = isinstance(exc, WorkFailed) and exc.__cause__ is not None
        detail = exc.__cause__ if work_failed and exc.__cause__ is not None else exc
        last = attempt >= _max_receive_count()
        status = "failed" if last else "retrying"
        where = job_errors.error_detail(detail) if work_failed else None
        log(
            "ERROR",
            "job-error",
            jobId=job_id,
            attempt=attempt,
            outcome=status,
            requestId=request_id,
            error=f"{type(detail).__name__}: {detail}",
            # As Lambda's runtime logs an unhandled error: the traceback, here with the job's id.
            traceback=job_errors.format_traceback(detail),
            at=job_errors.location(where),
        )
        try:
            finish(table_name, job_id, status, error=error, detail=where, attempt=attempt)
        except (ClientError, BotoCoreError) as record_exc:
            log("ERROR", "status-write-failed", jobId=job_id, attempt=attempt, error=str(record_exc))
        if last:  # feature hook: a job failed for good announces it (the DLQ recorder repairs a miss)
            job_features.after_final(_client, table_name, job_id, payload)
            if started_ms is not None:
                _metrics("failed", extras, started_ms, created_at)
        return False


def _metrics(outcome: str, extras: dict[str, Any], started_ms: float, created_at: str) -> None:
    priority = extras.get("priority") or "normal"  # the default priority (features/priorities.py)
    job_metrics.emit(
        outcome=outcome,
        priority=priority,
        started_ms=started_ms,
        finished_ms=time.time() * 1000,
        created_at=created_at,
    )


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    records = event.get("Records") or []
    if not records:
        return {"batchItemFailures": []}
    request_id = str(getattr(context, "aws_request_id", None) or "-")
    # Records run concurrently: ten slow jobs take about as long as one.
    with ThreadPoolExecutor(max_workers=min(10, len(records))) as pool:
        outcomes = list(pool.map(lambda record: process_record(record, request_id), records))
    failed = [record for record, ok in zip(records, outcomes, strict=True) if not ok]
    job_retries.back_off(_client, failed, _receive_count, log)  # each comes back at the backoff
    failures = [{"itemIdentifier": record.get("messageId", "")} for record in failed]
    log("INFO", "batch-done", records=len(records), failed=len(failures))
    return {"batchItemFailures": failures}
