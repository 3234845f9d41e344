"""DynamoDB Streams event source mappings, executed against moto's table stream in this process.

As on AWS ("Using AWS Lambda with Amazon DynamoDB", docs.aws.amazon.com/lambda/latest/dg/with-ddb.html,
and "Configuring partial batch response with DynamoDB and Lambda", services-ddb-batchfailurereporting.html):
records are read in order from StartingPosition (TRIM_HORIZON or LATEST), BatchSize at a time; a
batch is retried until it succeeds or MaximumRetryAttempts is spent (-1: until the record expires,
here: for ever), then skipped; BisectBatchOnFunctionError splits a failing batch in two and retries
each half; with ReportBatchItemFailures the batch is checkpointed before the lowest reported
SequenceNumber and only the records from there are retried. A skipped batch is described in the
mapping's on-failure destination (an SQS queue), in the record AWS sends ("Retaining discarded batches
for a DynamoDB event source": requestContext.condition RetryAttemptsExhausted, DDBStreamBatchInfo with
the shard, the first and last sequence numbers, the batch size and the stream ARN).
"""

from __future__ import annotations

import calendar
import copy
import datetime
import json
import logging
import threading
import uuid as uuids
from dataclasses import dataclass
from typing import Any

from ..compat.registry import REGISTRY, Patch, register
from ..lambda_.runtime import InvokeResult

log = logging.getLogger("asyncapi.local.poller")


@dataclass(frozen=True)
class StreamMappingSpec:
    uuid: str
    account: str
    region: str
    stream_arn: str
    function_name: str
    batch_size: int
    batching_window: float
    starting_position: str
    max_retry_attempts: int
    bisect_on_error: bool
    report_failures: bool
    start_index: int | None = None  # LATEST: the shard's length when the mapping was created
    on_failure: str | None = None  # DestinationConfig.OnFailure.Destination (an SQS queue ARN)

    @property
    def table_name(self) -> str:
        return self.stream_arn.split(":table/", 1)[1].split("/stream/", 1)[0]


def to_stream_record(record: dict[str, Any], spec: StreamMappingSpec) -> dict[str, Any]:
    """moto's stream record as Lambda's DynamoDB event record (with-ddb.html "Example event")."""
    shaped = copy.deepcopy(record)
    shaped["awsRegion"] = spec.region
    shaped["eventSourceARN"] = spec.stream_arn
    created = shaped.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):  # moto keeps a naive UTC datetime; AWS sends epoch seconds
        shaped["dynamodb"]["ApproximateCreationDateTime"] = float(calendar.timegm(created.utctimetuple()))
    return shaped


def on_failure_record(
    spec: StreamMappingSpec, records: list[dict[str, Any]], invocations: int, result: InvokeResult
) -> dict[str, Any]:
    """What Lambda sends to a stream mapping's on-failure destination for a skipped batch."""

    def arrival(record: dict[str, Any]) -> str:
        moment = datetime.datetime.fromtimestamp(
            float(record.get("dynamodb", {}).get("ApproximateCreationDateTime") or 0), datetime.timezone.utc
        )
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    now = datetime.datetime.now(datetime.timezone.utc)
    first, last = records[0], records[-1]
    return {
        "requestContext": {
            "requestId": str(uuids.uuid4()),
            "functionArn": f"arn:aws:lambda:{spec.region}:{spec.account}:function:{spec.function_name}",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invocations,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            **({} if result.ok else {"functionError": "Unhandled"}),
        },
        "version": "1.0",
        "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000000000000000000-00000000",
            "startSequenceNumber": first.get("dynamodb", {}).get("SequenceNumber"),
            "endSequenceNumber": last.get("dynamodb", {}).get("SequenceNumber"),
            "approximateArrivalOfFirstRecord": arrival(first),
            "approximateArrivalOfLastRecord": arrival(last),
            "batchSize": len(records),
            "streamArn": spec.stream_arn,
        },
    }


def send_to_queue(queue_arn: str, body: str) -> None:
    """SendMessage to a queue of this process's moto (the embedded AWS's own backend)."""
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = queue_arn.split(":", 5)
    sqs_backends[account][region].send_message(name, body)


def failed_sequence(result: InvokeResult, batch: list[dict[str, Any]], report_failures: bool) -> int | None:
    """Index in batch of the first record to retry; None when the whole batch succeeded.

    Same success and failure conditions as for SQS (services-ddb-batchfailurereporting.html); the
    checkpoint is the lowest reported SequenceNumber.
    """
    if not result.ok:
        return 0
    if not report_failures:
        return None
    payload = result.payload
    if not payload:
        return None
    if not isinstance(payload, dict):
        return 0
    items = payload.get("batchItemFailures")
    if not items:
        return None
    if not isinstance(items, list):
        return 0
    sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
    lowest: int | None = None
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in sequence:
            return 0
        index = sequence.index(identifier)
        lowest = index if lowest is None else min(lowest, index)
    return lowest


