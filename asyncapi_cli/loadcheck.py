"""Load with reconciliation: submit many jobs (some failing, some poison), then account for every one.

Every accepted job must end either `completed` with its result object in S3, or `failed` with its
message in the dead-letter queue: none lost, none duplicated, none stuck.

A dead-lettered message takes one more hop (secure_api.py): main queue -> dead-letter inbox -> the
recorder (marks the job failed, reason `dead-lettered`, unless it already ended) -> re-sent to the DLQ
as a new message with `deadLetterRecorded` = its original id. The recorder sends the copy before the
inbox message is deleted, so once the inbox is empty (visible and in flight) every copy is in the DLQ.
Settling waits for that; a message still in the inbox at the end is stuck, and two DLQ copies of one
original message (or of one job) are duplicates.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from .clients.jobs import submit as submit_job
from .retry import Pacer, wait_until

INBOX_KEY = "dlq_inbox"  # secure_api.DLQ_INBOX: the queue the main queue's redrive policy targets
RECORDED_ATTRIBUTE = "deadLetterRecorded"  # handlers/dead_letter_recorder.py: the original message id


@dataclass
class LoadReport:
    requested: int = 0
    accepted: int = 0
    rejected: int = 0
    completed: int = 0
    failed: int = 0
    in_dlq: int = 0
    poison_sent: int = 0
    poison_in_dlq: int = 0
    lost: int = 0
    duplicates: int = 0
    stuck: int = 0
    submit_seconds: float = 0.0
    wall_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicates == 0
            and self.stuck == 0
            and self.rejected == 0
            and self.poison_in_dlq == self.poison_sent
            and self.completed + self.failed == self.accepted
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def payload_for(index: int, fail_every: int) -> dict[str, Any]:
    failing = fail_every > 0 and index % fail_every == 0
    return {"index": index, "text": f"job {index} & co: 100% ünïcode", "fail": failing}


def run_load(
    stack: Any,
    *,
    jobs: int,
    concurrency: int,
    fail_every: int = 20,
    poison: int = 3,
    timeout: float = 600.0,
    pacer: Pacer | None = None,
) -> LoadReport:
    pacer = pacer or Pacer()
    outputs, resources = stack.state.outputs, stack.state.resources
    submit_url = outputs["submit_url"]
    report = LoadReport(requested=jobs, poison_sent=poison)
    started = time.monotonic()
    accepted: dict[str, int] = {}
    failures: list[str] = []

    def submit(index: int) -> None:
        try:
            job_id, _ = submit_job(submit_url, payload_for(index, fail_every))
            accepted[job_id] = index
        except Exception as exc:
            failures.append(str(exc))

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(submit, range(jobs)))
    sqs = stack.clients("sqs")
    for number in range(poison):
        sqs.send_message(QueueUrl=resources["main_queue"]["url"], MessageBody=f"{{poison {number}: not json")
    report.submit_seconds = round(time.monotonic() - started, 3)
    report.accepted, report.rejected = len(accepted), len(failures)
    report.problems.extend(failures[:3])
    if len(accepted) != jobs - len(failures):
        report.duplicates += jobs - len(failures) - len(accepted)  # two submissions got one job id
        report.problems.append(f"{jobs - len(failures) - len(accepted)} job ids answered twice")

    table = resources["table"]["name"]
    dynamodb = stack.clients("dynamodb")

    def statuses() -> dict[str, str]:
        found: dict[str, str] = {}
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page.get("Items", []):
                found[item["jobId"]["S"]] = item.get("status", {}).get("S", "")
        return found

    inbox_url = (resources.get(INBOX_KEY) or {}).get("url")
    queue_urls = [resources["main_queue"]["url"]] + ([inbox_url] if inbox_url else [])

    dlq_url = resources["dlq"]["url"]

    def settled() -> bool:
        if any(_depth(sqs, url) for url in queue_urls):  # still queued, or on its way to the DLQ
            return False
        current = statuses()
        if not all(current.get(job_id) in ("completed", "failed") for job_id in accepted):
            return False
        # A failed job's message and the poison reach the DLQ after their last receive (through the
        # inbox and the recorder): a record can be final while its message is still on its way.
        failed = sum(1 for job_id in accepted if current.get(job_id) == "failed")
        return _depth(sqs, dlq_url) >= failed + poison

    try:
        wait_until(settled, pacer=pacer, what="every job to settle", timeout=timeout, base=0.5, cap=2.0)
    except Exception as exc:
        depths = {name: _depth(sqs, url) for name, url in (("main", queue_urls[0]), ("dlq", dlq_url))}
        if inbox_url:
            depths["inbox"] = _depth(sqs, inbox_url)
        report.problems.append(f"{exc} (messages: {depths})")
    final = statuses()
    results = _result_keys(stack)
    dlq_jobs, poison_found, copies = _drain_dlq(stack)
    if inbox_url and (left := _depth(sqs, inbox_url)):
        report.stuck += left
        report.problems.append(f"{left} messages still in the dead-letter inbox (not recorded/forwarded)")
    forwarded_twice = sum(count - 1 for count in copies.values() if count > 1)
    if forwarded_twice:
        report.duplicates += forwarded_twice
        report.problems.append(f"{forwarded_twice} DLQ copies of an already forwarded message")
    for job_id in accepted:
        status = final.get(job_id)
        if status == "completed":
            report.completed += 1
            if job_id not in results:
                report.lost += 1
                report.problems.append(f"{job_id}: completed without a result object")
        elif status == "failed":
            report.failed += 1
            if dlq_jobs[job_id] == 0:
                report.lost += 1
                report.problems.append(f"{job_id}: failed but not in the DLQ")
        elif status in ("processing", "retrying"):
            report.stuck += 1
        else:
            report.lost += 1
            report.problems.append(f"{job_id}: never processed")
    report.in_dlq = sum(dlq_jobs.values())
    report.duplicates += sum(count - 1 for count in dlq_jobs.values() if count > 1)
    report.duplicates += sum(1 for job_id in dlq_jobs if final.get(job_id) == "completed")
    report.poison_in_dlq = poison_found
    if poison_found != poison:
        report.problems.append(f"{poison_found} of {poison} poison messages in the DLQ")
    if report.stuck:
        report.problems.append(f"{report.stuck} jobs still processing or retrying")
    if completed_in_dlq := sorted(job_id for job_id in dlq_jobs if final.get(job_id) == "completed"):
        report.problems.append(f"completed jobs in the DLQ: {', '.join(completed_in_dlq[:3])}")
    unknown = set(final) - set(accepted)
    if unknown:
        report.duplicates += len(unknown)
        report.problems.append(f"{len(unknown)} records for job ids never accepted")
    report.wall_seconds = round(time.monotonic() - started, 3)
    return report


def _result_keys(stack: Any) -> set[str]:
    s3 = stack.clients("s3")
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.ctx.names.bucket, Prefix="results/"
    ):
        for item in page.get("Contents", []):
            keys.add(item["Key"].removeprefix("results/").removesuffix(".json"))
    return keys


def _depth(sqs: Any, url: str) -> int:
    depth = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(depth["ApproximateNumberOfMessages"]) + int(depth["ApproximateNumberOfMessagesNotVisible"])


def _drain_dlq(stack: Any) -> tuple[Counter[str], int, Counter[str]]:
    """Job ids of the DLQ's messages (read with a long visibility, so each is seen once), the poison
    count, and how many copies of each original message (the recorder's `deadLetterRecorded` mark)."""
    sqs = stack.clients("sqs")
    url = stack.state.resources["dlq"]["url"]
    jobs: Counter[str] = Counter()
    copies: Counter[str] = Counter()
    poison = 0
    empty_rounds = 0
    while empty_rounds < 2:  # short polls sample servers: one more try before calling it empty
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300, MessageAttributeNames=["All"]
        ).get("Messages", [])
        empty_rounds = 0 if messages else empty_rounds + 1
        for message in messages:
            attributes = message.get("MessageAttributes") or {}
            job_id = attributes.get("jobId", {}).get("StringValue")
            if job_id:
                jobs[job_id] += 1
            else:
                poison += 1
            copies[attributes.get(RECORDED_ATTRIBUTE, {}).get("StringValue") or message["MessageId"]] += 1
    return jobs, poison, copies


def render(report: LoadReport) -> str:
    return json.dumps(report.to_json(), indent=2)
