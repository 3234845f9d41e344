"""moto_xml_answers: moto's XML answers, written the direct way, are xmltodict's own, byte for byte.

Every XML body moto writes during a workload of query-protocol calls (SQS's query protocol as the
gateway sends it, IAM, STS; errors included) is written both ways; and odd bodies are compared directly
with `xmltodict.unparse(body, full_document=False, short_empty_elements=True)`, which moto calls
(moto/core/serialize.py BaseXMLSerializer._serialize_body).
"""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest
import xmltodict
from botocore.exceptions import ClientError
from moto.core.serialize import BaseXMLSerializer

from asyncapi_cli.local import moto_patches, moto_xml_answers

REGION = "us-east-1"


def unparse(body: Any) -> str:
    return str(xmltodict.unparse(body, full_document=False, short_empty_elements=True))


@pytest.fixture
def compared(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    moto_patches.apply()
    fast, walk = (
        BaseXMLSerializer._serialize_body,
        moto_patches.originals["BaseXMLSerializer._serialize_body"],
    )
    assert fast is not walk  # the patch is in place
    seen: dict[str, Any] = {"written": 0, "direct": [], "different": []}

    def both(self: Any, body: Any) -> Any:
        mine, theirs = fast(self, body), walk(self, body)
        seen["written"] += 1
        if moto_xml_answers.plain_xml(body) is not None:
            seen["direct"].append(theirs)
        if mine != theirs:
            seen["different"].append((mine, theirs))
        return theirs

    monkeypatch.setattr(BaseXMLSerializer, "_serialize_body", both)
    return seen


def test_query_protocol_answers_are_xmltodicts(compared: dict[str, Any]) -> None:
    from asyncapi_cli.local.sqs_seam import answer_query

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    path = url.split("amazonaws.com", 1)[-1] if "amazonaws.com" in url else "/123456789012/q"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bodies = [
        "Action=SendMessage&MessageBody=%7B%22jobId%22%3A+%22a%26b%3Cc%3E%22%7D",
        "Action=SendMessage&MessageBody=quote%22and%27apostrophe%0Dcr",
        "Action=SendMessage&MessageBody=x&MessageAttribute.1.Name=n&MessageAttribute.1.Value.DataType=String"
        "&MessageAttribute.1.Value.StringValue=v",
        "Action=SendMessage",  # no body: an error answer
        "Action=GetQueueAttributes&AttributeName.1=All",
        "Action=ChangeMessageVisibility&ReceiptHandle=nope&VisibilityTimeout=5",  # an error answer
    ]
    for body in bodies:
        answer_query("http://localhost:5000", REGION, path, "POST", dict(form), body)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    iam.list_roles()
    with pytest.raises(ClientError):
        iam.get_role(RoleName="missing")
    boto3.client("sts", region_name=REGION).get_caller_identity()
    assert compared["different"] == []
    assert compared["written"] == 9
    # SendMessage's answers and the errors were written directly (listings hold lists: xmltodict's way).
    assert sum("<SendMessageResponse " in body for body in compared["direct"]) == 3
    assert sum("<ErrorResponse " in body for body in compared["direct"]) >= 2


NAMES = ["A", "MessageId", "x.y", "_u", "a-b", "ns:tag", "1bad", "has space", ""]
TEXTS = ["", "plain", "a&b<c>d", 'q"uote', "ap'os", "both\"'", "\r\n\t", "é\U0001f600", "]]>"]


def random_body(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice(TEXTS)
    if roll < 0.4:
        return rng.choice([None, 1, True, ["a", "b"], [], b"bytes"])  # xmltodict's own way
    body: dict[Any, Any] = {}
    for _ in range(rng.randint(0, 3)):
        body[rng.choice(NAMES)] = random_body(rng, depth + 1)
    if rng.random() < 0.3:
        body["@xmlns"] = rng.choice(TEXTS + ["http://queue.amazonaws.com/doc/2012-11-05/"])
    if rng.random() < 0.05:
        body[rng.choice(["@other", "#text", "#comment"])] = "v"
    return body


def test_random_bodies_are_written_as_xmltodict_writes_them() -> None:
    rng = random.Random(13)
    direct = 0
    for _ in range(3000):
        body = {rng.choice(NAMES): random_body(rng)}
        mine = moto_xml_answers.plain_xml(body)
        try:
            theirs = unparse(body)
        except ValueError:  # xmltodict refuses the body (a bad name): never written directly
            assert mine is None, body
            continue
        if mine is not None:
            direct += 1
            assert mine == theirs, body
    assert direct > 800  # the direct way is taken for the plain ones


def test_the_send_message_answer() -> None:
    body = {
        "SendMessageResponse": {
            "SendMessageResult": {"MD5OfMessageBody": "abc", "MessageId": "id-1"},
            "ResponseMetadata": {"RequestId": "r"},
            "@xmlns": "http://queue.amazonaws.com/doc/2012-11-05/",
        }
    }
    assert (
        moto_xml_answers.plain_xml(body)
        == unparse(body)
        == (
            '<SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageResult>'
            "<MD5OfMessageBody>abc</MD5OfMessageBody><MessageId>id-1</MessageId></SendMessageResult>"
            "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SendMessageResponse>"
        )
    )
