"""SNS delivery on the embedded AWS, seen from a loopback HTTP receiver as AWS's would be seen: the
subscription handshake, the message formats and headers (SNS developer guide, "Parsing message
formats"), signatures verified with the certificate fetched from SigningCertURL ("Verifying the
signatures of Amazon SNS messages"), retries per the delivery policy, loopback-only endpoints."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from asyncapi_cli.local.cloudwatch import patches, sns, sns_delivery, sns_messages
from asyncapi_cli.local.compat import REGISTRY


def wait_for(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("condition not reached")


class Receiver:
    """A loopback HTTP endpoint recording what it gets; answers with `statuses` in turn, then 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sns"

    def documents(self, kind: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
        return [(h, json.loads(b)) for h, b in self.received if h.get("x-amz-sns-message-type") == kind]


def verified(document: dict[str, Any]) -> bool:
    """What a receiver does: fetch the certificate at SigningCertURL, check the signature."""
    with urllib.request.urlopen(document["SigningCertURL"], timeout=5) as answer:  # noqa: S310 (loopback)
        certificate = answer.read()
    return sns_messages.verify(document, certificate)


@pytest.fixture
def sns_client() -> Iterator[Any]:
    with mock_aws():
        REGISTRY.apply(patches.GROUPS)
        front = sns.make_front_server()
        threading.Thread(target=front.serve_forever, daemon=True).start()
        sns.front_url = f"http://127.0.0.1:{front.server_address[1]}"
        try:
            yield boto3.client("sns", region_name="us-east-1")
        finally:
            front.shutdown()
            REGISTRY.undo(patches.GROUPS)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


def subscribed(client: Any, receiver: Receiver, topic: str) -> tuple[str, dict[str, Any]]:
    answer = client.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)
    # Subscribe API reference: an unconfirmed subscription's ARN is "pending confirmation".
    assert answer["SubscriptionArn"] == "pending confirmation"
    headers, confirmation = wait_for(lambda: receiver.documents("SubscriptionConfirmation"))[0]
    return headers, confirmation  # type: ignore[return-value]


def test_the_handshake_then_a_signed_notification(sns_client: Any, receiver: Receiver) -> None:
    topic = sns_client.create_topic(Name="alerts")["TopicArn"]
    headers, confirmation = subscribed(sns_client, receiver, topic)
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-message-id"] == confirmation["MessageId"]
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert "x-amz-sns-subscription-arn" not in headers  # not on a SubscriptionConfirmation
    assert set(confirmation) == {
        "Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
        "SignatureVersion", "Signature", "SigningCertURL",
    }  # fmt: skip
    assert confirmation["SignatureVersion"] == "1" and verified(confirmation)
    listed = sns_client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]

    sns_client.publish(TopicArn=topic, Message="not delivered: unconfirmed")
    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=5) as answer:  # noqa: S310
        assert b"<SubscriptionArn>arn:aws:sns:us-east-1:" in answer.read()
    arn = sns_client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    attributes = sns_client.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"

    sns_client.publish(
        TopicArn=topic,
        Message='{"alarm": "raised"}',
        Subject="ALARM: something",
        MessageAttributes={"level": {"DataType": "String", "StringValue": "high"}},
    )
    headers, notification = wait_for(lambda: receiver.documents("Notification"))[0]
    assert len(receiver.documents("Notification")) == 1  # the message sent before the confirmation: none
    assert headers["x-amz-sns-subscription-arn"] == arn
    assert notification["Message"] == '{"alarm": "raised"}' and notification["Subject"] == "ALARM: something"
    assert notification["MessageAttributes"] == {"level": {"Type": "String", "Value": "high"}}
    assert notification["UnsubscribeURL"].startswith(sns.front_url)
    assert verified(notification)
    assert not verified({**notification, "Message": "tampered"})


def test_signature_version_2_is_sha256(sns_client: Any, receiver: Receiver) -> None:
    topic = sns_client.create_topic(Name="v2")["TopicArn"]
    sns_client.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    _, confirmation = subscribed(sns_client, receiver, topic)
    assert confirmation["SignatureVersion"] == "2" and verified(confirmation)
    assert not verified({**confirmation, "SignatureVersion": "1"})  # a SHA1 check fails on it


def test_confirm_subscription_takes_the_token(sns_client: Any, receiver: Receiver) -> None:
    topic = sns_client.create_topic(Name="tokens")["TopicArn"]
    _, confirmation = subscribed(sns_client, receiver, topic)
    with pytest.raises(ClientError) as refused:
        sns_client.confirm_subscription(TopicArn=topic, Token="0" * 128)
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    confirmed = sns_client.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
    assert confirmed["SubscriptionArn"].startswith(topic + ":")


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("http", "http://example.com/hook"),
        ("https", "https://10.0.0.1/hook"),
        ("https", "http://127.0.0.1:1/x"),
    ],
)
def test_only_loopback_endpoints_of_the_protocol_are_accepted(
    sns_client: Any, protocol: str, endpoint: str
) -> None:
    topic = sns_client.create_topic(Name="refuse")["TopicArn"]
    with pytest.raises(ClientError) as refused:
        sns_client.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"


