"""moto's DynamoDB UpdateItem, patched for speed (moto_patches.speed_up_dynamodb_updates): same answers.

Every case runs twice on a fresh table, once with the patches and once with the moto originals they
replaced, and the items left behind and the errors raised (code and message) must be the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from asyncapi_cli.local import moto_atomic, moto_patches

from .faults import hold_first_call

REGION = "us-east-1"
CLAIM = (
    "SET #s = :processing, createdAt = if_not_exists(createdAt, :created), "
    "startedAt = if_not_exists(startedAt, :now), updatedAt = :now, attempts = :attempt"
)
CLAIM_CONDITION = "attribute_not_exists(jobId) OR NOT (#s IN (:completed, :failed))"
CLAIM_VALUES = {
    ":processing": {"S": "processing"},
    ":created": {"S": "c"},
    ":now": {"S": "n"},
    ":attempt": {"N": "1"},
    ":completed": {"S": "completed"},
    ":failed": {"S": "failed"},
}

# (UpdateExpression, names, values, condition): the processor's writes, then moto's harder paths.
CASES: list[tuple[str, dict[str, str], dict[str, Any], str | None]] = [
    (CLAIM, {"#s": "status"}, CLAIM_VALUES, CLAIM_CONDITION),
    (
        "SET #s = :s, completedAt = :now, #r = :r REMOVE #e",
        {"#s": "status", "#r": "result", "#e": "error"},
        {":s": {"S": "completed"}, ":now": {"S": "n"}, ":r": {"S": "s3://b/k"}},
        "attribute_exists(jobId)",
    ),
    ("SET n = :one", {}, {":one": {"N": "1"}}, None),
    ("SET n = n + :one, l = list_append(l, :l)", {}, {":one": {"N": "1"}, ":l": {"L": [{"S": "x"}]}}, None),
    ("ADD counter :one, tags :tags", {}, {":one": {"N": "2"}, ":tags": {"SS": ["a", "b"]}}, None),
    ("SET m.inner = :v, m.other = m.inner", {}, {":v": {"S": "v"}}, None),
    ("SET l[0] = :v REMOVE l[1]", {}, {":v": {"S": "first"}}, None),
    ("DELETE tags :a", {}, {":a": {"SS": ["a"]}}, None),
    # errors moto raises from the validator and the parser
    ("SET a = :v, a = :w", {}, {":v": {"S": "1"}, ":w": {"S": "2"}}, None),  # overlapping paths
    ("SET jobId = :v", {}, {":v": {"S": "other"}}, None),  # a key attribute
    ("SET a = :missing", {}, {":v": {"S": "1"}}, None),  # undefined value
    ("SET a = :v", {"#unused": "x"}, {":v": {"S": "1"}}, None),  # unused name
    ("ADD status :one", {}, {":one": {"N": "1"}}, None),  # reserved keyword
    ("SET a = = :v", {}, {":v": {"S": "1"}}, None),  # syntax error
    ("ADD nope :one", {}, {":one": {"S": "x"}}, None),  # ADD a string: type error
    ("SET q = if_not_exists(q, :v) + :v", {}, {":v": {"N": "3"}}, None),
    (CLAIM, {"#s": "status"}, CLAIM_VALUES, CLAIM_CONDITION),  # the claim again: condition failure path
]


@contextlib.contextmanager
def moto_originals() -> Iterator[None]:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    patched = (
        UpdateExpressionParser.__dict__["make"],
        DepthFirstTraverser.traverse_node_recursively,
        Node.find_clauses,
        validators.deepcopy,
    )
    originals = moto_patches.originals
    UpdateExpressionParser.make = originals["update_expression_make"]  # type: ignore[method-assign]
    DepthFirstTraverser.traverse_node_recursively = originals["traverse_node_recursively"]  # type: ignore[method-assign]
    Node.find_clauses = originals["find_clauses"]  # type: ignore[method-assign]
    validators.deepcopy = originals["validators_deepcopy"]
    try:
        yield
    finally:
        UpdateExpressionParser.make, DepthFirstTraverser.traverse_node_recursively = patched[:2]  # type: ignore[method-assign]
        Node.find_clauses, validators.deepcopy = patched[2:]  # type: ignore[method-assign]


def new_table(name: str, key: str = "jobId") -> Any:
    """A DynamoDB client and a new on-demand table keyed by `key` (a string)."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def run_cases(table: str) -> list[Any]:
    dynamodb = new_table(table)
    dynamodb.put_item(
        TableName=table,
        Item={
            "jobId": {"S": "j"},
            "l": {"L": [{"S": "a"}, {"S": "b"}]},
            "m": {"M": {}},
            "tags": {"SS": ["z"]},
        },
    )
    outcomes: list[Any] = []
    for expression, names, values, condition in CASES:
        request: dict[str, Any] = {
            "TableName": table,
            "Key": {"jobId": {"S": "j"}},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            request["ExpressionAttributeNames"] = names
        if condition:
            request["ConditionExpression"] = condition
        try:
            outcomes.append(dynamodb.update_item(**request)["Attributes"])
        except ClientError as exc:
            outcomes.append((exc.response["Error"]["Code"], exc.response["Error"]["Message"]))
    final = dynamodb.get_item(TableName=table, Key={"jobId": {"S": "j"}}, ConsistentRead=True)
    outcomes.append(final["Item"])
    return outcomes


@pytest.fixture
def patched(mocked_aws: None) -> None:
    moto_patches.apply()


def test_update_item_answers_as_moto_does(patched: None) -> None:
    fast = run_cases("fast")
    with moto_originals():
        slow = run_cases("slow")
    assert fast == slow
    assert sum(1 for outcome in fast if isinstance(outcome, tuple)) >= 6  # the error cases did fail


def test_a_new_item_claim_then_its_final_write(patched: None) -> None:
    dynamodb = new_table("jobs")
    claim = {
        "TableName": "jobs",
        "Key": {"jobId": {"S": "new"}},
        "UpdateExpression": CLAIM,
        "ConditionExpression": CLAIM_CONDITION,
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": CLAIM_VALUES,
    }
    dynamodb.update_item(**claim)
    dynamodb.update_item(
        TableName="jobs",
        Key={"jobId": {"S": "new"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "completed"}},
    )
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        dynamodb.update_item(**claim)  # a finished job is not claimed again
    item = dynamodb.get_item(TableName="jobs", Key={"jobId": {"S": "new"}})["Item"]
    assert item["status"] == {"S": "completed"} and item["createdAt"] == {"S": "c"}


def test_a_write_waits_while_another_write_is_in_progress(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto_atomic.atomic_dynamodb_writes: DynamoDB applies each write to an item atomically (Developer
    Guide, "Atomic counters"), so two ADDs to one set both land. moto read, changed and stored the item
    in Python, and a concurrent ADD could lose the other's element. Here the first UpdateItem is held
    inside moto's executor; the second must not get past it meanwhile, and both elements are kept."""
    import threading

    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor

    moto_atomic.atomic_dynamodb_writes()
    dynamodb = new_table("runs", key="id")
    inside, release = hold_first_call(monkeypatch, UpdateExpressionExecutor, "execute")  # the first write

    def add(job: str) -> None:
        dynamodb.update_item(
            TableName="runs",
            Key={"id": {"S": "schedule"}},
            UpdateExpression="ADD runJobIds :j",
            ExpressionAttributeValues={":j": {"SS": [job]}},
        )

    first = threading.Thread(target=add, args=("job-1",))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=add, args=("job-2",))
    second.start()
    second.join(0.5)
    still_waiting = second.is_alive()  # moto's own update_item finished here, on the old item
    release.set()
    first.join(30)
    second.join(30)
    assert still_waiting
    item = dynamodb.get_item(TableName="runs", Key={"id": {"S": "schedule"}}, ConsistentRead=True)["Item"]
    assert sorted(item["runJobIds"]["SS"]) == ["job-1", "job-2"]
