"""moto_json_requests: JSON-protocol request parameters, parsed the compiled way, are moto's own.

Every request body moto parses during a workload of JSON-protocol services (DynamoDB with every
attribute type and nesting, SQS's JSON protocol with binary attributes) is parsed both ways, moto's
walk (moto/core/parse.py JSONParser) and the compiled one; the two must be the same values of the same
types with keys in the same order. Odd bodies, numbers and timestamps are compared directly, errors
included.
"""

from __future__ import annotations

import datetime
from typing import Any

import boto3
import pytest
from moto.core.parse import UNDEFINED, JSONParser

from asyncapi_cli.local import moto_json_requests, moto_patches

from .test_local_perf_moto_dynamodb import EVERY_TYPE, new_table

REGION = "us-east-1"


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types, dict keys in the same order (what a walk's output order shows)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.fixture
def compared(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    moto_patches.apply()
    fast, walk = JSONParser._parse_json_body, moto_patches.originals["JSONParser._parse_json_body"]
    assert fast is not walk  # the patch is in place
    seen: dict[str, Any] = {"parsed": [], "different": []}

    def both(self: Any, raw_body: Any, shape: Any) -> Any:
        mine, theirs = fast(self, raw_body, shape), walk(self, raw_body, shape)
        seen["parsed"].append(self.operation_model.name)
        if not same(mine, theirs):
            seen["different"].append((self.operation_model.name, mine, theirs))
        return theirs

    monkeypatch.setattr(JSONParser, "_parse_json_body", both)
    return seen


def test_requests_are_parsed_as_moto_parses_them(compared: dict[str, Any]) -> None:
    dynamodb = new_table("t", key="k")
    dynamodb.put_item(TableName="t", Item=EVERY_TYPE)
    dynamodb.update_item(
        TableName="t",
        Key={"k": {"S": "a"}},
        UpdateExpression="SET #s = :s, attempts = if_not_exists(attempts, :zero) + :one",
        ConditionExpression="attribute_exists(k)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "done"}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    dynamodb.query(
        TableName="t",
        KeyConditionExpression="k = :k",
        ExpressionAttributeValues={":k": {"S": "a"}},
        Limit=5,
        ConsistentRead=True,
    )
    dynamodb.batch_write_item(
        RequestItems={"t": [{"PutRequest": {"Item": {"k": {"S": f"b{i}"}}}} for i in range(3)]}
    )
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": "t", "Item": {"k": {"S": "tx"}, "b": {"B": b"z"}}}}]
    )
    dynamodb.scan(TableName="t", Segment=0, TotalSegments=1)

    sqs = boto3.client("sqs", region_name=REGION)  # botocore speaks SQS's JSON protocol
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="x",
        DelaySeconds=0,
        MessageAttributes={
            "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x10"},
            "num": {"DataType": "Number", "StringValue": "7"},
        },
    )
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"])

    assert compared["different"] == []
    expected = {"PutItem", "UpdateItem", "Query", "BatchWriteItem", "TransactWriteItems", "SendMessage",
                "ReceiveMessage"}  # fmt: skip
    assert expected - set(compared["parsed"]) == set(), sorted(set(compared["parsed"]))


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no body: {}
        b"{}",
        b'{"TableName": "t", "Key": null}',  # a null member is left out
        b'{"TableName": "t", "Key": {"k": {"S": "a", "N": null, "Extra": 1}}, "Unknown": 2}',
        b'{"TableName": "t", "Key": {"k": {"M": {"d": {"L": [{"M": {"e": {"B": "AAE="}}}]}}}}}',
        b'{"TableName": "t", "Key": {"k": {"SS": "ab"}}}',  # a string where a list goes: its characters
        b'{"TableName": "t", "Key": {"k": {"L": {"x": 1}}}}',  # a map where a list goes: its keys
        b'{"TableName": "t", "Key": {"k": {"B": "not base64!"}}}',  # binascii.Error, both ways
        b'{"TableName": "t", "Key": ["a"]}',  # a list where a map goes: AttributeError, both ways
        b'{"TableName": "t", "Key": {"k": "a"}}',  # a string where a structure goes: AttributeError
        b"not json at all",  # moto's {"message": ...}
        '{"TableName": "ü"}'.encode(),
    ],
)
def test_odd_bodies_come_out_as_motos(body: bytes) -> None:
    moto_patches.apply()
    from moto.core.responses import get_service_model

    operation = get_service_model("dynamodb").operation_model("GetItem")
    walk = moto_patches.originals["JSONParser._parse_json_body"]

    def outcome(how: Any) -> Any:
        try:
            return ("ok", how(JSONParser(operation), body, operation.input_shape))
        except Exception as exc:  # the same error, of the same type
            return ("raised", type(exc), str(exc))

    mine, theirs = outcome(JSONParser._parse_json_body), outcome(walk)
    assert mine[0] == theirs[0] and (same(mine[1], theirs[1]) if mine[0] == "ok" else mine == theirs)


def test_numbers_timestamps_and_undefined_as_moto_converts_them() -> None:
    """Logs' GetLogEvents has long members (startTime, limit): int(), UNDEFINED as it is; CloudWatch's
    MetricDatum a double (float()) and a timestamp (moto's default_timestamp_parser)."""
    moto_patches.apply()
    from moto.core.responses import get_service_model

    operation = get_service_model("logs").operation_model("GetLogEvents")
    parse = moto_json_requests.compiled_parse(operation.input_shape, dict)
    assert same(parse({"startTime": "12", "limit": True}), {"startTime": 12, "limit": 1})
    assert parse({"startTime": UNDEFINED})["startTime"] is UNDEFINED
    with pytest.raises(ValueError):
        parse({"startTime": "x"})
    metrics = get_service_model("cloudwatch").operation_model("PutMetricData")
    for timestamp in (1_700_000_000, "2026-01-01T00:00:00Z", 1.5e9):
        value = {
            "Namespace": "n",
            "MetricData": [{"MetricName": "m", "Value": "1.5", "Timestamp": timestamp}],
        }
        mine = moto_json_requests.compiled_parse(metrics.input_shape, dict)(value)
        theirs = JSONParser(metrics)._parse_shape(metrics.input_shape, value)
        assert same(mine, theirs) and isinstance(mine["MetricData"][0]["Timestamp"], datetime.datetime)
        assert same(mine["MetricData"][0]["Value"], 1.5)