def test_default_delivery_policy_retries_three_times_20_seconds_apart() -> None:
    # SNS developer guide, "Amazon SNS message delivery retries": the HTTP/S default policy.
    assert sns_delivery.retry_delays(sns.DEFAULT_POLICY) == [20.0, 20.0, 20.0]
    policy = {
        **sns.DEFAULT_POLICY,
        "numRetries": 5,
        "numNoDelayRetries": 1,
        "minDelayTarget": 2,
        "maxDelayTarget": 10,
    }
    assert sns_delivery.retry_delays(policy) == [0.0, 2.0 + 8 / 4, 2.0 + 16 / 4, 2.0 + 24 / 4, 10.0]
    # "The total policy retry time for an HTTP/S endpoint cannot be greater than 3,600 seconds."
    slow = {**sns.DEFAULT_POLICY, "numRetries": 100, "minDelayTarget": 60, "maxDelayTarget": 60}
    assert sns_delivery.retry_delays(slow) == [60.0] * 60


def test_a_failed_delivery_is_retried_per_the_policy_and_a_client_error_is_not(
    sns_client: Any, receiver: Receiver
) -> None:
    topic = sns_client.create_topic(Name="retries")["TopicArn"]
    _, confirmation = subscribed(sns_client, receiver, topic)
    arn = sns_client.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"]
    quick = {
        "healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2},
        "requestPolicy": {"headerContentType": "application/json"},
    }
    sns_client.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(quick)
    )
    receiver.statuses = [500, 503]
    sns_client.publish(TopicArn=topic, Message="third time lucky")
    wait_for(lambda: len(receiver.documents("Notification")) == 3)
    ids = {d["MessageId"] for _, d in receiver.documents("Notification")}
    assert len(ids) == 1  # the same message each time
    assert {h["content-type"] for h, _ in receiver.documents("Notification")} == {"application/json"}
    receiver.statuses = [400]
    before = sns_delivery.counters["failures"]
    sns_client.publish(TopicArn=topic, Message="refused")
    wait_for(lambda: sns_delivery.counters["failures"] > before)
    assert [d["Message"] for _, d in receiver.documents("Notification")].count("refused") == 1


def test_email_goes_to_the_log(sns_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    topic = sns_client.create_topic(Name="mail")["TopicArn"]
    with caplog.at_level(logging.INFO, logger="asyncapi.local.sns"):
        sns_client.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    line = next(r.getMessage() for r in caplog.records if "ops@example.com" in r.getMessage())
    url = line.rsplit(" ", 1)[-1]
    with urllib.request.urlopen(url, timeout=5):  # noqa: S310 (the logged confirmation link, loopback)
        pass
    with caplog.at_level(logging.INFO, logger="asyncapi.local.sns"):
        sns_client.publish(TopicArn=topic, Message="the body", Subject="the subject")
    assert any("Subject: the subject\nthe body" in r.getMessage() for r in caplog.records)


def test_unsubscribing_tells_the_endpoint_which_may_restore_the_subscription(
    sns_client: Any, receiver: Receiver
) -> None:
    # LocalStack's parity snapshot recorded on AWS (test_sns.py::TestSNSSubscriptionHttp::
    # test_subscribe_external_http_endpoint): an UnsubscribeConfirmation follows Unsubscribe; a
    # ConfirmSubscription for a topic that does not exist is "Invalid parameter: Topic".
    topic = sns_client.create_topic(Name="leaving")["TopicArn"]
    _, confirmation = subscribed(sns_client, receiver, topic)
    assert confirmation["SubscribeURL"].endswith(
        f"?Action=ConfirmSubscription&TopicArn={topic}&Token={confirmation['Token']}"
    )
    with pytest.raises(ClientError) as refused:
        sns_client.confirm_subscription(TopicArn=topic + "-gone", Token=confirmation["Token"])
    assert refused.value.response["Error"]["Message"] == "Invalid parameter: Topic"
    arn = sns_client.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"]
    sns_client.unsubscribe(SubscriptionArn=arn)
    headers, goodbye = wait_for(lambda: receiver.documents("UnsubscribeConfirmation"))[0]
    assert headers["accept-encoding"] == "gzip,deflate"
    assert goodbye["Message"].startswith(f"You have chosen to deactivate subscription {arn}.\n")
    assert verified(goodbye)
    assert sns_client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    with urllib.request.urlopen(goodbye["SubscribeURL"], timeout=5):  # noqa: S310 (loopback)
        pass
    restored = sns_client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in restored] == [arn]
