"""The metrics the embedded services publish, named, dimensioned and timed as AWS publishes them.

- AWS/SQS, dimension QueueName (Amazon SQS developer guide, "Available CloudWatch metrics for Amazon
  SQS"), one datapoint per queue per minute: the gauges ApproximateNumberOfMessagesVisible /
  NotVisible / Delayed and ApproximateAgeOfOldestMessage (seconds) sampled as the minute closes, and
  the minute's NumberOfMessagesSent / Received / Deleted and NumberOfEmptyReceives (0 when none: an
  active queue reports zeros). Messages moved to a dead-letter queue by its redrive policy are not
  "sent" there (the guide: they show in ApproximateNumberOfMessagesVisible only). Every queue counts
  as active (AWS stops reporting a queue idle for six hours: a difference only after six idle hours).
- AWS/Lambda (Lambda developer guide, "Types of metrics for Lambda functions"), per invocation:
  Invocations, Errors, Throttles (a throttled call counts there only), Duration (ms),
  ConcurrentExecutions; dimensions FunctionName, and Resource (+ ExecutedVersion) for a qualified call;
  and without dimensions, the account's aggregate (ConcurrentExecutions excepted).
- AWS/ApiGateway (API Gateway developer guide, "Amazon API Gateway dimensions and metrics"), REST APIs,
  dimensions ApiName and ApiName+Stage, per request: Count, 4XXError, 5XXError (0 or 1, so Average is
  the rate), Latency and IntegrationLatency (ms).
- EMF lines of a function's log become their own metrics (emf.py).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from . import emf
from .store import STORE, MetricStore

REPORTED_DURATION = re.compile(r"^REPORT RequestId: \S+\tDuration: ([0-9.]+) ms", re.MULTILINE)
SQS_COUNTERS = (
    "NumberOfMessagesSent",
    "NumberOfMessagesReceived",
    "NumberOfMessagesDeleted",
    "NumberOfEmptyReceives",
)


class SqsCounters:
    """The minute's SQS API counts per queue, taken by the SQS patches below."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], dict[str, int]] = {}

    def add(self, account: str, region: str, queue: str, metric: str, count: int = 1) -> None:
        with self._lock:
            counts = self._counts.setdefault((account, region, queue), dict.fromkeys(SQS_COUNTERS, 0))
            counts[metric] += count

    def take(self) -> dict[tuple[str, str, str], dict[str, int]]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts


SQS = SqsCounters()


def _oldest_age(queue: Any, now_ms: float) -> float:
    """Seconds since the oldest message was sent; a message received three times or more no longer
    counts while another exists (the guide's note on ApproximateAgeOfOldestMessage)."""
    messages = list(queue._messages)
    fresh = [m for m in messages if m.approximate_receive_count < 3] or messages
    stamps = [m.sent_timestamp for m in fresh if m.sent_timestamp]
    return max(0.0, (now_ms - min(stamps)) / 1000.0) if stamps else 0.0


def sample_sqs(minute_start: float, store: MetricStore = STORE, now: float | None = None) -> int:
    """Record one datapoint per queue and metric for the minute starting at `minute_start`; the number
    of queues."""
    from moto.sqs.models import sqs_backends

    now = time.time() if now is None else now
    counts = SQS.take()
    queues = 0
    for account, regions in list(sqs_backends.items()):
        for region, backend in list(regions.items()):
            for name, queue in list(backend.queues.items()):
                queues += 1
                dims = {"QueueName": name}
                gauges = {
                    "ApproximateNumberOfMessagesVisible": queue.approximate_number_of_messages,
                    "ApproximateNumberOfMessagesNotVisible": queue.approximate_number_of_messages_not_visible,
                    "ApproximateNumberOfMessagesDelayed": queue.approximate_number_of_messages_delayed,
                }
                for metric, value in gauges.items():
                    store.record(account, region, "AWS/SQS", metric, dims, value, "Count", minute_start)
                age = _oldest_age(queue, now * 1000.0)
                store.record(
                    account,
                    region,
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    dims,
                    age,
                    "Seconds",
                    minute_start,
                )
                minute = counts.get((account, region, name)) or dict.fromkeys(SQS_COUNTERS, 0)
                for metric, value in minute.items():
                    store.record(account, region, "AWS/SQS", metric, dims, value, "Count", minute_start)
    return queues


# --- SQS patches: the counts -----------------------------------------------------------------------------
def _receive_message(original: Any) -> Any:
    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        messages = original(self, queue_name, *args, **kwargs)
        account, region = self.account_id, self.region_name
        if messages:
            SQS.add(account, region, queue_name, "NumberOfMessagesReceived", len(messages))
        else:
            SQS.add(account, region, queue_name, "NumberOfEmptyReceives")
        return messages

    return receive_message


