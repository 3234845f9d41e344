"""moto_json_answers: moto's JSON-protocol answers, serialized the short way, are byte for byte moto's own.

Every result moto serializes during a workload of JSON-protocol services (DynamoDB with every attribute
type, SQS, CloudWatch Logs, EventBridge) is serialized both ways, moto's walk and this module's, and the
two bodies must be the same text (keys in the same order).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.core.serialize import JSONSerializer

from asyncapi_cli.local import moto_json_answers, moto_patches

from .test_local_perf_moto_dynamodb import EVERY_TYPE, new_table

REGION = "us-east-1"


@pytest.fixture
def compared(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    moto_patches.apply()
    fast, walk = JSONSerializer._serialize_result, moto_patches.originals["JSONSerializer._serialize_result"]
    seen: dict[str, Any] = {"results": 0, "short": 0, "different": []}

    def both(self: Any, resp: Any, result: Any) -> Any:
        mine = fast(self, {"body": "", "headers": {}, "status_code": 200}, result)
        theirs = walk(self, resp, result)
        seen["results"] += 1
        try:  # whether this one took the short way
            moto_json_answers.PlainSerializer().structure(result, self.operation_model.output_shape)
            seen["short"] += 1
        except moto_json_answers._NotPlain:
            pass
        if mine["body"] != theirs["body"] or mine["headers"] != theirs["headers"]:
            seen["different"].append((self.operation_model.name, mine["body"], theirs["body"]))
        return theirs

    monkeypatch.setattr(JSONSerializer, "_serialize_result", both)
    return seen


def test_answers_are_motos_own(compared: dict[str, Any]) -> None:
    dynamodb = new_table("t", key="k")
    plain = {"k": {"S": "p"}, "status": {"S": "queued"}, "m": {"M": {"x": {"L": [{"S": "1"}]}}}}
    dynamodb.put_item(TableName="t", Item=EVERY_TYPE)
    dynamodb.put_item(TableName="t", Item=plain)
    dynamodb.get_item(TableName="t", Key={"k": {"S": "a"}})
    dynamodb.get_item(TableName="t", Key={"k": {"S": "p"}}, ReturnConsumedCapacity="TOTAL")
    dynamodb.update_item(
        TableName="t",
        Key={"k": {"S": "p"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "done"}},
        ReturnValues="ALL_NEW",
    )
    dynamodb.update_item(
        TableName="t", Key={"k": {"S": "p"}}, UpdateExpression="SET c = :c",
        ExpressionAttributeValues={":c": {"N": "2"}}, ReturnValues="UPDATED_OLD",
    )  # fmt: skip
    dynamodb.scan(TableName="t")
    dynamodb.query(
        TableName="t", KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "p"}}
    )
    dynamodb.batch_get_item(RequestItems={"t": {"Keys": [{"k": {"S": "a"}}, {"k": {"S": "p"}}]}})
    dynamodb.describe_table(TableName="t")
    dynamodb.list_tables()
    dynamodb.delete_item(TableName="t", Key={"k": {"S": "p"}}, ReturnValues="ALL_OLD")

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    sqs.send_message(
        QueueUrl=url, MessageBody="hi",
        MessageAttributes={"a": {"DataType": "String", "StringValue": "v"},
                           "b": {"DataType": "Binary", "BinaryValue": b"\x01"}},
    )  # fmt: skip
    sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"])
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    sqs.list_queues()

    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": 1, "message": "m"}])
    logs.get_log_events(logGroupName="g", logStreamName="s")
    logs.describe_log_groups()

    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="r", ScheduleExpression="rate(1 minute)")
    events.list_rules()

    assert compared["different"] == []
    assert compared["results"] >= 15 and compared["short"] >= 8  # both ways were compared


def test_plain_results_take_the_short_way_and_others_do_not() -> None:
    from botocore.session import get_session

    model = get_session().get_service_model("dynamodb")
    output = model.operation_model("UpdateItem").output_shape
    plain = moto_json_answers.PlainSerializer()
    result = {
        "Attributes": {"k": {"S": "a"}, "n": {"N": "1"}},
        "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5},
    }
    assert plain.structure(result, output) == result
    for not_plain in (
        {"Attributes": {"k": {"B": "AAE="}}},  # a blob: moto base64-encodes it
        {"Unknown": 1},  # not a member: moto drops it
        {
            "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1}
        },  # an int for a double: moto makes it 1.0
        {"Attributes": {"k": None}},  # a None in a map
        {"Attributes": {"": {"S": "x"}}},  # an empty map key: moto merges a structure under it into the map
    ):
        with pytest.raises(moto_json_answers._NotPlain):
            plain.structure(not_plain, output)