class StreamPoller(threading.Thread):
    """One poller for the table's single stream shard (moto keeps one shard per table)."""

    def __init__(self, spec: StreamMappingSpec, invoke: Any, idle_wait: float = 0.1) -> None:
        super().__init__(daemon=True, name=f"stream-{spec.uuid[:8]}")
        self.spec = spec
        self._invoke = invoke
        self._idle_wait = idle_wait
        self.stopping = threading.Event()
        self.invocations = 0
        self.skipped = 0
        self._position: int | None = None  # index of the next record in the shard

    def _shard(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        table = dynamodb_backends[self.spec.account][self.spec.region].get_table(self.spec.table_name)
        if table.latest_stream_label is None or not self.spec.stream_arn.endswith(table.latest_stream_label):
            raise LookupError(f"stream {self.spec.stream_arn} is not the table's current stream")
        return table.stream_shard

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if not self._poll_once():
                    self.stopping.wait(self._idle_wait)
            except Exception as exc:  # the table or its stream went away: back off, re-check
                log.warning("stream poller %s: %s", self.spec.uuid, exc)
                self.stopping.wait(1.0)

    def _poll_once(self) -> bool:
        shard = self._shard()
        if self._position is None:
            if self.spec.starting_position == "TRIM_HORIZON":
                self._position = 0
            else:
                self._position = len(shard.items) if self.spec.start_index is None else self.spec.start_index
        records = [r.to_json() for r in shard.items[self._position : self._position + self.spec.batch_size]]
        if not records:
            return False
        self._process([to_stream_record(r, self.spec) for r in records])
        self._position += len(records)
        return True

    def _process(self, batch: list[dict[str, Any]]) -> None:
        pending: list[tuple[list[dict[str, Any]], int]] = [(batch, 0)]  # (records, retries so far)
        while pending and not self.stopping.is_set():
            records, retries = pending.pop(0)
            result = self._invoke(
                self.spec.account, self.spec.region, self.spec.function_name, {"Records": records}
            )
            self.invocations += 1
            first_failed = failed_sequence(result, records, self.spec.report_failures)
            if first_failed is None:
                continue
            retry = records[first_failed:]
            if not result.ok and self.spec.bisect_on_error and len(retry) > 1:
                half = len(retry) // 2
                pending[:0] = [(retry[:half], retries), (retry[half:], retries)]
                continue
            if 0 <= self.spec.max_retry_attempts <= retries:
                self.skipped += len(retry)
                log.warning(
                    "stream mapping %s: %d records skipped after %d retries",
                    self.spec.uuid,
                    len(retry),
                    retries,
                )
                self._discarded(retry, retries + 1, result)
                continue
            pending.insert(0, (retry, retries + 1))
            self.stopping.wait(min(1.0, 0.05 * (retries + 1)))  # a short, growing pause between retries

    def _discarded(self, records: list[dict[str, Any]], invocations: int, result: InvokeResult) -> None:
        if not self.spec.on_failure or ":sqs:" not in self.spec.on_failure:
            return
        try:
            record = on_failure_record(self.spec, records, invocations, result)
            send_to_queue(self.spec.on_failure, json.dumps(record))
        except Exception as exc:  # the destination is gone: the batch is skipped anyway, as on AWS
            log.warning("stream mapping %s: on-failure destination: %s", self.spec.uuid, exc)


def _create_event_source_mapping(original: Any) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        esm = original(self, spec)
        arn = str(esm.event_source_arn)
        if ":dynamodb:" in arn and "/stream/" in arn:
            try:
                name = arn.split(":table/", 1)[1].split("/stream/", 1)[0]
                table = dynamodb_backends[esm.account_id][esm.region].get_table(name)
                esm._asyncapi_start_index = len(table.stream_shard.items)
            except Exception:
                pass  # no such table: moto has already refused, or the poller will report it
        return esm

    return create_event_source_mapping


# LATEST is the moment the mapping is created (AWS: records written after creation), not when our poller
# first looks, which may be later.
register(
    Patch(
        "moto.awslambda.models:LambdaBackend.create_event_source_mapping",
        _create_event_source_mapping,
        "fidelity",
        "a stream mapping's LATEST is its creation",
        "stream-start",
        params=("self", "spec"),
    )
)


def install() -> None:
    """Through the compat registry (idempotent)."""
    REGISTRY.apply(["stream-start"])
