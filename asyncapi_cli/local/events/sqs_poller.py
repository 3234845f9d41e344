"""SQS event source mappings, executed: long-poll, batch (size and window), invoke, delete successes.

As on AWS ("Using Lambda with Amazon SQS", docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
several pollers per mapping run batches concurrently (5 to start, scaling up while batches come back
full), capped by the mapping's ScalingConfig.MaximumConcurrency, the function's reserved concurrency
and the account limit. A function error leaves the whole batch to come back after the visibility
timeout; with ReportBatchItemFailures only the listed records come back; SQS redrives to the DLQ
after maxReceiveCount receives. Messages are never deleted for a failed invocation.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..lambda_.runtime import InvokeResult

log = logging.getLogger("asyncapi.local.poller")

INITIAL_POLLERS = 5  # AWS: "Lambda starts with five concurrent batches"
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)


@dataclass(frozen=True)
class MappingSpec:
    uuid: str
    account: str
    region: str
    queue_arn: str
    function_name: str
    batch_size: int
    batching_window: float
    report_failures: bool
    max_concurrency: int | None = None

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]


def to_record(message: dict[str, Any], spec: MappingSpec) -> dict[str, Any]:
    """An SQS message as Lambda's SQS event record (with-sqs.html, "Example standard/FIFO queue
    message event")."""
    received = message.get("Attributes") or {}
    attributes = {key: received[key] for key in RECORD_ATTRIBUTES if key in received}
    message_attributes: dict[str, Any] = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        item: dict[str, Any] = {}
        if value.get("StringValue") is not None:
            item["stringValue"] = value["StringValue"]
        if value.get("BinaryValue") is not None:
            binary = value["BinaryValue"]
            # Lambda delivers binary attributes base64-encoded (the event is JSON).
            item["binaryValue"] = (
                base64.b64encode(binary).decode("ascii") if isinstance(binary, (bytes, bytearray)) else binary
            )
        item.update({"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")})
        message_attributes[name] = item
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": spec.queue_arn, "awsRegion": spec.region})
    return record


def failed_ids(result: InvokeResult, batch: list[dict[str, Any]], report_failures: bool) -> set[str]:
    """Message ids to leave on the queue after an invocation.

    "Handling errors for an SQS event source" (services-sqs-errorhandling.html), success and failure
    conditions: an empty or null batchItemFailures list, an empty or null response is complete success;
    an empty or null itemIdentifier, a bad key name, an id not in the batch, or a response that is not
    an event response at all, complete failure.
    """
    every = {m["MessageId"] for m in batch}
    if not result.ok:
        return every
    if not report_failures:
        return set()
    payload = result.payload
    if not payload:  # null, {}, [] or "": nothing reported failed
        return set()
    if not isinstance(payload, dict):
        return every
    items = payload.get("batchItemFailures")
    if not items:
        return set()
    if not isinstance(items, list):
        return every
    listed: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("itemIdentifier"), str):
            return every
        identifier = item["itemIdentifier"]
        if identifier == "" or identifier not in every:
            return every
        listed.add(identifier)
    return listed


Invoke = Callable[[str, str, str, Any], InvokeResult]


class MappingPoller:
    """The pollers of one mapping: threads that each receive a batch, invoke, and delete what succeeded."""

    def __init__(self, spec: MappingSpec, sqs: Any, queue_url: str, invoke: Invoke, cap: int) -> None:
        self.spec = spec
        self._sqs = sqs
        self._queue_url = queue_url
        self._invoke = invoke
        self.cap = cap
        self.stopping = threading.Event()
        self.invocations = 0
        self.busy = 0
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # One poller gathers a batch at a time (its batching window); the others wait for it, then
        # batches run concurrently. Without it, messages sent within one window were split between
        # pollers long-polling at once: several small invocations where AWS makes one.
        self._gathering = threading.Lock()

    def start(self) -> None:
        with self._lock:  # a first poller scaling up must not race the initial ones past the cap
            for _ in range(min(INITIAL_POLLERS, self.cap)):
                self._add_poller()

    def _add_poller(self) -> None:
        index = len(self._threads)
        thread = threading.Thread(
            target=self._run, args=(index,), daemon=True, name=f"poller-{self.spec.uuid[:8]}"
        )
        self._threads.append(thread)
        thread.start()

    @property
    def pollers(self) -> int:
        with self._lock:
            return sum(1 for t in self._threads if t.is_alive())

    def is_alive(self) -> bool:
        return not self.stopping.is_set()

    def _run(self, index: int) -> None:
        idle_rounds = 0
        while not self.stopping.is_set():
            try:
                worked = self._poll_once()
            except Exception as exc:  # the queue was deleted, the function vanished...: back off, re-check
                log.warning("poller %s: %s", self.spec.uuid, exc)
                self.stopping.wait(1.0)
                continue
            idle_rounds = 0 if worked else idle_rounds + 1
            if index >= INITIAL_POLLERS and idle_rounds >= 3:  # scale back down when the queue is drained
                with self._lock:
                    self._threads = [t for t in self._threads if t is not threading.current_thread()]
                return

    def _receive(self, count: int, wait: float) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=max(1, min(10, count)),
            WaitTimeSeconds=max(0, int(wait)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _gather(self) -> list[dict[str, Any]]:
        """One batch: up to batch_size messages, or what arrived within the batching window after the
        first ("Batching behavior", with-sqs.html: Lambda invokes when the batch is full, the window
        ends, or the payload reaches 6 MB)."""
        while not self._gathering.acquire(timeout=1.0):
            if self.stopping.is_set():
                return []
        try:
            batch = self._receive(self.spec.batch_size, 1)
            if not batch:
                return []
            deadline = time.monotonic() + self.spec.batching_window
            while len(batch) < self.spec.batch_size and not self.stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                more = self._receive(self.spec.batch_size - len(batch), 0)
                if more:
                    batch.extend(more)
                else:
                    self.stopping.wait(min(0.2, remaining))
            return batch
        finally:
            self._gathering.release()

    def _poll_once(self) -> bool:
        batch = self._gather()
        if not batch:
            return False
        with self._lock:
            self.busy += 1
            # Scale up while every poller is busy and batches come back full.
            if (
                self.busy >= len(self._threads)
                and len(self._threads) < self.cap
                and len(batch) >= min(self.spec.batch_size, 10)
            ):
                self._add_poller()
        try:
            self._process(batch)
        finally:
            with self._lock:
                self.busy -= 1
        return True

    def _process(self, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [to_record(m, self.spec) for m in batch]}
        result = self._invoke(self.spec.account, self.spec.region, self.spec.function_name, event)
        self.invocations += 1
        if not result.ok:
            log.warning(
                "function %s failed: %s %s", self.spec.function_name, result.error_type, result.error_message
            )
        keep = failed_ids(result, batch, self.spec.report_failures)
        done = [m for m in batch if m["MessageId"] not in keep]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + 10])
            ]
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)
