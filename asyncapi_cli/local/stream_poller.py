"""DynamoDB stream event source mappings for the embedded AWS (moto stores them but does not run them
as Lambda does).

Per enabled mapping whose source is a DynamoDB stream: read each shard from the mapping's
StartingPosition (TRIM_HORIZON or LATEST), in batches of BatchSize (default 100) gathered for up to
MaximumBatchingWindowInSeconds, and invoke the function with {"Records": [...]} shaped as Lambda's
DynamoDB event (eventSourceARN added). Errors, as "Using AWS Lambda with Amazon DynamoDB" documents:
- a failed invocation retries the batch, up to MaximumRetryAttempts (-1: until it succeeds; AWS
  stops when the records expire after 24 h), then discards it (logged) and goes on;
- BisectBatchOnFunctionError splits a failing batch in two and retries each half (no retry counted);
- with ReportBatchItemFailures the function returns {"batchItemFailures": [{"itemIdentifier":
  <SequenceNumber>}]}: the checkpoint moves to the first failed record and only the rest is retried;
  an identifier that is not in the batch fails the whole batch.
Retries wait 0.1 s doubling to 2 s (scaled down from AWS's backoff, like the embedded SQS cycle).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger("asyncapi.local.streams")
Invoke = Callable[[str, str, str, Any], Any]  # LambdaRuntime.invoke


@dataclass(frozen=True)
class StreamMapping:
    uuid: str
    account: str
    region: str
    stream_arn: str
    function_name: str
    batch_size: int = 100
    batching_window: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    max_retries: int = -1
    bisect: bool = False
    report_failures: bool = False


def neutralize_moto_stream_invocation() -> None:
    """moto invokes a stream's mapped function inside the table write and then drops the stream's
    records; our pollers own that job. The mappings are made invisible to the table (as server.py
    does for SQS queues), so a write only appends to the stream."""
    from moto.dynamodb.models.table import Table

    def _get(self: Any) -> dict[str, Any]:
        return {}

    def _set(self: Any, value: Any) -> None:
        pass

    Table.lambda_event_source_mappings = property(_get, _set)  # type: ignore[assignment]


def allow_stream_reenable() -> None:
    """Let a table's stream be turned off (moto then fails every write) and on again, as DynamoDB does
    ("If you disable and then re-enable a stream on the table, a new stream is created with a different stream
    descriptor": DynamoDB developer guide, "Change data capture for DynamoDB Streams", Enabling a
    stream). moto answers ResourceInUseException "Cannot enable stream" once a table had a stream."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.update_table_streams
    if getattr(original, "asyncapi_reenable", False):
        return

    def update_table_streams(self: Any, table: Any, specification: dict[str, Any]) -> None:
        if not (table.stream_specification or {}).get("StreamEnabled"):
            table.latest_stream_label = None  # the old stream is off: a new one may start
        original(self, table, specification)
        if not (specification.get("StreamEnabled") or specification.get("StreamViewType")):
            # Off: writes no longer go to a stream. moto keeps the shard and then fails every write
            # (KeyError 'StreamViewType', a 500 to the processor's UpdateItem).
            table.stream_shard = None

    update_table_streams.asyncapi_reenable = True  # type: ignore[attr-defined]
    DynamoDBBackend.update_table_streams = update_table_streams  # type: ignore[method-assign]


def enabled_stream_mappings() -> dict[str, StreamMapping]:
    """Every enabled DynamoDB stream mapping moto holds (in this process)."""
    from moto.awslambda.models import lambda_backends

    found: dict[str, StreamMapping] = {}
    for account, regions in list(lambda_backends.items()):
        for region, backend in list(regions.items()):
            for uuid, esm in list(getattr(backend, "_event_source_mappings", {}).items()):
                if not esm.enabled or ":dynamodb:" not in esm.event_source_arn:
                    continue
                found[uuid] = StreamMapping(
                    uuid=uuid,
                    account=account,
                    region=region,
                    stream_arn=esm.event_source_arn,
                    function_name=esm.function_arn.rsplit(":", 1)[-1],
                    batch_size=int(esm.batch_size or 100),
                    batching_window=float(esm.max_batch_window or 0),
                    starting_position=esm.starting_position or "TRIM_HORIZON",
                    max_retries=int(esm.max_retry_attempts if esm.max_retry_attempts is not None else -1),
                    bisect=bool(esm.bisect_on_error),
                    report_failures="ReportBatchItemFailures" in (esm.function_response_types or []),
                )
    return found


def first_failure(result: Any, batch: list[dict[str, Any]], report_failures: bool) -> int | None:
    """The index the batch must be retried from; None when it succeeded."""
    if not result.ok:
        return 0
    if not report_failures or not isinstance(result.payload, dict):
        return None
    failures = result.payload.get("batchItemFailures") or []
    if not failures:
        return None
    sequence = [str(r["dynamodb"]["SequenceNumber"]) for r in batch]
    indexes = []
    for failure in failures:
        identifier = str((failure or {}).get("itemIdentifier", ""))
        if identifier not in sequence:
            return 0  # an identifier not in the batch: the whole batch failed
        indexes.append(sequence.index(identifier))
    return min(indexes)


