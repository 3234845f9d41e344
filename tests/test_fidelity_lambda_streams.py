"""DynamoDB Streams event source mappings in the embedded AWS, end to end in-process with a tiny function.

The function's output is read back through CloudWatch Logs (FilterLogEvents), as on AWS.
Sources: "Using AWS Lambda with Amazon DynamoDB" (event example: eventName INSERT/MODIFY/REMOVE,
dynamodb.Keys/NewImage/OldImage/SequenceNumber/StreamViewType, eventSourceARN, eventSource
aws:dynamodb; StartingPosition TRIM_HORIZON/LATEST; MaximumRetryAttempts, BisectBatchOnFunctionError),
docs.aws.amazon.com/lambda/latest/dg/with-ddb.html; "Configuring partial batch response with DynamoDB
and Lambda", services-ddb-batchfailurereporting.html.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli.local.events.sources import PollerManager
from asyncapi_cli.local.lambda_.runtime import LambdaRuntime
from asyncapi_cli.local.logs import CloudWatchLogsSink

from .conftest import apply_embedded_moto_patches

REGION = "us-east-1"
FUNCTION = """
import json
def handler(event, context):
    for record in event["Records"]:
        print(json.dumps({"seen": record}))
        if record["dynamodb"].get("NewImage", {}).get("fail"):
            raise RuntimeError("bad record")
    return None
"""


@pytest.fixture
def aws(mocked_aws: None, tmp_path: Path) -> Iterator[dict[str, Any]]:
    apply_embedded_moto_patches()
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", FUNCTION)
    lam = boto3.client("lambda", region_name=REGION)
    lam.create_function(
        FunctionName="pusher",
        Runtime="python3.12",
        Role=role,
        Handler="fn.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,  # a busy machine must not add timeouts to the retries counted below
    )
    runtime = LambdaRuntime("http://127.0.0.1:9", tmp_path / "code", sink=CloudWatchLogsSink())
    manager = PollerManager(runtime.invoke, runtime.limit, interval=0.1)
    manager.start()
    yield {
        "lambda": lam,
        "ddb": boto3.client("dynamodb", region_name=REGION),
        "logs": boto3.client("logs", region_name=REGION),
    }
    manager.stopping.set()
    manager.join(5)
    runtime.close()


def table(ddb: Any, name: str) -> str:
    answer = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return str(answer["TableDescription"]["LatestStreamArn"])


def seen(logs: Any) -> list[dict[str, Any]]:
    try:
        events = logs.filter_log_events(logGroupName="/aws/lambda/pusher")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"])["seen"] for e in events if e["message"].startswith('{"seen"')]


def wait_seen(logs: Any, predicate: Any, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = seen(logs)
        if predicate(records):
            return records
        assert time.monotonic() < deadline, records
        time.sleep(0.05)


def test_records_are_shaped_as_aws_documents_from_trim_horizon(aws: dict[str, Any]) -> None:
    ddb = aws["ddb"]
    stream = table(ddb, "jobs")
    ddb.put_item(TableName="jobs", Item={"id": {"S": "j1"}, "status": {"S": "queued"}})  # before the mapping
    aws["lambda"].create_event_source_mapping(
        EventSourceArn=stream, FunctionName="pusher", StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    ddb.update_item(
        TableName="jobs",
        Key={"id": {"S": "j1"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "completed"}},
    )
    ddb.delete_item(TableName="jobs", Key={"id": {"S": "j1"}})
    records = wait_seen(aws["logs"], lambda r: len(r) >= 3)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    assert insert["dynamodb"]["NewImage"] == {"id": {"S": "j1"}, "status": {"S": "queued"}}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["status"] == {"S": "queued"}
    assert modify["dynamodb"]["NewImage"]["status"] == {"S": "completed"}
    assert "NewImage" not in remove["dynamodb"] and remove["dynamodb"]["Keys"] == {"id": {"S": "j1"}}
    for record in records:
        assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
            "aws:dynamodb",
            stream,
            REGION,
        )
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], (int, float))
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_latest_skips_what_was_written_before(aws: dict[str, Any]) -> None:
    ddb = aws["ddb"]
    stream = table(ddb, "later")
    ddb.put_item(TableName="later", Item={"id": {"S": "before"}})
    aws["lambda"].create_event_source_mapping(
        EventSourceArn=stream, FunctionName="pusher", StartingPosition="LATEST"
    )
    ddb.put_item(TableName="later", Item={"id": {"S": "after"}})
    records = wait_seen(aws["logs"], lambda r: any(x["dynamodb"]["Keys"]["id"]["S"] == "after" for x in r))
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records] == ["after"]


def test_bisect_and_retry_limit_skip_only_the_bad_record(aws: dict[str, Any]) -> None:
    ddb = aws["ddb"]
    stream = table(ddb, "mixed")
    for key, fail in (("ok1", False), ("bad", True), ("ok2", False)):
        item = {"id": {"S": key}}
        if fail:
            item["fail"] = {"BOOL": True}
        ddb.put_item(TableName="mixed", Item=item)
    aws["lambda"].create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="pusher",
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
    )
    ddb_after = "after"
    # Wait until the batch is settled, then write one more record: it must be processed (not blocked).
    wait_seen(aws["logs"], lambda r: sum(x["dynamodb"]["Keys"]["id"]["S"] == "bad" for x in r) >= 4)
    ddb.put_item(TableName="mixed", Item={"id": {"S": ddb_after}})
    records = wait_seen(aws["logs"], lambda r: any(x["dynamodb"]["Keys"]["id"]["S"] == ddb_after for x in r))
    keys = [r["dynamodb"]["Keys"]["id"]["S"] for r in records]
    # whole batch (3), halves [ok1] and [bad, ok2], then [bad] twice (1 retry) and [ok2]: bad is skipped.
    assert keys.count("bad") == 4 and keys.count(ddb_after) == 1
    assert keys[-1] == ddb_after


def test_a_skipped_batch_is_described_in_the_on_failure_destination(aws: dict[str, Any]) -> None:
    """Lambda developer guide, "Retaining discarded batches for a DynamoDB event source": after the
    retries, the skipped batch's description (not its records) goes to DestinationConfig.OnFailure, with
    requestContext.condition RetryAttemptsExhausted and DDBStreamBatchInfo (shard, first and last
    sequence numbers, batch size, stream ARN)."""
    ddb = aws["ddb"]
    stream = table(ddb, "failing")
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="pusher-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ddb.put_item(TableName="failing", Item={"id": {"S": "bad"}, "fail": {"BOOL": True}})
    aws["lambda"].create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="pusher",
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    deadline = time.monotonic() + 30
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
    (message,) = messages
    body = json.loads(message["Body"])
    (bad,) = [r for r in seen(aws["logs"]) if r["dynamodb"]["Keys"]["id"]["S"] == "bad"][:1]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 2  # the first try and one retry
    info = body["DDBStreamBatchInfo"]
    assert info["streamArn"] == stream and info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad["dynamodb"]["SequenceNumber"]
