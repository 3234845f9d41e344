"""Scheduling and websocket on the embedded AWS, before the stack wiring: the pieces started as
server.py will start them (moto server, Lambda runtime with real worker processes, SQS pollers,
DynamoDB stream pollers, the scheduler and the WebSocket server), the resources created with boto3
from the features' deploy-side data.

- a WebSocket client subscribed to a job sees processing -> completed (final) pushed from the jobs table's
  stream through the pusher function, and the other client sees nothing of it;
- a one-time schedule runs once, within a second of its time, as a job with its own id and its scheduleId.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from asyncapi_cli.clients.watch import WebSocketClient
from asyncapi_cli.features import FeatureTarget, scheduling, websocket
from asyncapi_cli.local.events import stream_poller
from asyncapi_cli.local.events.sources import PollerManager
from asyncapi_cli.local.feature_services import start_feature_services
from asyncapi_cli.local.lambda_.runtime import LambdaRuntime
from asyncapi_cli.names import StackNames
from asyncapi_cli.package import build_zip

from .conftest import apply_embedded_moto_patches

# Its tests share module-scoped fixtures that start servers: one pytest-xdist worker runs them all
# (`--dist loadgroup`), so the fixtures start once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_schedules_websocket_embedded")

STACK = "e11"


def wait_for(probe: Any, timeout: float = 30.0) -> Any:
    """Poll a condition (bounded); never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not reached")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from moto.server import ThreadedMotoServer

    apply_embedded_moto_patches()  # as server.py: moto's own synchronous invocations off
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    runtime = LambdaRuntime(endpoint, tmp_path_factory.mktemp("code"))
    pollers = PollerManager(runtime.invoke, runtime.limit, interval=0.2)
    pollers.start()
    stop_features, info = start_feature_services(endpoint, runtime.invoke)  # the server.py hook
    try:
        yield {"endpoint": endpoint, "ws_base": info["websocket"]}
    finally:
        stop_features()
        pollers.stopping.set()
        runtime.close()
        server.stop()


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def deploy_function(lam: Any, role: str, data: dict[str, Any], code: bytes) -> str:
    return lam.create_function(
        FunctionName=data["name"],
        Runtime="python3.12",
        Role=role,
        Handler=data["handler"],
        Code={"ZipFile": code},
        Timeout=data["timeout"],
        MemorySize=data["memory"],
        Environment={"Variables": data["environment"]},
    )["FunctionArn"]


@pytest.fixture(scope="module")
def deployed(embedded: dict[str, Any]) -> dict[str, Any]:
    endpoint = embedded["endpoint"]
    target = FeatureTarget(names=StackNames(STACK), region="us-east-1", account="123456789012")
    tags = {"asyncapi:stack": STACK}
    ddb, lam, sqs, v2 = (aws(s, endpoint) for s in ("dynamodb", "lambda", "sqs", "apigatewayv2"))
    ddb.create_table(
        TableName=f"{STACK}-jobs",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification=websocket.JOBS_STREAM,
    )
    ddb.create_table(**websocket.connections_table(target, tags))
    ddb.update_time_to_live(TableName=f"{STACK}-connections", TimeToLiveSpecification=websocket.TIME_TO_LIVE)
    aws("s3", endpoint).create_bucket(Bucket=f"{STACK}-results")
    queue_url = sqs.create_queue(QueueName=f"{STACK}-main-queue", Attributes={"VisibilityTimeout": "4"})[
        "QueueUrl"
    ]
    role = aws("iam", endpoint).create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = build_zip().zip_bytes
    api_id = v2.create_api(**websocket.websocket_api(target, tags))["ApiId"]
    processor_env = {"JOBS_TABLE_NAME": f"{STACK}-jobs", "RESULTS_BUCKET_NAME": f"{STACK}-results"}
    lam.create_function(
        FunctionName=f"{STACK}-job-processor",
        Runtime="python3.12",
        Role=role,
        Handler="job_processor.lambda_handler",
        Code={"ZipFile": code},
        Timeout=30,
        Environment={"Variables": {**processor_env, "MAX_RECEIVE_COUNT": "3"}},
    )
    lam.create_event_source_mapping(
        EventSourceArn=scheduling.main_queue_arn(target),
        FunctionName=f"{STACK}-job-processor",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    ws_fn = deploy_function(lam, role, websocket.websocket_function(target), code)
    deploy_function(lam, role, websocket.pusher_function(target), code)
    stream_arn = ddb.describe_table(TableName=f"{STACK}-jobs")["Table"]["LatestStreamArn"]
    lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=f"{STACK}-status-pusher", **websocket.STREAM_MAPPING
    )
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=target.lambda_integration_uri(ws_fn),
    )["IntegrationId"]
    for key in websocket.ROUTES:
        v2.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api_id, StageName=websocket.STAGE, AutoDeploy=True)
    aws("scheduler", endpoint).create_schedule_group(**scheduling.schedule_group(target, tags))
    ws_url = websocket.url(target, api_id, embedded["ws_base"])
    # The stream poller starts at LATEST once it sees the mapping: wait until it reads the stream.
    wait_for(lambda: reading(stream_arn))
    return {"queue_url": queue_url, "ws_url": ws_url, "target": target, "endpoint": endpoint}


