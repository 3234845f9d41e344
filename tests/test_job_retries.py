"""The processor's retry backoff (handlers/job_retries.py), against moto's SQS: the calls it makes and what
they do to the message, as they would on AWS.

Sources:
- ERRORS: "Handling errors for an SQS event source in Lambda"
  (docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): with ReportBatchItemFailures
  the failed records stay on the queue; a function may set a backoff with ChangeMessageVisibility.
- SQS API reference, ChangeMessageVisibility: the message becomes visible again after VisibilityTimeout
  seconds from now (0-43,200); RedrivePolicy: after maxReceiveCount receives, the next receive moves it
  to the dead-letter queue.
"""

from __future__ import annotations

import json
import time
from types import ModuleType
from typing import Any

import boto3
import pytest

from asyncapi_cli.local.events.sqs_poller import MappingSpec, to_record

from .test_handlers import handlers, item, lambda_code  # noqa: F401  (fixtures)

REGION = "us-east-1"
ACCOUNT = "123456789012"


def _queues() -> tuple[str, str, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="r-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    main = sqs.create_queue(
        QueueName="r-main",
        Attributes={
            # AWS's guidance for a 300 s function: 6 x 300 + the window. Nothing returns on its own in a test.
            "VisibilityTimeout": "1801",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
        },
    )["QueueUrl"]
    return main, dlq, f"arn:aws:sqs:{REGION}:{ACCOUNT}:r-main"


def _spec(queue_arn: str) -> MappingSpec:
    return MappingSpec("u", ACCOUNT, REGION, queue_arn, "processor", 10, 0, True)


def _receive(url: str, timeout: float = 30.0) -> dict[str, Any]:
    sqs = boto3.client("sqs", region_name=REGION)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages")
        if messages:
            return dict(messages[0])
        time.sleep(0.05)
    raise AssertionError("no message came back")


def _visibility_calls(processor: ModuleType) -> list[dict[str, Any]]:
    """The ChangeMessageVisibility calls the processor's own SQS client makes (botocore's event hook:
    the parameters as sent, the call itself goes to moto)."""
    calls: list[dict[str, Any]] = []
    client = processor._client("sqs")
    client.meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibility", lambda params, **_: calls.append(dict(params))
    )
    return calls


def test_a_failing_job_comes_back_at_the_backoff_then_goes_to_the_dlq(
    handlers: dict[str, ModuleType],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ERRORS + SQS API: attempt n comes back after base * 2^(n-1) s; the last at once, then redrive.
    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "1")
    processor = handlers["job_processor"]
    main, dlq, arn = _queues()
    sqs = boto3.client("sqs", region_name=REGION)
    calls = _visibility_calls(processor)
    sqs.send_message(
        QueueUrl=main,
        MessageBody=json.dumps({"fail": True, "failMessage": "boom"}),
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": "retry-1"}},
    )
    for attempt in (1, 2, 3):
        message = _receive(main)
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        answer = processor.lambda_handler({"Records": [to_record(message, _spec(arn))]}, None)
        assert answer == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
        assert item("retry-1")["status"] == ("failed" if attempt == 3 else "retrying")
    assert [(c["QueueUrl"], c["VisibilityTimeout"]) for c in calls] == [(main, 1), (main, 2), (main, 0)]
    # The fourth receive moves it to the dead-letter queue (SQS redrive) instead of delivering it.
    assert sqs.receive_message(QueueUrl=main, WaitTimeSeconds=0).get("Messages") is None
    moved = _receive(dlq, timeout=5)
    assert json.loads(moved["Body"]) == {"fail": True, "failMessage": "boom"}


def test_the_backoff_doubles_and_is_capped_at_sqs_limit(handlers: dict[str, ModuleType]) -> None:  # noqa: F811
    import job_retries  # the deployment zip's module (the fixture put it on sys.path)

    delays = [job_retries.retry_delay(n, 10, 2) for n in range(1, 11)]
    assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 512, 0]
    assert job_retries.retry_delay(20, 30, 2) == 43_200  # SQS: VisibilityTimeout at most 12 hours
    assert job_retries.retry_delay(3, 3, 2) == 0


def test_a_successful_record_is_left_alone(handlers: dict[str, ModuleType]) -> None:  # noqa: F811
    processor = handlers["job_processor"]
    main, _, arn = _queues()
    calls = _visibility_calls(processor)
    boto3.client("sqs", region_name=REGION).send_message(
        QueueUrl=main,
        MessageBody=json.dumps({"n": 1}),
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": "fine-1"}},
    )
    message = _receive(main)
    answer = processor.lambda_handler({"Records": [to_record(message, _spec(arn))]}, None)
    assert answer == {"batchItemFailures": []} and calls == []
    assert item("fine-1")["status"] == "completed"
