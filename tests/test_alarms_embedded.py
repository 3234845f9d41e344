"""A stack's alarms on the embedded AWS, through the real CLI, as a user tries them without an account:
`[alarms] notify` subscribes a loopback endpoint, which confirms through the SubscribeURL it is sent; a job
that fails every receive is dead-lettered; the stack's DLQ alarm (ApproximateNumberOfMessagesVisible >= 1,
one 1-minute period) turns to ALARM at the first minute boundary after the message arrives, the endpoint
gets the signed ALARM notification, and `asyncapi status` / `asyncapi alarms` show it. GetMetricData answers
the DLQ's datapoints. (CloudWatch user guide, "Using Amazon CloudWatch alarms"; SNS developer guide,
"Fanout to HTTP/S endpoints": the confirmation handshake and the notification's fields.)
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from asyncapi_cli.local import manager
from asyncapi_cli.local.cloudwatch import sns_messages

from .conftest import run_cli
from .test_cloudwatch_embedded import Endpoint, wait_for
from .test_local import client

# A few minutes of real time on one xdist worker, beside the others (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_alarms_embedded")

NAME = "alarmed"
DLQ_ALARM = f"{NAME}-dlq-messages"
FAILING = {"task": "always fails", "fail": True, "failMessage": "simulated failure"}


def test_a_dead_lettered_job_pages_the_endpoint_and_shows_in_status(tmp_path: Path) -> None:
    endpoint = Endpoint()
    try:
        Path("asyncapi.toml").write_text(f'[alarms]\nnotify = ["{endpoint.url}"]\n', encoding="utf-8")
        up = run_cli("up", "--local", "--name", NAME, "--json")
        assert up.returncode == 0, up.stderr
        info = manager.running_info()
        assert info is not None
        outputs = json.loads(up.stdout)["outputs"]
        # The endpoint confirmed through its SubscribeURL: the subscription has an ARN of its own.
        sns = client("sns", info)
        topic = f"arn:aws:sns:us-east-1:123456789012:{NAME}-alarms"
        wait_for(
            lambda: [
                s
                for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
                if s["Endpoint"] == endpoint.url and s["SubscriptionArn"].startswith(topic + ":")
            ],
            30,
            "the notify endpoint's subscription confirmed",
        )
        assert len(endpoint.of_type("SubscriptionConfirmation")) == 1

        payload = tmp_path / "failing.json"
        payload.write_text(json.dumps(FAILING), encoding="utf-8")
        failed = run_cli("test-job", "--payload", f"@{payload}", "--json", "--timeout", "60")
        report = json.loads(failed.stdout)
        assert report["job"]["status"] == "failed", failed.stdout
        sqs = client("sqs", info)

        def dead_lettered() -> bool:
            attributes = sqs.get_queue_attributes(
                QueueUrl=outputs["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return int(attributes["ApproximateNumberOfMessages"]) >= 1

        wait_for(dead_lettered, 60, "the failed job's message in the DLQ")

        # At most one minute to the next boundary, then the period that holds the message is evaluated.
        def alarm_notification() -> list[dict[str, Any]]:
            return [
                n
                for n in endpoint.of_type("Notification")
                if json.loads(n["Message"]).get("AlarmName") == DLQ_ALARM
                and json.loads(n["Message"]).get("NewStateValue") == "ALARM"
            ]

        notification = wait_for(alarm_notification, 150, "the DLQ alarm's ALARM notification")[0]
    finally:
        endpoint.server.shutdown()

    with urllib.request.urlopen(notification["SigningCertURL"], timeout=10) as answer:  # noqa: S310 (loopback)
        assert sns_messages.verify(notification, answer.read())
    assert notification["Subject"] == f'ALARM: "{DLQ_ALARM}" in US East (N. Virginia)'
    assert json.loads(notification["Message"])["Trigger"]["Dimensions"] == [
        {"value": f"{NAME}-dlq", "name": "QueueName"}
    ]

    status = run_cli("status", "--name", NAME, "--json")
    shown = {a["name"]: a for a in json.loads(status.stdout)["alarms"]}
    assert shown[DLQ_ALARM]["state"] == "ALARM", shown
    listed = run_cli("alarms", "--name", NAME, "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {a["name"]: a for a in json.loads(listed.stdout)["alarms"]}
    assert by_name[DLQ_ALARM]["state"] == "ALARM" and "Threshold Crossed" in by_name[DLQ_ALARM]["reason"]

    now = datetime.now(timezone.utc)
    data = client("cloudwatch", info).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "dlq",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateNumberOfMessagesVisible",
                        "Dimensions": [{"Name": "QueueName", "Value": f"{NAME}-dlq"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now,
    )["MetricDataResults"][0]
    assert data["Values"] and max(data["Values"]) >= 1.0

    down = run_cli("down", "--name", NAME, "--yes", "--json")
    assert down.returncode == 0, down.stderr
    manager.stop()
