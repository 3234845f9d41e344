"""moto's DynamoDB expression parsing, kept per text (compat/moto_dynamodb.py): same answers.

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

from asyncapi_cli.local.compat import REGISTRY

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
    # One condition text, other values or names: a remembered parse must not answer for them.
    ("SET a = :v", {}, {":v": {"S": "1"}}, None),
    ("SET b = :v", {}, {":v": {"S": "2"}, ":want": {"S": "1"}}, "a = :want"),  # holds
    ("SET b = :v", {}, {":v": {"S": "3"}, ":want": {"S": "9"}}, "a = :want"),  # same text: fails
    ("SET b = :v", {}, {":v": {"S": "4"}, ":want": {"N": "1"}}, "a = :want"),  # another type: fails
    ("SET c = :v", {"#a": "a"}, {":v": {"S": "5"}, ":pre": {"S": "1"}}, "begins_with(#a, :pre)"),
    ("SET c = :v", {"#a": "b"}, {":v": {"S": "6"}, ":pre": {"S": "1"}}, "begins_with(#a, :pre)"),  # fails
    ("SET c = :v", {"#a": "a"}, {":v": {"S": "8"}, ":n": {"N": "1"}}, "size(#a) = :n"),  # holds
    ("SET c = :v", {"#a": "a"}, {":v": {"S": "9"}, ":n": {"N": "2"}}, "size(#a) = :n"),  # fails
    ("SET d = :v", {}, {":v": {"S": "1"}, ":unused": {"S": "x"}}, "attribute_exists(a)"),  # unused value
    # One update text, other names: a check that passed must not answer for them (the overlapping
    # paths and the key attributes depend on what the names stand for).
    ("SET #a = :v, #b = :w", {"#a": "x", "#b": "y"}, {":v": {"S": "1"}, ":w": {"S": "2"}}, None),
    ("SET #a = :v, #b = :w", {"#a": "x", "#b": "x"}, {":v": {"S": "1"}, ":w": {"S": "2"}}, None),  # dup
    ("SET #k = :v", {"#k": "other"}, {":v": {"S": "1"}}, None),
    ("SET #k = :v", {"#k": "jobId"}, {":v": {"S": "1"}}, None),  # the key attribute
    ("SET #k = :v", {"#k": "other"}, {":v": {"S": "2"}}, None),  # passes again
]


# An item with every DynamoDB attribute type, nested and empty ones included, keyed by "k" (the JSON
# parser's and serializer's tests compare what moto's own code makes of it).
EVERY_TYPE: dict[str, Any] = {
    "k": {"S": "a"},
    "n": {"N": "1.5"},
    "b": {"B": b"\x00\x01"},
    "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"\x02", b"\x03"]},
    "m": {
        "M": {
            "inner": {"B": b"\xff"},
            "text": {"S": "v"},
            "list": {"L": [{"N": "1"}, {"NULL": True}, {"M": {}}, {"BOOL": False}]},
        }
    },
    "empty": {"M": {}},
    "null": {"NULL": True},
    "bool": {"BOOL": True},
    "off": {"BOOL": False},
}


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
    REGISTRY.apply(["dynamodb-parse-cache", "atomic-dynamodb"])


@contextlib.contextmanager
def moto_originals() -> Iterator[None]:
    """moto's own parsing, for the duration (the registry undoes the speed patches, then applies them)."""
    REGISTRY.undo(["dynamodb-parse-cache"])
    try:
        yield
    finally:
        REGISTRY.apply(["dynamodb-parse-cache"])


def test_update_item_answers_as_moto_does(patched: None) -> None:
    fast = run_cases("fast")
    with moto_originals():
        slow = run_cases("slow")
    assert fast == slow
    assert sum(1 for outcome in fast if isinstance(outcome, tuple)) >= 15  # the error cases did fail


