"""DynamoDB stream event source mappings on the embedded AWS (asyncapi_cli/local/stream_poller.py).

AWS source for the error handling: "Using AWS Lambda with Amazon DynamoDB" (Lambda developer guide):
retries of the whole batch up to MaximumRetryAttempts, BisectBatchOnFunctionError, and partial batch
responses (ReportBatchItemFailures: the checkpoint moves to the lowest failed SequenceNumber; an
itemIdentifier not in the batch fails the whole batch).
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import stream_poller as sp
from asyncapi_cli.local.lambda_runtime import InvokeResult


def records(*sequence: int) -> list[dict[str, Any]]:
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n)}} for n in sequence]


def mapping(**settings: Any) -> sp.StreamMapping:
    return sp.StreamMapping(
        uuid="u", account="1", region="us-east-1", stream_arn="arn", function_name="f", **settings
    )


class UserFunction:
    """A stream consumer that fails on the records it is told to, a given number of times."""

    def __init__(self, poison: set[str], times: int = 10**6, partial: bool = False) -> None:
        self.poison, self.times, self.partial = poison, times, partial
        self.calls: list[list[str]] = []

    def __call__(self, batch: list[dict[str, Any]]) -> InvokeResult:
        numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        self.calls.append(numbers)
        bad = [n for n in numbers if n in self.poison]
        if not bad or self.times <= 0:
            return InvokeResult(True, payload={"batchItemFailures": []})
        self.times -= 1
        if self.partial:
            return InvokeResult(True, payload={"batchItemFailures": [{"itemIdentifier": bad[0]}]})
        return InvokeResult(False, error_type="Error", error_message="boom")


def no_wait(seconds: float) -> bool:
    return False


def test_partial_batch_response_retries_from_the_first_failed_record() -> None:
    function = UserFunction({"3"}, times=1, partial=True)
    assert sp.deliver(records(1, 2, 3, 4), function, mapping(report_failures=True), no_wait) == 0
    assert function.calls == [["1", "2", "3", "4"], ["3", "4"]]


def test_unknown_item_identifier_fails_the_whole_batch() -> None:
    answer = InvokeResult(True, payload={"batchItemFailures": [{"itemIdentifier": "99"}]})
    assert sp.first_failure(answer, records(1, 2), report_failures=True) == 0
    assert sp.first_failure(answer, records(1, 2), report_failures=False) is None  # not reported: success


def test_retries_then_discards_after_maximum_retry_attempts() -> None:
    function = UserFunction({"2"})
    assert sp.deliver(records(1, 2, 3), function, mapping(max_retries=2), no_wait) == 3
    assert function.calls == [["1", "2", "3"]] * 3  # the first try and 2 retries


def test_bisect_isolates_a_poison_record() -> None:
    function = UserFunction({"3"})
    discarded = sp.deliver(records(1, 2, 3, 4), function, mapping(max_retries=0, bisect=True), no_wait)
    assert discarded == 1
    delivered = {n for call in function.calls if "3" not in call for n in call}
    assert delivered == {"1", "2", "4"}


@pytest.fixture
def neutralized(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import Table

    monkeypatch.setattr(Table, "lambda_event_source_mappings", None, raising=False)
    sp.neutralize_moto_stream_invocation()


def test_mapping_on_moto_delivers_the_tables_changes_as_lambda_events(
    mocked_aws: None, neutralized: None
) -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = dynamodb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("f.py", "def handler(event, context):\n    return None\n")
    boto3.client("lambda").create_function(
        FunctionName="pusher",
        Runtime="python3.12",
        Role=role,
        Handler="f.handler",
        Code={"ZipFile": code.getvalue()},
    )
    boto3.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="pusher",
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    (found,) = sp.enabled_stream_mappings().values()
    assert (found.batch_size, found.max_retries, found.bisect, found.report_failures) == (2, 1, True, True)
    events: list[dict[str, Any]] = []
    arrived = threading.Condition()

    def invoke(account: str, region: str, function: str, event: Any) -> InvokeResult:
        with arrived:
            events.append(json.loads(json.dumps(event)))
            arrived.notify_all()
        return InvokeResult(True, payload=None)

    manager = sp.StreamPollerManager(None, invoke, interval=0.05)
    manager.sync()
    for n in range(3):
        dynamodb.put_item(TableName="t", Item={"jobId": {"S": f"j{n}"}, "status": {"S": "queued"}})
    dynamodb.update_item(
        TableName="t",
        Key={"jobId": {"S": "j0"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "processing"}},
    )
    try:
        with arrived:
            assert arrived.wait_for(lambda: sum(len(e["Records"]) for e in events) >= 4, timeout=10)
    finally:
        for poller in manager.pollers.values():
            poller.stopping.set()
        for poller in manager.pollers.values():
            poller.join(5)
    flat = [record for event in events for record in event["Records"]]
    assert all(len(event["Records"]) <= 2 for event in events)  # BatchSize
    assert [r["eventName"] for r in flat] == ["INSERT", "INSERT", "INSERT", "MODIFY"]
    assert flat[-1]["dynamodb"]["OldImage"]["status"] == {"S": "queued"}
    assert flat[-1]["dynamodb"]["NewImage"]["status"] == {"S": "processing"}
    assert flat[0]["eventSourceARN"] == stream_arn