def deliver(
    batch: list[dict[str, Any]],
    invoke_batch: Callable[[list[dict[str, Any]]], Any],
    mapping: StreamMapping,
    wait: Callable[[float], bool],
) -> int:
    """Run one batch to the end (success, or retries exhausted); the number of records discarded.
    `wait(seconds)` sleeps and answers True when the poller is stopping."""
    pending = [batch]
    discarded = 0
    while pending:
        current, attempts = pending.pop(0), 0
        while current:
            failed_from = first_failure(invoke_batch(current), current, mapping.report_failures)
            if failed_from is None:
                break
            current = current[failed_from:]
            if mapping.bisect and len(current) > 1:
                half = len(current) // 2
                pending[:0] = [current[:half], current[half:]]
                break
            attempts += 1
            if 0 <= mapping.max_retries < attempts:
                log.warning("discarding %d stream records after %d retries", len(current), attempts - 1)
                discarded += len(current)
                break
            if wait(min(0.1 * 2 ** (attempts - 1), 2.0)):
                return discarded
    return discarded


def _plain_records(records: list[dict[str, Any]], stream_arn: str) -> list[dict[str, Any]]:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, (bytes, bytearray)):
            import base64

            return base64.b64encode(value).decode()
        return value

    return [{**plain(record), "eventSourceARN": stream_arn} for record in records]


class StreamPoller(threading.Thread):
    def __init__(self, mapping: StreamMapping, streams: Any, invoke: Invoke, interval: float = 0.2) -> None:
        super().__init__(daemon=True, name=f"stream-{mapping.uuid[:8]}")
        self.mapping = mapping
        self.streams = streams  # a dynamodbstreams client
        self.invoke = invoke
        self.interval = interval
        self.stopping = threading.Event()
        self._iterators: dict[str, str] = {}

    def _invoke_batch(self, batch: list[dict[str, Any]]) -> Any:
        m = self.mapping
        return self.invoke(m.account, m.region, m.function_name, {"Records": batch})

    def _read(self) -> list[dict[str, Any]]:
        m = self.mapping
        shards = self.streams.describe_stream(StreamArn=m.stream_arn)["StreamDescription"]["Shards"]
        records: list[dict[str, Any]] = []
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=m.stream_arn, ShardId=shard_id, ShardIteratorType=m.starting_position
                )["ShardIterator"]
            answer = self.streams.get_records(
                ShardIterator=self._iterators[shard_id], Limit=m.batch_size - len(records)
            )
            self._iterators[shard_id] = answer.get("NextShardIterator") or self._iterators[shard_id]
            records.extend(_plain_records(answer.get("Records", []), m.stream_arn))
            if len(records) >= m.batch_size:
                break
        return records

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                batch = self._read()
                if batch and len(batch) < self.mapping.batch_size and self.mapping.batching_window > 0:
                    self.stopping.wait(self.mapping.batching_window)
                    batch += self._read()[: self.mapping.batch_size - len(batch)]
                if batch:
                    deliver(batch, self._invoke_batch, self.mapping, self.stopping.wait)
                    continue
            except Exception as exc:
                log.warning("stream mapping %s: %s", self.mapping.uuid, exc)
            self.stopping.wait(self.interval)


class StreamPollerManager(threading.Thread):
    """Starts a poller per enabled stream mapping; stops it when the mapping goes or changes."""

    def __init__(self, endpoint: str | None, invoke: Invoke, interval: float = 0.5) -> None:
        super().__init__(daemon=True, name="stream-poller-manager")
        self.endpoint = endpoint
        self.invoke = invoke
        self.interval = interval
        self.stopping = threading.Event()
        self.pollers: dict[str, StreamPoller] = {}

    def _client(self, region: str) -> Any:
        import boto3

        # Name the endpoint: botocore's default "<account>.streams-ddb.<region>" is not routed by moto.
        return boto3.client(
            "dynamodbstreams",
            region_name=region,
            endpoint_url=self.endpoint or f"https://streams.dynamodb.{region}.amazonaws.com",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def sync(self) -> None:
        current = enabled_stream_mappings()
        for uuid, poller in list(self.pollers.items()):
            if current.get(uuid) != poller.mapping or not poller.is_alive():
                poller.stopping.set()
                del self.pollers[uuid]
        for uuid, mapping in current.items():
            if uuid not in self.pollers:
                poller = self.pollers[uuid] = StreamPoller(mapping, self._client(mapping.region), self.invoke)
                poller.start()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.sync()
            except Exception as exc:
                log.warning("stream poller manager: %s", exc)
        for poller in self.pollers.values():
            poller.stopping.set()
