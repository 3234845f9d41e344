"""End to end on the embedded AWS (the server process `up --local` starts), with boto3 only, as a user
would try alarms without an account: a queue holding a message, an alarm on its
ApproximateNumberOfMessagesVisible (Period 60, 1 of 1, >= 1) notifying an SNS topic, a loopback HTTP
endpoint subscribed that confirms through SubscribeURL; the endpoint gets the signed ALARM notification
within about two minutes (the first minute boundary after the message, at most), GetMetricData returns
the datapoints, DescribeAlarmHistory the transition; a function's invocations are AWS/Lambda metrics.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import manager
from asyncapi_cli.local.cloudwatch import sns_messages

# One server process for the module, on one xdist worker (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_cloudwatch_embedded")

QUEUE, TOPIC, ALARM = "cw-e2e-queue", "cw-e2e-alerts", "cw-e2e-queue-not-empty"


def wait_for(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll a condition, bounded; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


class Endpoint:
    """A loopback HTTP endpoint that, like a receiver on AWS, confirms a subscription by GETting the
    SubscribeURL of the SubscriptionConfirmation it receives."""

    def __init__(self) -> None:
        self.documents: list[tuple[dict[str, str], dict[str, Any]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                document = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.documents.append(({k.lower(): v for k, v in self.headers.items()}, document))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if document["Type"] == "SubscriptionConfirmation":
                    with urllib.request.urlopen(document["SubscribeURL"], timeout=10):  # noqa: S310 (loopback)
                        pass

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alarms"

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [d for h, d in self.documents if h["x-amz-sns-message-type"] == kind]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("ASYNCAPI_HOME", str(tmp_path_factory.mktemp("home")))
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    try:
        yield manager.ensure_running()  # its endpoint, gateway...
    finally:
        manager.stop()
        monkeypatch.undo()


def client(service: str, embedded: dict[str, Any]) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=str(embedded["endpoint"]))


def test_a_queue_alarm_notifies_a_confirmed_http_endpoint(embedded: dict[str, Any]) -> None:
    sqs, sns, cw = (client(s, embedded) for s in ("sqs", "sns", "cloudwatch"))
    endpoint = Endpoint()
    try:
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody='{"job": 1}')
        topic = sns.create_topic(Name=TOPIC)["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        wait_for(
            lambda: [
                s
                for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
                if s["SubscriptionArn"].startswith(topic + ":")
            ],
            30,
            "the subscription confirmed through its SubscribeURL",
        )
        cw.put_metric_alarm(
            AlarmName=ALARM,
            AlarmDescription="messages wait in the queue",
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": QUEUE}],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic],
        )
        # The first minute boundary after the message closes a period holding it: ALARM then.
        notification = wait_for(
            lambda: endpoint.of_type("Notification"), 150, "the ALARM notification at the endpoint"
        )[0]
    finally:
        endpoint.server.shutdown()

    with urllib.request.urlopen(notification["SigningCertURL"], timeout=10) as answer:  # noqa: S310
        assert sns_messages.verify(notification, answer.read())
    assert notification["Subject"] == f'ALARM: "{ALARM}" in US East (N. Virginia)'
    message = json.loads(notification["Message"])
    assert message["AlarmName"] == ALARM and message["AlarmDescription"] == "messages wait in the queue"
    assert (message["OldStateValue"], message["NewStateValue"]) == ("INSUFFICIENT_DATA", "ALARM")
    assert message["NewStateReason"].startswith("Threshold Crossed: 1 datapoint [1.0 (")
    assert message["Region"] == "US East (N. Virginia)" and message["AWSAccountId"] == "123456789012"
    assert message["Trigger"]["Statistic"] == "MAXIMUM"
    assert message["Trigger"]["Dimensions"] == [{"value": QUEUE, "name": "QueueName"}]

    alarm = cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    history = cw.describe_alarm_history(AlarmName=ALARM)["AlarmHistoryItems"]
    assert [h["HistoryItemType"] for h in history][:2] == ["Action", "StateUpdate"]

    now = datetime.now(timezone.utc)
    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "visible",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateNumberOfMessagesVisible",
                        "Dimensions": [{"Name": "QueueName", "Value": QUEUE}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now,
    )["MetricDataResults"][0]
    assert data["Values"] and set(data["Values"]) == {1.0}
    sent = cw.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="NumberOfMessagesSent",
        Dimensions=[{"Name": "QueueName", "Value": QUEUE}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now,
        Period=600,
        Statistics=["Sum"],
    )["Datapoints"]
    assert [p["Sum"] for p in sent] == [1.0]

    # `asyncapi local status` shows the emulation (the server writes its status every 2 s).
    status_path = Path(str(embedded["log"])).with_name("status.json")

    def counted() -> dict[str, Any] | None:
        status = json.loads(status_path.read_text()) if status_path.exists() else {}
        return status if (status.get("cloudwatch") or {}).get("alarmActions") else None

    status = wait_for(counted, 10, "the action counted in status.json")
    lines = manager.describe_limits(status)
    assert any(line.startswith("cloudwatch: ") and "1 actions" in line for line in lines), lines
    assert any(line.startswith("sns: ") and "HTTP deliveries" in line for line in lines), lines


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "app.py",
            "def handler(event, context):\n"
            "    if event.get('fail'):\n"
            "        raise ValueError('no')\n"
            "    return 1\n",
        )
    return buffer.getvalue()


def test_invocations_are_lambda_metrics(embedded: dict[str, Any]) -> None:
    lam, cw = client("lambda", embedded), client("cloudwatch", embedded)
    role = client("iam", embedded).create_role(
        RoleName="cw-e2e-fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    lam.create_function(
        FunctionName="cw-e2e-fn",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _function_zip()},
    )
    lam.invoke(FunctionName="cw-e2e-fn", Payload=b"{}")
    failed = lam.invoke(FunctionName="cw-e2e-fn", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    now = datetime.now(timezone.utc)

    def total(metric: str, dims: list[dict[str, str]] | None = None, statistic: str = "Sum") -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=[{"Name": "FunctionName", "Value": "cw-e2e-fn"}] if dims is None else dims,
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
            Period=360,
            Statistics=[statistic],
        )["Datapoints"]
        return sum(p[statistic] for p in points)

    assert (total("Invocations"), total("Errors"), total("Throttles")) == (2.0, 1.0, 0.0)
    assert total("Duration", statistic="SampleCount") == 2.0 and total("Duration") > 0
    assert total("Invocations", []) == 2.0  # the account's aggregate: the only function invoked here


def test_requests_are_api_gateway_metrics(embedded: dict[str, Any]) -> None:
    api, cw = client("apigateway", embedded), client("cloudwatch", embedded)
    rest = api.create_rest_api(name="cw-e2e-api")
    root = api.get_resources(restApiId=rest["id"])["items"][0]["id"]
    api.put_method(restApiId=rest["id"], resourceId=root, httpMethod="GET", authorizationType="NONE")
    api.put_integration(
        restApiId=rest["id"],
        resourceId=root,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    api.put_method_response(restApiId=rest["id"], resourceId=root, httpMethod="GET", statusCode="200")
    api.put_integration_response(
        restApiId=rest["id"], resourceId=root, httpMethod="GET", statusCode="200", responseTemplates={}
    )
    api.create_deployment(restApiId=rest["id"], stageName="prod")
    gateway = str(embedded["gateway"])
    base = f"{gateway}/restapis/{rest['id']}/prod/_user_request_"
    with urllib.request.urlopen(f"{base}/", timeout=10) as answer:  # noqa: S310 (loopback)
        assert answer.status == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/nowhere", timeout=10)  # noqa: S310
    assert missing.value.code == 403  # API Gateway's MissingAuthenticationToken for an unknown route
    now = datetime.now(timezone.utc)

    def total(metric: str, dims: list[dict[str, str]]) -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/ApiGateway",
            MetricName=metric,
            Dimensions=dims,
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
            Period=360,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    stage = [{"Name": "ApiName", "Value": "cw-e2e-api"}, {"Name": "Stage", "Value": "prod"}]
    assert (total("Count", stage), total("4XXError", stage), total("5XXError", stage)) == (2.0, 1.0, 0.0)
    assert total("Count", stage[:1]) == 2.0
