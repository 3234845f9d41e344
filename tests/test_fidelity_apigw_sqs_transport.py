"""The gateway's SQS transport: the embedded SQS answered in-process (sqs_seam.answer_query) answers
exactly as the server does over HTTP (HttpSqs, a signed request), successes and errors alike.

The integration responses select on the status and the VTL templates read the JSON the answer becomes
(`$input.path('$.SendMessageResponse.SendMessageResult.MessageId')`), and api_errors maps the error
codes to 500 or 503 + Retry-After; so status, error code and the answer's members must not change.
"""

from __future__ import annotations

import json
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from asyncapi_cli.local.gateway.integrations import HttpSqs, InProcessSqs, _xml_to_json

from .fidelity_apigw import ACCOUNT, REGION, Embedded

# Its tests share a module-scoped server: one pytest-xdist worker runs them all (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_fidelity_apigw_sqs_transport")

FORM = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def aws() -> Iterator[Embedded]:
    embedded = Embedded()
    embedded.client("sqs").create_queue(QueueName="transport-q")
    yield embedded
    embedded.close()


def both(aws: Embedded, path: str, form: dict[str, str], region: str = REGION) -> list[tuple[int, Any]]:
    body = urllib.parse.urlencode(form)
    answers = []
    for transport in (InProcessSqs(aws.endpoint), HttpSqs(aws.endpoint)):
        status, text, _ = transport(region, path, "POST", dict(FORM), body)
        try:
            answers.append((status, _xml_to_json(text)))
        except ElementTree.ParseError:  # moto failed (a 500 page): no error code either way
            answers.append((status, {}))
    return answers


def send_form(body: str = '{"a": 1}', **extra: str) -> dict[str, str]:
    return {"Action": "SendMessage", "MessageBody": body, **extra}


def test_a_sent_message_answers_alike(aws: Embedded) -> None:
    attributes = {
        "MessageAttribute.1.Name": "jobId",
        "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "job-1",
    }
    (in_status, in_json), (http_status, http_json) = both(
        aws, f"{ACCOUNT}/transport-q", send_form(**attributes)
    )
    assert in_status == http_status == 200
    in_result = in_json["SendMessageResponse"]["SendMessageResult"]
    http_result = http_json["SendMessageResponse"]["SendMessageResult"]
    assert set(in_result) == set(http_result)
    assert in_result["MessageId"] != http_result["MessageId"]
    for member in ("MD5OfMessageBody", "MD5OfMessageAttributes"):
        assert in_result[member] == http_result[member] and in_result[member]
    assert in_json["SendMessageResponse"]["ResponseMetadata"]["RequestId"]
    queue_url = aws.client("sqs").get_queue_url(QueueName="transport-q")["QueueUrl"]
    got = aws.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert sorted(m["MessageId"] for m in got) == sorted([in_result["MessageId"], http_result["MessageId"]])
    assert {m["MessageAttributes"]["jobId"]["StringValue"] for m in got} == {"job-1"}
    for message in got:
        aws.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (f"{ACCOUNT}/no-such-queue", send_form()),  # AWS.SimpleQueueService.NonExistentQueue
        (f"{ACCOUNT}/transport-q", {"Action": "SendMessage"}),  # MessageBody missing: moto fails, 500
        (f"{ACCOUNT}/transport-q", send_form(DelaySeconds="901")),  # beyond 15 minutes
        (f"{ACCOUNT}/transport-q", {"Action": "NoSuchAction"}),
    ],
)
def test_errors_answer_alike(aws: Embedded, path: str, form: dict[str, str]) -> None:
    (in_status, in_json), (http_status, http_json) = both(aws, path, form)
    assert in_status == http_status and in_status >= 400
    assert in_json.get("Error", {}).get("Code") == http_json.get("Error", {}).get("Code")
    assert json.dumps(in_json).count("Error") == json.dumps(http_json).count("Error")


def test_the_region_of_the_integration_uri_is_the_queues(aws: Embedded) -> None:
    other = "eu-west-1"
    sqs = boto3.client(
        "sqs",
        endpoint_url=aws.endpoint,
        region_name=other,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    queue_url = sqs.create_queue(QueueName="transport-eu")["QueueUrl"]
    status, text, _ = InProcessSqs(aws.endpoint)(
        other, f"{ACCOUNT}/transport-eu", "POST", dict(FORM), urllib.parse.urlencode(send_form())
    )
    assert status == 200
    sent = _xml_to_json(text)["SendMessageResponse"]["SendMessageResult"]["MessageId"]
    got = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert [m["MessageId"] for m in got] == [sent]
    # ... and not into a queue of that name in the default region
    status, _, _ = InProcessSqs(aws.endpoint)(
        REGION, f"{ACCOUNT}/transport-eu", "POST", dict(FORM), urllib.parse.urlencode(send_form())
    )
    assert status == 400
