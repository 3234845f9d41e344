"""`asyncapi dlq list` shows what lands in the features' dead-letter queues, through the real CLI against
a moto server: a stack with scheduling and websocket, and messages shaped as AWS sends them.

- A schedule run Scheduler could not deliver: the target's Input as the body, and the message attributes
  ERROR_CODE and ERROR_MESSAGE (EventBridge Scheduler user guide, "Configuring a dead-letter queue for
  EventBridge Scheduler").
- A stream batch the pusher failed on: the on-failure record, with requestContext.condition and
  DDBStreamBatchInfo (Lambda developer guide, "Retaining discarded batches for a DynamoDB event source").
"""

from __future__ import annotations

import json

import boto3

from .conftest import run_cli

NAME = "dlq-features"


def test_dlq_list_shows_the_feature_queues(moto_server: str) -> None:
    up = run_cli(
        "up", "--endpoint-url", moto_server, "--name", NAME, "--with", "scheduling,websocket", "--json"
    )
    assert up.returncode == 0, up.stderr
    sqs = boto3.client(
        "sqs",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    schedules_dlq = sqs.get_queue_url(QueueName=f"{NAME}-schedules-dlq")["QueueUrl"]
    pusher_dlq = sqs.get_queue_url(QueueName=f"{NAME}-pusher-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=schedules_dlq,
        MessageBody=json.dumps({"scheduleId": "sch-1", "job": {"n": 1}}),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "AWS.SQS.AccessDenied"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Access to the resource is denied."},
        },
    )
    sqs.send_message(
        QueueUrl=pusher_dlq,
        MessageBody=json.dumps(
            {
                "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
                "DDBStreamBatchInfo": {
                    "shardId": "shard-1",
                    "startSequenceNumber": "100",
                    "endSequenceNumber": "120",
                    "batchSize": 3,
                },
            }
        ),
    )
    listed = run_cli("dlq", "list", "--name", NAME, "--json")
    assert listed.returncode == 0, listed.stderr
    queues = {q["queue"]: q["messages"] for q in json.loads(listed.stdout)["featureQueues"]}
    assert set(queues) == {f"{NAME}-schedules-dlq", f"{NAME}-pusher-dlq"}
    (run,) = queues[f"{NAME}-schedules-dlq"]
    assert (run["about"], run["error"]) == ("sch-1", "Access to the resource is denied.")
    (batch,) = queues[f"{NAME}-pusher-dlq"]
    assert (batch["about"], batch["error"]) == ("stream batch 100..120", "RetryAttemptsExhausted")
    # The human table names the queues too, and listing consumed nothing.
    table = run_cli("dlq", "list", "--name", NAME)
    assert f"{NAME}-schedules-dlq: 1 message(s)" in table.stdout and "sch-1" in table.stdout
    down = run_cli("down", "--name", NAME, "--yes", "--json")
    assert down.returncode == 0, down.stderr
    assert sqs.list_queues(QueueNamePrefix=NAME).get("QueueUrls", []) == []  # the DLQs went with `down`