def reading(stream_arn: str) -> bool:
    """True once a stream poller of the running embedded services follows the stream."""
    import threading

    return any(
        isinstance(t, stream_poller.StreamPoller) and t.spec.stream_arn == stream_arn
        for t in threading.enumerate()
    )


def test_websocket_client_sees_its_job_through_to_the_end(deployed: dict[str, Any]) -> None:
    sqs = aws("sqs", deployed["endpoint"])
    mine, other = WebSocketClient(deployed["ws_url"]), WebSocketClient(deployed["ws_url"])
    mine.send_json({"action": "subscribe", "jobId": "ws-job-1"})
    assert "error" in mine.receive_json(timeout=20)  # not picked up yet; followed anyway
    other.send_json({"action": "subscribe", "jobId": "ws-job-2"})
    assert other.receive_json(timeout=20)["jobId"] == "ws-job-2"
    sqs.send_message(
        QueueUrl=deployed["queue_url"],
        MessageBody=json.dumps({"hello": "world"}),
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": "ws-job-1"}},
    )
    statuses = []
    while not statuses or not statuses[-1].get("final"):
        message = mine.receive_json(timeout=30)
        assert message["jobId"] == "ws-job-1"
        statuses.append(message)
    assert [m["status"] for m in statuses] == ["processing", "completed"]
    # The other client's next message is the answer to a new request: nothing about ws-job-1 came before it.
    other.send_json({"action": "subscribe", "jobId": "ws-job-2"})
    assert other.receive_json(timeout=20)["jobId"] == "ws-job-2"
    mine.close()
    other.close()


def test_one_time_schedule_runs_once_as_a_job_within_a_second(deployed: dict[str, Any]) -> None:
    endpoint, target = deployed["endpoint"], deployed["target"]
    run_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    schedule_id = "s-embedded-1"
    aws("scheduler", endpoint).create_schedule(
        Name=schedule_id,
        GroupName=scheduling.group_name(target),
        ScheduleExpression=f"at({run_at.strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": scheduling.main_queue_arn(target),
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "Input": json.dumps({"scheduleId": schedule_id, "job": {"from": "schedule"}}),
        },
    )
    ddb = aws("dynamodb", endpoint)

    def runs() -> list[str] | None:
        item = ddb.get_item(TableName=f"{STACK}-jobs", Key={"jobId": {"S": f"schedule#{schedule_id}"}}).get(
            "Item"
        )
        return (item or {}).get("runJobIds", {}).get("SS")

    (job_id,) = wait_for(runs, timeout=20)
    job = ddb.get_item(TableName=f"{STACK}-jobs", Key={"jobId": {"S": job_id}})["Item"]
    assert job["scheduleId"]["S"] == schedule_id
    created = datetime.fromisoformat(job["createdAt"]["S"].replace("Z", "+00:00"))
    assert timedelta(0) <= created - run_at < timedelta(seconds=1)  # the message was sent within a second
    assert (
        aws("scheduler", endpoint).list_schedules(GroupName=scheduling.group_name(target))["Schedules"] == []
    )
