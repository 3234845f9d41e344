"""The AWS/SQS metrics the embedded AWS publishes, from SQS calls made with boto3 against moto with its
patches (Amazon SQS developer guide, "Available CloudWatch metrics for Amazon SQS"): one datapoint per
queue and metric per minute, zeros for a queue without activity, and a message dead-lettered by the
redrive policy counted in the DLQ's ApproximateNumberOfMessagesVisible, not its NumberOfMessagesSent."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from asyncapi_cli.local.cloudwatch import patches, publishers
from asyncapi_cli.local.cloudwatch.store import STORE
from asyncapi_cli.local.compat import REGISTRY

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        STORE.clear()
        publishers.SQS.take()  # counts of earlier tests in this process
        REGISTRY.apply(patches.GROUPS)
        try:
            yield boto3.client("sqs", region_name=REGION)
        finally:
            REGISTRY.undo(patches.GROUPS)


def minute_values(queue: str, minute: float) -> dict[str, float]:
    out = {}
    for metric in (*publishers.SQS_COUNTERS, "ApproximateNumberOfMessagesVisible",
                   "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
                   "ApproximateAgeOfOldestMessage"):  # fmt: skip
        points = STORE.points(
            ACCOUNT, REGION, "AWS/SQS", metric, [{"Name": "QueueName", "Value": queue}], 0, 4e9
        )
        assert [p.at for p in points] == [minute] and points[0].count == 1  # one datapoint a minute
        out[metric] = points[0].total
    return out


def test_a_minute_of_sqs_calls_as_cloudwatch_reports_it(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    work = sqs.create_queue(
        QueueName="work", Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "0"}
    )["QueueUrl"]
    sqs.create_queue(QueueName="idle")
    sqs.send_message(QueueUrl=work, MessageBody="a")
    sqs.send_message(QueueUrl=work, MessageBody="b", DelaySeconds=600)
    sqs.send_message_batch(QueueUrl=work, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    received = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=work, ReceiptHandle=received[0]["ReceiptHandle"])
    # Received once (maxReceiveCount 1), visible again at once: the next receive moves them to the DLQ.
    assert sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10).get("Messages") is None
    minute = math.floor(time.time() / 60) * 60
    assert publishers.sample_sqs(minute, now=time.time() + 90) == 3

    work_values = minute_values("work", minute)
    assert {k: work_values[k] for k in publishers.SQS_COUNTERS} == {
        "NumberOfMessagesSent": 5.0,
        "NumberOfMessagesReceived": 4.0,
        "NumberOfMessagesDeleted": 1.0,
        "NumberOfEmptyReceives": 1.0,
    }
    assert work_values["ApproximateNumberOfMessagesVisible"] == 0.0
    assert work_values["ApproximateNumberOfMessagesDelayed"] == 1.0
    assert 89 <= work_values["ApproximateAgeOfOldestMessage"] <= 95  # the delayed message, sent ~90 s before

    dlq_values = minute_values("work-dlq", minute)
    assert dlq_values["ApproximateNumberOfMessagesVisible"] == 3.0
    assert dlq_values["NumberOfMessagesSent"] == 0.0  # redriven, not sent
    idle = minute_values("idle", minute)
    assert set(idle.values()) == {0.0}  # an active queue reports zeros