def test_a_condition_is_parsed_once_per_text_and_looked_up_values(
    patched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remembered parse is used (moto parses on a miss only), and only while the values the
    condition reads are the same: another value of :completed is parsed anew."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    lexed: list[str] = []
    lex = ConditionExpressionParser._lex_condition_expression

    def counting(self: Any) -> Any:
        lexed.append(self.condition_expression)
        return lex(self)

    monkeypatch.setattr(ConditionExpressionParser, "_lex_condition_expression", counting)
    dynamodb = new_table("jobs")
    text = CLAIM_CONDITION.replace("jobId", "jobId ")  # a text no other test has parsed in this process

    def claim(job: str, values: dict[str, Any]) -> None:
        dynamodb.update_item(
            TableName="jobs",
            Key={"jobId": {"S": job}},
            UpdateExpression=CLAIM,
            ConditionExpression=text,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )

    claim("a", CLAIM_VALUES)
    claim("b", {**CLAIM_VALUES, ":now": {"S": "later"}})  # :now is not in the condition
    assert lexed.count(text) == 1
    claim("c", {**CLAIM_VALUES, ":completed": {"S": "done"}})
    assert lexed.count(text) == 2


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


# UpdateItem on keys that name no item: moto validates against an empty item, creates the item, validates
# again (compat/moto_dynamodb_trees.py validates once when it can). The key attribute read on a new item,
# directly or through a function, keeps moto's own answer.
NEW_ITEM_CASES = [case for case in CASES if "size(" not in (case[3] or "")] + [  # moto: ValueError there
    ("SET copy = jobId", {}, {}, None),
    ("SET copy = if_not_exists(jobId, :v)", {}, {":v": {"S": "d"}}, None),
    ("SET #c = #k", {"#c": "copy", "#k": "jobId"}, {}, None),
    ("SET #c = if_not_exists(#c, :v)", {"#c": "copy"}, {":v": {"S": "d"}}, "attribute_not_exists(jobId)"),
    ("SET a = missing + :one", {}, {":one": {"N": "1"}}, None),
]


def run_new_item_cases(table: str) -> list[Any]:
    dynamodb = new_table(table)
    outcomes: list[Any] = []
    for number, (expression, names, values, condition) in enumerate(NEW_ITEM_CASES):
        request: dict[str, Any] = {
            "TableName": table,
            "Key": {"jobId": {"S": f"new-{number}"}},
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        request.update({"ExpressionAttributeNames": names} if names else {})
        request.update({"ExpressionAttributeValues": values} if values else {})
        request.update({"ConditionExpression": condition} if condition else {})
        try:
            outcomes.append(dynamodb.update_item(**request).get("Attributes"))
        except ClientError as exc:
            outcomes.append((exc.response["Error"]["Code"], exc.response["Error"]["Message"]))
    outcomes.append(sorted(str(i) for i in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]))
    return outcomes


def test_update_item_on_new_items_answers_as_moto_does(mocked_aws: None) -> None:
    groups = ["dynamodb-parse-cache", "dynamodb-validation"]
    REGISTRY.apply(groups)
    fast = run_new_item_cases("fast")
    REGISTRY.undo(groups)
    try:
        slow = run_new_item_cases("slow")
    finally:
        REGISTRY.apply(groups)
    assert fast == slow
    assert sum(1 for outcome in fast if isinstance(outcome, tuple)) >= 10  # the error cases did fail


def test_a_new_item_update_is_validated_once(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The validation's value-resolving pass runs once for a claim on a new item (moto: twice, the first
    against an empty item); a failing one is validated again, by moto's own sequence."""
    from moto.dynamodb.parsing.validators import ExpressionAttributeValueProcessor

    REGISTRY.apply(["dynamodb-parse-cache", "dynamodb-validation"])
    passes: list[int] = []
    traverse = ExpressionAttributeValueProcessor.traverse

    def counting(self: Any, node: Any) -> Any:
        passes.append(1)
        return traverse(self, node)

    monkeypatch.setattr(ExpressionAttributeValueProcessor, "traverse", counting)
    dynamodb = new_table("jobs")
    dynamodb.update_item(
        TableName="jobs",
        Key={"jobId": {"S": "new"}},
        UpdateExpression=CLAIM,
        ConditionExpression=CLAIM_CONDITION,
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=CLAIM_VALUES,
    )
    assert len(passes) == 1
    with pytest.raises(ClientError, match="ValidationException"):
        dynamodb.update_item(
            TableName="jobs",
            Key={"jobId": {"S": "other"}},
            UpdateExpression="SET a = missing + :one",  # a path not in the item: after the values pass
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    assert len(passes) == 1 + 2  # a failed validation is made again as moto makes it, and raises there
    assert "Item" not in dynamodb.get_item(TableName="jobs", Key={"jobId": {"S": "other"}})
    item = dynamodb.get_item(TableName="jobs", Key={"jobId": {"S": "new"}})["Item"]
    assert item["status"] == {"S": "processing"} and item["startedAt"] == {"S": "n"}


def test_a_write_waits_while_another_write_is_in_progress(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The atomic-dynamodb patch (compat/moto_fixes.py): DynamoDB applies each write to an item
    atomically (Developer Guide, "Atomic counters"), so two ADDs to one set both land. moto read,
    changed and stored the item in Python, and a concurrent ADD could lose the other's element. Here the
    first UpdateItem is held inside moto's executor; the second must not get past it meanwhile, and both
    elements are kept."""
    import threading

    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor

    REGISTRY.apply(["atomic-dynamodb"])
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
