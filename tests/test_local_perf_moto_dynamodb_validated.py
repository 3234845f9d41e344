"""moto_dynamodb_validated: a simple UpdateExpression's validated tree, built in one step, is the tree
moto's ten passes make, and whatever moto's passes refuse goes moto's way and raises moto's error.

Every case is validated twice from the same inputs: by moto's own validator (moto_originals(): its
parser, copy and passes) and by the patched one (the parse cache's tree). The outcomes compared: the
exception (class and text), or the tree node for node (class, type, parent, attributes, children), with
each value's DynamoType (type, value, and whether it is the item's own object, as moto's resolver
returns it).
"""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import (
    moto_dynamodb_speedups,
    moto_dynamodb_trees,
    moto_dynamodb_validated,
    moto_patches,
)

from .test_local_perf_moto_dynamodb import CLAIM, CLAIM_VALUES

REGION = "us-east-1"
KEY = "jobId"


@pytest.fixture
def table(mocked_aws: None) -> Any:
    """moto's own Table for a table keyed by jobId (a string), with indexes on `score` (a number) and
    `label` (a string), so that the key checks (type, empty value) have attributes to look at."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    moto_patches.apply()
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="t",
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": KEY, "AttributeType": "S"},
            {"AttributeName": "score", "AttributeType": "N"},
            {"AttributeName": "label", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[{
            "IndexName": "by-score",
            "KeySchema": [{"AttributeName": "score", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }, {
            "IndexName": "by-label",
            "KeySchema": [{"AttributeName": "label", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table("t")


def _item(attrs: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    return Item(DynamoType({"S": "j"}), None, attrs={KEY: {"S": "j"}, **attrs})


def _validate(expression: str, names: dict[str, str], values: dict[str, Any], item: Any, table: Any) -> Any:
    """The validated tree, or ("raised", class, text)."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    try:
        tree = UpdateExpressionParser.make(expression)
        validator = UpdateExpressionValidator(
            tree, expression_attribute_names=names, expression_attribute_values=values, item=item, table=table
        )
        return validator.validate()
    except Exception as exc:  # noqa: BLE001 - compared with what moto raises
        return ("raised", type(exc).__name__, str(exc))


