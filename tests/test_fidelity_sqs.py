"""Fidelity of the embedded SQS event source mapping (pollers) against AWS.

Sources (cited per case):
- WITH-SQS: "Using Lambda with Amazon SQS" (event shape, scaling: 5 concurrent batches to start,
  MaximumConcurrency, execution role permissions), docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
- ERRORS: "Handling errors for an SQS event source in Lambda" (partial batch responses, success and
  failure conditions), docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
- LS: LocalStack tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_sqs.py,
  validated against AWS: test_report_batch_item_failures_empty_json_batch_succeeds ({} = success),
  test_report_batch_item_failures_invalid_result_json_batch_fails (bad key name = failure).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from asyncapi_cli.local.events.sqs_poller import MappingPoller, MappingSpec, failed_ids, to_record
from asyncapi_cli.local.events.sqs_seam import InProcessSqs
from asyncapi_cli.local.iam_policy import sqs_mapping_check
from asyncapi_cli.local.lambda_.runtime import InvokeResult

from .conftest import apply_embedded_moto_patches

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def sqs(mocked_aws: None) -> Iterator[Any]:
    apply_embedded_moto_patches()
    yield boto3.client("sqs", region_name=REGION)


def mapping(queue: str, **kwargs: Any) -> MappingSpec:
    fields: dict[str, Any] = {
        "uuid": "u-" + queue,
        "account": ACCOUNT,
        "region": REGION,
        "queue_arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "function_name": "f",
        "batch_size": 10,
        "batching_window": 0,
        "report_failures": True,
    }
    fields.update(kwargs)
    return MappingSpec(**fields)


def receive_one(queue_url: str) -> dict[str, Any]:
    messages = InProcessSqs(ACCOUNT, REGION).receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1)[
        "Messages"
    ]
    return dict(messages[0])


def test_a_binary_attribute_is_delivered_base64(sqs: Any) -> None:
    # WITH-SQS example event: binaryValue is base64 text, with empty stringListValues/binaryListValues.
    url = sqs.create_queue(QueueName="binary")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="{}",
        MessageAttributes={"blob": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"}},
    )
    record = to_record(receive_one(url), mapping("binary"))
    assert record["messageAttributes"]["blob"] == {
        "binaryValue": base64.b64encode(b"\x00\xffdata").decode(),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    json.dumps(record)  # the event must be JSON: a bytes value killed the whole batch before


def test_md5_of_message_attributes_and_trace_header_are_kept(sqs: Any) -> None:
    # WITH-SQS example event: md5OfMessageAttributes; attributes.AWSTraceHeader when sent with one.
    url = sqs.create_queue(QueueName="traced")["QueueUrl"]
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="{}",
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": "j1"}},
        MessageSystemAttributes={
            "AWSTraceHeader": {
                "DataType": "String",
                "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793",
            }
        },
    )
    record = to_record(receive_one(url), mapping("traced"))
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["attributes"]["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert record["messageAttributes"]["jobId"]["stringValue"] == "j1"
    assert set(record) >= {
        "messageId",
        "receiptHandle",
        "body",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }


def test_fifo_records_carry_group_deduplication_and_sequence(sqs: Any) -> None:
    # WITH-SQS "Example FIFO queue message event": SequenceNumber, MessageGroupId, MessageDeduplicationId.
    url = sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="{}", MessageGroupId="g1", MessageDeduplicationId="d1")
    attributes = to_record(receive_one(url), mapping("jobs.fifo"))["attributes"]
    assert attributes["MessageGroupId"] == "g1"
    assert attributes["MessageDeduplicationId"] == "d1"
    assert attributes["SequenceNumber"] == sent["SequenceNumber"]
    assert attributes["ApproximateReceiveCount"] == "1"


BATCH = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(3)]
EVERY = {"m0", "m1", "m2"}


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({}, set()),  # ERRORS: empty EventResponse = success; LS ..._empty_json_batch_succeeds
        (None, set()),  # ERRORS: null EventResponse = success
        ({"batchItemFailures": None}, set()),  # ERRORS: null batchItemFailures list = success
        ({"batchItemFailures": []}, set()),  # ERRORS: empty batchItemFailures list = success
        ([], set()),  # an empty response (LocalStack's parser: falsy = success)
        ({"batchItemFailures": [{"itemIdentifier": "m1"}]}, {"m1"}),  # ERRORS: the listed ids come back
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, EVERY),  # ERRORS: empty itemIdentifier = failure
        ({"batchItemFailures": [{"itemIdentifier": None}]}, EVERY),  # ERRORS: null itemIdentifier = failure
        ({"batchItemFailures": [{"foo": "notvalid"}]}, EVERY),  # ERRORS / LS: bad key name = failure
        ({"batchItemFailures": [{"itemIdentifier": "x"}]}, EVERY),  # ERRORS: an id not in the batch = failure
        ("not an event response", EVERY),  # ERRORS: invalid response = failure
    ],
)
def test_partial_batch_responses(payload: Any, expected: set[str]) -> None:
    assert failed_ids(InvokeResult(True, payload), BATCH, True) == expected


def test_a_function_error_keeps_the_whole_batch_and_without_reporting_responses_are_ignored() -> None:
    # ERRORS: a failed invocation returns every message; without ReportBatchItemFailures the
    # response is not read.
    assert failed_ids(InvokeResult(False, error_type="X"), BATCH, True) == EVERY
    assert (
        failed_ids(InvokeResult(True, {"batchItemFailures": [{"itemIdentifier": "m1"}]}), BATCH, False)
        == set()
    )


class SlowOrFast:
    """The function: sleeps as the record says; counts concurrent invocations."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.finished: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, account: str, region: str, name: str, event: Any) -> InvokeResult:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            for record in event["Records"]:
                time.sleep(json.loads(record["body"])["seconds"])
        finally:
            with self._lock:
                self.running -= 1
                self.finished.extend(json.loads(r["body"])["id"] for r in event["Records"])
        return InvokeResult(True, None)


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_a_slow_batch_does_not_hold_up_a_fast_one(sqs: Any) -> None:
    # WITH-SQS scaling: Lambda polls with several pollers and runs batches concurrently.
    url = sqs.create_queue(QueueName="mixed")["QueueUrl"]
    function = SlowOrFast()
    poller = MappingPoller(
        mapping("mixed", batch_size=1), InProcessSqs(ACCOUNT, REGION), url, function, cap=5
    )
    poller.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": "slow", "seconds": 3}))
        wait_for(lambda: function.running == 1)
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": "fast", "seconds": 0}))
        wait_for(lambda: "fast" in function.finished)
        assert "slow" not in function.finished
    finally:
        poller.stopping.set()


