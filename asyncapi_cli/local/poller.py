"""SQS event source mappings, executed: long-poll, batch (size and window), invoke, delete successes.

As on AWS: a function error leaves the whole batch to come back after the visibility timeout; with
ReportBatchItemFailures only the listed records come back; SQS redrives to the DLQ after
maxReceiveCount receives. Messages are never deleted for a failed invocation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .lambda_runtime import InvokeResult

log = logging.getLogger("asyncapi.local.poller")


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

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]


def to_record(message: dict[str, Any], spec: MappingSpec) -> dict[str, Any]:
    """An SQS message as Lambda's SQS event record."""
    attributes = {
        key: message.get("Attributes", {}).get(key)
        for key in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
        )
        if key in message.get("Attributes", {})
    }
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    for value in message_attributes.values():
        for key in ("stringValue", "binaryValue"):
            if value[key] is None:
                del value[key]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": spec.queue_arn,
        "awsRegion": spec.region,
    }


def failed_ids(result: InvokeResult, batch: list[dict[str, Any]], report_failures: bool) -> set[str]:
    """Message ids to leave on the queue after an invocation."""
    every = {m["MessageId"] for m in batch}
    if not result.ok:
        return every
    if not report_failures:
        return set()
    payload = result.payload
    if payload is None:
        return set()
    try:
        items = payload["batchItemFailures"]
        listed = {str(item["itemIdentifier"]) for item in items}
    except (TypeError, KeyError):
        return every  # a malformed response fails the whole batch, as on AWS
    if not listed <= every or "" in listed:
        return every
    return listed


class MappingPoller(threading.Thread):
    def __init__(
        self,
        spec: MappingSpec,
        sqs: Any,
        queue_url: str,
        invoke: Callable[[str, str, str, Any], InvokeResult],
    ) -> None:
        super().__init__(daemon=True, name=f"poller-{spec.uuid[:8]}")
        self.spec = spec
        self._sqs = sqs
        self._queue_url = queue_url
        self._invoke = invoke
        self.stopping = threading.Event()
        self.invocations = 0

    def _receive(self, count: int, wait: float) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=max(1, min(10, count)),
            WaitTimeSeconds=max(0, int(wait)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def run(self) -> None:
        # The manager stops this poller when its mapping is disabled, changed or deleted.
        while not self.stopping.is_set():
            try:
                self._poll_once()
            except Exception as exc:  # the queue was deleted, moto restarted...: back off, re-check
                log.warning("poller %s: %s", self.spec.uuid, exc)
                self.stopping.wait(1.0)

    def _poll_once(self) -> None:
        batch = self._receive(self.spec.batch_size, 1)
        if not batch:
            return
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


def enabled_mappings() -> dict[str, MappingSpec]:
    """Every enabled SQS mapping in the control plane (moto, in this process)."""
    from moto.awslambda.models import lambda_backends

    found: dict[str, MappingSpec] = {}
    for account, regions in list(lambda_backends.items()):
        for region, backend in list(regions.items()):
            for uuid, esm in list(getattr(backend, "_event_source_mappings", {}).items()):
                arn = esm.event_source_arn
                if not esm.enabled or ":sqs:" not in arn:
                    continue
                found[uuid] = MappingSpec(
                    uuid=uuid,
                    account=account,
                    region=region,
                    queue_arn=arn,
                    function_name=esm.function_arn.rsplit(":", 1)[-1],
                    batch_size=int(esm.batch_size or 10),
                    batching_window=float(esm.max_batch_window or 0),
                    report_failures="ReportBatchItemFailures" in (esm.function_response_types or []),
                )
    return found


class PollerManager(threading.Thread):
    """Starts a poller per enabled mapping and stops it when the mapping goes or changes."""

    def __init__(
        self, endpoint: str, invoke: Callable[[str, str, str, Any], InvokeResult], interval: float = 0.5
    ) -> None:
        super().__init__(daemon=True, name="poller-manager")
        self._endpoint = endpoint
        self._invoke = invoke
        self._interval = interval
        self._pollers: dict[str, MappingPoller] = {}
        self.stopping = threading.Event()

    def _client(self, region: str) -> Any:
        import boto3

        return boto3.client(
            "sqs",
            region_name=region,
            endpoint_url=self._endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._sync()
            except Exception as exc:
                log.warning("poller manager: %s", exc)
            self.stopping.wait(self._interval)
        for poller in self._pollers.values():
            poller.stopping.set()

    def _sync(self) -> None:
        current = enabled_mappings()
        for uuid, poller in list(self._pollers.items()):
            if current.get(uuid) != poller.spec or not poller.is_alive():
                poller.stopping.set()
                del self._pollers[uuid]
        for uuid, spec in current.items():
            if uuid in self._pollers:
                continue
            sqs = self._client(spec.region)
            try:
                url = sqs.get_queue_url(QueueName=spec.queue_name, QueueOwnerAWSAccountId=spec.account)[
                    "QueueUrl"
                ]
            except Exception:
                continue  # the queue does not exist (yet); try again next round

            poller = MappingPoller(spec, sqs, url, self._invoke)
            self._pollers[uuid] = poller
            poller.start()