def _delete_message(original: Any) -> Any:
    def delete_message(self: Any, queue_name: str, receipt_handle: str) -> None:
        original(self, queue_name, receipt_handle)
        SQS.add(self.account_id, self.region_name, queue_name, "NumberOfMessagesDeleted")

    return delete_message


def _send_message_answer(original: Any) -> Any:
    def send_message(self: Any) -> Any:
        answer = original(self)
        backend = self.sqs_backend
        SQS.add(backend.account_id, backend.region_name, self._get_queue_name(), "NumberOfMessagesSent")
        return answer

    return send_message


def _send_message_batch(original: Any) -> Any:
    def send_message_batch(self: Any, queue_name: str, entries: Any) -> Any:
        messages, failed = original(self, queue_name, entries)
        if messages:
            SQS.add(self.account_id, self.region_name, queue_name, "NumberOfMessagesSent", len(messages))
        return messages, failed

    return send_message_batch


# --- Lambda ------------------------------------------------------------------------------------------------
def lambda_invocation(ended: Any, store: MetricStore = STORE) -> None:
    """The runtime's observer: one invocation ended (or was throttled)."""
    spec = ended.spec
    # Without dimensions: the account's aggregate over all functions (the console's "across all functions").
    dimension_sets: list[dict[str, str]] = [{}, {"FunctionName": spec.name}]
    if ended.qualifier:
        resource = {"FunctionName": spec.name, "Resource": f"{spec.name}:{ended.qualifier}"}
        dimension_sets += [resource, {**resource, "ExecutedVersion": str(spec.version)}]
    record = lambda dims, metric, value, unit: store.record(  # noqa: E731
        spec.account, spec.region, "AWS/Lambda", metric, dims, value, unit, ended.at
    )
    # The REPORT line's Duration, as Lambda reports it (the init phase apart), else the call's own time.
    reported = REPORTED_DURATION.search(ended.result.log or "")
    duration = float(reported.group(1)) if reported else ended.duration_ms
    for dims in dimension_sets:
        if ended.throttled:
            record(dims, "Throttles", 1, "Count")
            continue
        record(dims, "Invocations", 1, "Count")
        record(dims, "Errors", 0 if ended.result.ok else 1, "Count")
        record(dims, "Throttles", 0, "Count")
        record(dims, "Duration", duration, "Milliseconds")
        if dims:  # the account's own is the sum over functions at a moment, not kept here
            record(dims, "ConcurrentExecutions", ended.concurrent, "Count")


def function_log_line(
    account: str, region: str, message: str, timestamp_ms: int, store: MetricStore = STORE
) -> None:
    """A function's log line: its EMF metrics, if it is an EMF document."""
    for datum in emf.parse(message):
        store.record(
            account,
            region,
            datum.namespace,
            datum.name,
            datum.dimensions,
            datum.value,
            datum.unit,
            datum.timestamp_ms / 1000.0,
            datum.resolution,
        )


class MetricsLogSink:
    """The runtime's log sink, wrapped: lines go to CloudWatch Logs as before, and EMF lines also become
    metrics (CloudWatch Logs extracts them from the log events themselves, no agent)."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink

    def emit(
        self, account: str, region: str, group: str, stream: str, message: str, timestamp_ms: int
    ) -> None:
        self._sink.emit(account, region, group, stream, message, timestamp_ms)
        function_log_line(account, region, message, timestamp_ms)


# --- API Gateway -------------------------------------------------------------------------------------------
_api_names: dict[str, str] = {}


def _api_name(api_id: str) -> str | None:
    from ..gateway.moto_seam import find_api

    name = _api_names.get(api_id)
    if name is None:
        api = find_api(api_id)
        if api is None:
            return None
        name = _api_names[api_id] = str(api.name)
    return name


def gateway_request(invocation: Any, status: int, store: MetricStore = STORE) -> None:
    """The gateway's observer: one request answered."""
    name = _api_name(invocation.api_id)
    if name is None:
        return
    deployment, context = invocation.deployment, invocation.context
    account, region = deployment.account, deployment.region
    for dims in ({"ApiName": name}, {"ApiName": name, "Stage": invocation.stage.name}):
        store.record(account, region, "AWS/ApiGateway", "Count", dims, 1, "Count")
        store.record(
            account, region, "AWS/ApiGateway", "4XXError", dims, 1 if 400 <= status < 500 else 0, "Count"
        )
        store.record(account, region, "AWS/ApiGateway", "5XXError", dims, 1 if status >= 500 else 0, "Count")
        store.record(
            account,
            region,
            "AWS/ApiGateway",
            "Latency",
            dims,
            context.get("responseLatency", 0),
            "Milliseconds",
        )
        if invocation.integration_latency_ms is not None:
            store.record(
                account,
                region,
                "AWS/ApiGateway",
                "IntegrationLatency",
                dims,
                invocation.integration_latency_ms,
                "Milliseconds",
            )