def _shape(tree: Any, item: Any) -> Any:
    """A validated tree in pre-order: each node's class, type, parent (an index), attribute names and
    children (an index; a leaf; a DynamoType as (type, value, whether it is the item's own object))."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.ast_nodes import Node

    if isinstance(tree, tuple):
        return tree
    own = {id(value) for value in item.attrs.values()}
    order: dict[int, int] = {}
    nodes: list[Any] = []

    def visit(node: Any) -> None:
        order[id(node)] = len(nodes)
        nodes.append(node)
        for child in node.children or []:
            if isinstance(child, Node):
                visit(child)

    def leaf(child: Any) -> Any:
        if isinstance(child, Node):
            return order[id(child)]
        if isinstance(child, DynamoType):
            return ("DynamoType", child.type, child.to_json(), id(child) in own)
        return child

    visit(tree)
    return [
        (type(n).__name__, n.type, order.get(id(n.parent)), list(vars(n)), [leaf(c) for c in n.children or ()])  # noqa: E501
        for n in nodes
    ]  # fmt: skip


Case = tuple[
    str, dict[str, str], dict[str, Any], dict[str, Any]
]  # expression, names, values, the item's attributes


def _both(
    expression: str, names: dict[str, str], values: dict[str, Any], attrs: dict[str, Any], table: Any
) -> Any:  # noqa: E501
    """(moto's outcome, the patched outcomes), each on its own copy of the item: the patched validator's
    first validation runs the checks, the second may be built."""
    with moto_dynamodb_speedups.moto_originals():
        item = _item(attrs)
        moto = _shape(_validate(expression, names, values, item, table), item)
    patched = []
    for _ in range(2):
        item = _item(attrs)
        patched.append(_shape(_validate(expression, names, values, item, table), item))
    return moto, patched


# Hand-picked cases: the processor's own writes, each way the fast path must step aside, and moto's quirks.
CASES: list[Case] = [  # fmt: skip
    (CLAIM, {"#s": "status"}, CLAIM_VALUES, {}),  # a new job's claim
    (
        CLAIM,
        {"#s": "status"},
        CLAIM_VALUES,
        {"createdAt": {"S": "old"}, "startedAt": {"S": "s"}},
    ),  # redelivered
    (
        "SET #s = :s, completedAt = :now, #r = :r REMOVE #e",
        {"#s": "status", "#r": "result", "#e": "error"},
        {":s": {"S": "completed"}, ":now": {"S": "n"}, ":r": {"S": "s3://b/k"}},
        {"error": {"S": "x"}},
    ),
    (
        "REMOVE a, #b SET c = :v",
        {"#b": "b"},
        {":v": {"L": [{"S": "x"}, {"M": {"k": {"N": "1"}}}]}},
        {"a": {"N": "1"}},
    ),
    ("SET a = if_not_exists(#n, :v)", {"#n": "m"}, {":v": {"N": "2"}}, {"m": {"M": {"x": {"S": "y"}}}}),
    ("SET a = :v", {}, {":v": {"S": ""}}, {}),  # an empty string: not a key attribute
    ("SET score = :v", {}, {":v": {"N": "3"}}, {}),  # an index key, its own type
    ("SET score = :v", {}, {":v": {"S": "3"}}, {}),  # an index key, another type: moto refuses
    ("SET #r = :v", {"#r": "score"}, {":v": {"S": "3"}}, {}),  # moto checks the placeholder's text: accepted
    ("SET score = :v", {}, {":v": {"N": ""}}, {}),
    ("SET note = :v", {}, {":v": {"B": b""}}, {}),
    ("SET label = :v", {}, {":v": {"S": ""}}, {}),  # an empty string for an index key: moto refuses
    ("SET #l = :v", {"#l": "label"}, {":v": {"S": ""}}, {}),  # the placeholder's text again: accepted
    ("SET a = :missing", {}, {":v": {"S": "1"}}, {}),  # undefined value
    ("SET #missing = :v", {}, {":v": {"S": "1"}}, {}),  # undefined name
    ("SET a = if_not_exists(#missing, :v)", {}, {":v": {"S": "1"}}, {}),
    ("SET a = if_not_exists(b, :missing)", {}, {":v": {"S": "1"}}, {"b": {"S": "kept"}}),
    ("SET status = :v", {}, {":v": {"S": "1"}}, {}),  # a reserved word
    ("SET a = if_not_exists(size, :v)", {}, {":v": {"S": "1"}}, {}),  # a reserved word inside
    ("REMOVE comment", {}, {}, {}),  # a reserved word in REMOVE
    ("SET jobId = :v", {}, {":v": {"S": "other"}}, {}),  # the key attribute
    ("SET a = :v, a = :w", {}, {":v": {"S": "1"}, ":w": {"S": "2"}}, {}),  # overlapping paths
    ("SET #a = :v, #b = :w", {"#a": "x", "#b": "x"}, {":v": {"S": "1"}, ":w": {"S": "2"}}, {}),
    ("SET a = b", {}, {}, {"b": {"S": "copied"}}),  # not simple: a path as the value
    ("SET a = b", {}, {}, {}),
    ("SET a = :v + :w", {}, {":v": {"N": "1"}, ":w": {"N": "2"}}, {}),
    ("SET a.b = :v", {}, {":v": {"N": "1"}}, {"a": {"M": {}}}),
    ("SET l[0] = :v", {}, {":v": {"N": "1"}}, {"l": {"L": [{"N": "0"}]}}),
    ("SET a = list_append(a, :v)", {}, {":v": {"L": [{"N": "1"}]}}, {"a": {"L": []}}),
    ("ADD n :v", {}, {":v": {"N": "1"}}, {}),
    ("SET a = :v", {}, {":v": {"Q": "unknown type"}}, {}),
    ("SET a = :v", {}, {":v": {}}, {}),  # moto raises on an empty value: the fast path steps aside
]


@pytest.mark.parametrize("case", CASES, ids=[case[0][:40] for case in CASES])
def test_a_case_validates_as_moto_validates_it(table: Any, case: Any) -> None:
    moto, patched = _both(*case, table)
    assert patched == [moto, moto]


def test_the_processors_writes_are_built_without_moto_passes(table: Any) -> None:
    """The fast path is taken for the writes it exists for (a plan, a tree built), and not for others."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    for expression in (CLAIM, "SET #s = :s, completedAt = :now REMOVE #e", "REMOVE a"):
        assert moto_dynamodb_validated.plan_of(UpdateExpressionParser.make(expression)) is not None
    for expression in ("SET a = b", "SET a = :v + :w", "SET a.b = :v", "ADD n :v", "SET status = :v"):
        assert moto_dynamodb_validated.plan_of(UpdateExpressionParser.make(expression)) is None
    _both(CLAIM, {"#s": "status"}, CLAIM_VALUES, {}, table)  # the checks have passed once
    tree = UpdateExpressionParser.make(CLAIM)
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    validator = UpdateExpressionValidator(
        tree, expression_attribute_names={"#s": "status"}, expression_attribute_values=CLAIM_VALUES,
        item=_item({}), table=table,
    )  # fmt: skip
    assert isinstance(validator.node_to_validate, moto_dynamodb_trees.Deferred)  # no copy made
    built = validator.validate()
    assert isinstance(validator.node_to_validate, moto_dynamodb_trees.Deferred)  # and none needed
    assert built.children[0].type == "UpdateExpressionSetClause"


NAMES = ["a", "b", "createdAt", "score", "label", KEY, "status", "size"]  # two reserved words, three keys
VALUES = [{"S": "x"}, {"S": ""}, {"N": "7"}, {"N": ""}, {"B": b"\x00"}, {"BOOL": True}, {"NULL": True},
          {"L": [{"S": "a"}]}, {"M": {"k": {"S": "v"}}}, {"SS": ["a", "b"]}]  # fmt: skip


def _random_case(rng: random.Random) -> Case:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}

    def path() -> str:
        name = rng.choice(NAMES)
        if rng.random() < 0.5:
            placeholder = f"#p{len(names)}"
            if rng.random() < 0.95:
                names[placeholder] = name
            return placeholder
        return name

    def value() -> str:
        placeholder = f":v{len(values)}"
        if rng.random() < 0.95:
            values[placeholder] = rng.choice(VALUES)
        return placeholder

    sets = []
    for _ in range(rng.randint(0, 4)):
        target = path()
        function = rng.random() < 0.3
        sets.append(f"{target} = if_not_exists({path()}, {value()})" if function else f"{target} = {value()}")
    removes = [path() for _ in range(rng.randint(0 if sets else 1, 2))]
    clauses = [f"SET {', '.join(sets)}"] if sets else []
    clauses += [f"REMOVE {', '.join(removes)}"] if removes else []
    rng.shuffle(clauses)
    attrs = {name: rng.choice(VALUES) for name in rng.sample(NAMES[:5] + ["status"], rng.randint(0, 4))}
    return " ".join(clauses), names, values, attrs