def test_maximum_concurrency_caps_concurrent_batches(sqs: Any) -> None:
    # WITH-SQS "Configuring maximum concurrency": at most MaximumConcurrency batches at once.
    url = sqs.create_queue(QueueName="capped")["QueueUrl"]
    function = SlowOrFast()
    poller = MappingPoller(
        mapping("capped", batch_size=1), InProcessSqs(ACCOUNT, REGION), url, function, cap=2
    )
    for i in range(8):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": str(i), "seconds": 0.2}))
    poller.start()
    try:
        wait_for(lambda: len(function.finished) == 8)
        assert function.peak == 2
    finally:
        poller.stopping.set()


def test_successes_are_deleted_and_failures_come_back(sqs: Any) -> None:
    # ERRORS: with ReportBatchItemFailures only the listed message returns after the visibility timeout.
    url = sqs.create_queue(QueueName="partial", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    seen: list[str] = []

    def function(account: str, region: str, name: str, event: Any) -> InvokeResult:
        seen.extend(r["body"] for r in event["Records"])
        failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
        return InvokeResult(True, {"batchItemFailures": failures})

    for body in ("good", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    poller = MappingPoller(
        mapping("partial", batching_window=0.5), InProcessSqs(ACCOUNT, REGION), url, function, 1
    )
    poller.start()
    try:
        wait_for(lambda: seen.count("bad") >= 2)
        assert seen.count("good") == 1
    finally:
        poller.stopping.set()


def _role(iam: Any, name: str, actions: list[str]) -> str:
    arn = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    if actions:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="sqs",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": actions,
                            "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs",
                        }
                    ],
                }
            ),
        )
    return str(arn)


def test_a_mapping_needs_the_roles_sqs_rights(mocked_aws: None) -> None:
    # WITH-SQS "Execution role permissions": sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes.
    # AWS refuses CreateEventSourceMapping without them; locally such a mapping is not polled.
    iam = boto3.client("iam", region_name=REGION)
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
    full = _role(iam, "full", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"])
    partial = _role(iam, "partial", ["sqs:ReceiveMessage", "sqs:GetQueueAttributes"])
    none = _role(iam, "none", [])
    assert sqs_mapping_check(ACCOUNT, REGION, full, queue) is None
    assert "sqs:DeleteMessage" in (sqs_mapping_check(ACCOUNT, REGION, partial, queue) or "")
    assert "sqs:ReceiveMessage" in (sqs_mapping_check(ACCOUNT, REGION, none, queue) or "")
    other_queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:other"
    assert sqs_mapping_check(ACCOUNT, REGION, full, other_queue) is not None  # scoped to its queue


def test_five_pollers_invoke_once_for_what_arrives_within_one_batching_window(sqs: Any) -> None:
    # WITH-SQS "Batching behavior": with a batching window, Lambda gathers records for up to that long
    # (or until the batch is full) and invokes once; five pollers to start (INITIAL_POLLERS) must not
    # split one window's messages into several invocations.
    url = sqs.create_queue(QueueName="windowed")["QueueUrl"]
    batches: list[list[str]] = []

    def function(account: str, region: str, name: str, event: Any) -> InvokeResult:
        batches.append([r["body"] for r in event["Records"]])
        return InvokeResult(True, None)

    poller = MappingPoller(
        mapping("windowed", batching_window=3), InProcessSqs(ACCOUNT, REGION), url, function, cap=5
    )
    poller.start()
    try:
        wait_for(lambda: poller.pollers == 5)
        for body in ("a", "b", "c"):  # well within the window of the first one's receive
            sqs.send_message(QueueUrl=url, MessageBody=body)
        wait_for(lambda: sum(len(b) for b in batches) == 3)
        assert [sorted(b) for b in batches] == [["a", "b", "c"]]
    finally:
        poller.stopping.set()
