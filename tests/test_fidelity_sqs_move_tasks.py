"""SQS message move tasks in the embedded AWS (moto lacks them), through boto3 as `asyncapi dlq
redrive` calls them.

Sources: AWS API reference API_StartMessageMoveTask.html / API_ListMessageMoveTasks.html /
API_CancelMessageMoveTask.html (shapes also in botocore's sqs model), and "Configuring a dead-letter
queue redrive" (sqs-configure-dead-letter-queue-redrive.html): without DestinationArn, messages go
back to their source queue; the source must be a DLQ; one active task per source queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from .conftest import apply_embedded_moto_patches

REGION = "us-east-1"


@pytest.fixture
def sqs(mocked_aws: None) -> Iterator[Any]:
    apply_embedded_moto_patches()
    yield boto3.client("sqs", region_name=REGION)


def arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def dead_letter(sqs: Any, prefix: str, bodies: list[str]) -> tuple[str, str]:
    """A source queue and its DLQ holding `bodies`, dead-lettered by SQS itself (maxReceiveCount 1)."""
    dlq = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
    source = sqs.create_queue(
        QueueName=prefix,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn(sqs, dlq), "maxReceiveCount": 1}),
        },
    )["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=source, MessageBody=body)
    while sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages"):
        pass  # received once each; the next receive moves them to the DLQ
    assert depth(sqs, dlq) == len(bodies)
    return source, dlq


def depth(sqs: Any, url: str) -> int:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(found["Attributes"]["ApproximateNumberOfMessages"])


def wait_status(sqs: Any, source_arn: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        task = sqs.list_message_move_tasks(SourceArn=source_arn)["Results"][0]
        if task["Status"] == status:
            return dict(task)
        assert time.monotonic() < deadline, task
        time.sleep(0.02)


def test_redrive_returns_messages_to_their_source_queue(sqs: Any) -> None:
    source, dlq = dead_letter(sqs, "jobs", ["a", "b", "c"])
    handle = sqs.start_message_move_task(SourceArn=arn(sqs, dlq))["TaskHandle"]
    assert handle
    task = wait_status(sqs, arn(sqs, dlq), "COMPLETED")
    assert task["ApproximateNumberOfMessagesMoved"] == 3 and task["ApproximateNumberOfMessagesToMove"] == 3
    assert "TaskHandle" not in task and "DestinationArn" not in task and task["StartedTimestamp"] > 0
    assert depth(sqs, dlq) == 0
    bodies = sorted(
        m["Body"] for m in sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"]
    )
    assert bodies == ["a", "b", "c"]


def test_redrive_to_a_destination_and_pacing_are_reported(sqs: Any) -> None:
    _, dlq = dead_letter(sqs, "paced", ["a", "b"])
    elsewhere = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    sqs.start_message_move_task(
        SourceArn=arn(sqs, dlq), DestinationArn=arn(sqs, elsewhere), MaxNumberOfMessagesPerSecond=100
    )
    task = wait_status(sqs, arn(sqs, dlq), "COMPLETED")
    assert task["DestinationArn"] == arn(sqs, elsewhere) and task["MaxNumberOfMessagesPerSecond"] == 100
    assert depth(sqs, elsewhere) == 2


def test_cancel_stops_a_running_task(sqs: Any) -> None:
    _, dlq = dead_letter(sqs, "slow", [str(i) for i in range(5)])
    handle = sqs.start_message_move_task(SourceArn=arn(sqs, dlq), MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    running = sqs.list_message_move_tasks(SourceArn=arn(sqs, dlq))["Results"][0]
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    with pytest.raises(ClientError):  # one active task per source queue
        sqs.start_message_move_task(SourceArn=arn(sqs, dlq))
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    task = wait_status(sqs, arn(sqs, dlq), "CANCELLED")
    assert moved <= task["ApproximateNumberOfMessagesMoved"] < 5


def test_the_source_must_be_a_dead_letter_queue(sqs: Any) -> None:
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    with pytest.raises(ClientError) as error:
        sqs.start_message_move_task(SourceArn=arn(sqs, plain))
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as missing:
        sqs.start_message_move_task(SourceArn="arn:aws:sqs:us-east-1:123456789012:nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