def test_random_simple_expressions_validate_as_moto_validates_them(table: Any) -> None:
    rng = random.Random(13)
    built = refused = 0
    for _ in range(400):
        expression, names, values, attrs = _random_case(rng)
        moto, patched = _both(expression, names, values, attrs, table)
        assert patched == [moto, moto], expression
        if isinstance(moto, tuple):
            refused += 1
        else:
            built += 1
    assert built > 50 and refused > 50  # both ways were exercised


def test_an_update_item_answers_as_moto_does(mocked_aws: None) -> None:
    """End to end through UpdateItem (the executor runs on the built tree): the same items and errors."""
    from botocore.exceptions import ClientError

    moto_patches.apply()
    dynamodb = boto3.client("dynamodb", region_name=REGION)

    def run(name: str) -> list[Any]:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        rng, outcomes = random.Random(7), []
        for index in range(150):
            expression, names, values, _ = _random_case(rng)
            request: dict[str, Any] = {"TableName": name, "Key": {KEY: {"S": f"j{index % 20}"}},
                                       "UpdateExpression": expression, "ReturnValues": "ALL_NEW"}  # fmt: skip
            if names:
                request["ExpressionAttributeNames"] = names
            if values:
                request["ExpressionAttributeValues"] = values
            try:
                outcomes.append(dynamodb.update_item(**request).get("Attributes"))
            except ClientError as exc:
                outcomes.append((exc.response["Error"]["Code"], exc.response["Error"]["Message"]))
            except Exception as exc:  # noqa: BLE001 - moto's own crash (a KeyError for an undefined #name)
                outcomes.append((type(exc).__name__, str(exc)))
        return outcomes

    fast = run("fast")
    with moto_dynamodb_speedups.moto_originals():
        slow = run("slow")
    assert fast == slow
    assert sum(1 for outcome in fast if isinstance(outcome, dict)) > 20
