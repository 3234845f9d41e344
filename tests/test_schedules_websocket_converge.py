"""Scheduling and websocket converge (in-process moto, through ops as `up` and `down` run them): turning
scheduling / websocket on creates their resources, off removes exactly them (the jobs table's stream
is turned off), on again recreates them; `down` leaves nothing of them.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.config import FEATURES
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.features import FeatureTarget, websocket
from asyncapi_cli.local.compat import REGISTRY
from asyncapi_cli.names import StackNames

from .conftest import deploy, stack_options

NAME = "f11-conv"
SCHEDULING_KEYS = {
    "schedule_group",
    "schedules_dlq",
    "scheduler_role",
    "schedules_role",
    "schedules_logs",
    "schedules_fn",
    "schedules_permission",
}
WEBSOCKET_KEYS = {
    "connections_table",
    "pusher_dlq",
    "ws_api",
    "ws_role",
    "pusher_role",
    "websocket_fn_logs",
    "pusher_fn_logs",
    "websocket_fn",
    "pusher_fn",
    "ws_routes",
    "ws_permission",
    "ws_stage",
    "pusher_mapping",
}


def _up(*features: str) -> ops.Stack:
    """An `up` with exactly these features (--with them, --without the others)."""
    return deploy(NAME, features=frozenset(features), without=frozenset(FEATURES) - frozenset(features))


def _live_scheduling() -> dict[str, Any]:
    scheduler, lam, iam = boto3.client("scheduler"), boto3.client("lambda"), boto3.client("iam")
    groups = {g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]}
    functions = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    queues = boto3.client("sqs").list_queues(QueueNamePrefix=f"{NAME}-schedules-dlq").get("QueueUrls", [])
    return {
        "group": f"{NAME}-schedules" in groups,
        "dlq": len(queues),
        "function": f"{NAME}-schedules-api" in functions,
        "roles": {f"{NAME}-scheduler-role", f"{NAME}-schedules-role"} & roles,
    }


def _live_websocket() -> dict[str, Any]:
    ddb, lam, v2 = boto3.client("dynamodb"), boto3.client("lambda"), boto3.client("apigatewayv2")
    jobs = ddb.describe_table(TableName=f"{NAME}-jobs")["Table"]
    functions = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    apis = [a for a in v2.get_apis()["Items"] if a["Name"] == f"{NAME}-ws"]
    stream_mappings = [
        m
        for m in lam.list_event_source_mappings()["EventSourceMappings"]
        if ":dynamodb:" in m["EventSourceArn"]
    ]
    pusher_dlqs = boto3.client("sqs").list_queues(QueueNamePrefix=f"{NAME}-pusher-dlq").get("QueueUrls", [])
    return {
        "stream": bool((jobs.get("StreamSpecification") or {}).get("StreamEnabled")),
        "pusher_dlq": len(pusher_dlqs),
        "connections": f"{NAME}-connections" in ddb.list_tables()["TableNames"],
        "functions": {f"{NAME}-websocket", f"{NAME}-status-pusher"} & functions,
        "apis": len(apis),
        "stream_mappings": len(stream_mappings),
    }


SCHEDULING_ON = {
    "group": True,
    "dlq": 1,
    "function": True,
    "roles": {f"{NAME}-scheduler-role", f"{NAME}-schedules-role"},
}
SCHEDULING_OFF = {"group": False, "dlq": 0, "function": False, "roles": set()}
WEBSOCKET_ON = {
    "stream": True,
    "pusher_dlq": 1,
    "connections": True,
    "functions": {f"{NAME}-websocket", f"{NAME}-status-pusher"},
    "apis": 1,
    "stream_mappings": 1,
}
WEBSOCKET_OFF = {
    "stream": False,
    "pusher_dlq": 0,
    "connections": False,
    "functions": set(),
    "apis": 0,
    "stream_mappings": 0,
}


def test_scheduling_on_off_on_and_down(mocked_aws: None) -> None:
    stack = _up("scheduling")
    assert set(stack.state.resources) >= SCHEDULING_KEYS
    assert _live_scheduling() == SCHEDULING_ON
    # The schedules routes are on the REST API, with their own invoke permission.
    apigw = boto3.client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{NAME}-api"]
    routes = {
        f"{verb} {r['path']}"
        for r in apigw.get_resources(restApiId=api["id"])["items"]
        for verb in r.get("resourceMethods") or {}
    }
    assert {"POST /schedules", "GET /schedules/{scheduleId}", "DELETE /schedules/{scheduleId}"} <= routes
    # The scheduler role: trusted by EventBridge Scheduler for this account's schedule group only
    # (aws:SourceArn and aws:SourceAccount: EventBridge Scheduler user guide, "Confused deputy prevention").
    role = boto3.client("iam").get_role(RoleName=f"{NAME}-scheduler-role")["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    group = boto3.client("scheduler").get_schedule_group(Name=f"{NAME}-schedules")
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": stack.ctx.account, "aws:SourceArn": group["Arn"]}
    }

    stack = _up()
    assert not SCHEDULING_KEYS & set(stack.state.resources)
    assert _live_scheduling() == SCHEDULING_OFF

    stack = _up("scheduling")
    assert _live_scheduling() == SCHEDULING_ON
    # A schedule in the group: `down` deletes the group, and the schedule with it (DeleteScheduleGroup:
    # "Deleting a schedule group results in EventBridge Scheduler deleting all schedules associated
    # with the group", Scheduler API reference).
    boto3.client("scheduler").create_schedule(
        Name="left-behind",
        GroupName=f"{NAME}-schedules",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": stack.ctx.arn("sqs", f"{NAME}-main-queue"), "RoleArn": role["Arn"], "Input": "{}"},
    )
    ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    assert _live_scheduling() == SCHEDULING_OFF
    assert boto3.client("scheduler").list_schedules()["Schedules"] == []


def test_websocket_on_off_on_and_down(mocked_aws: None) -> None:
    REGISTRY.apply(["stream-reenable"])  # as the embedded AWS runs moto (a stream may be re-enabled)
    stack = _up("websocket")
    assert set(stack.state.resources) >= WEBSOCKET_KEYS
    assert _live_websocket() == WEBSOCKET_ON
    api_id = stack.state.resources["ws_api"]["id"]
    v2 = boto3.client("apigatewayv2")
    assert {r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]} == {
        "$connect",
        "$disconnect",
        "subscribe",
    }
    ws_stage = v2.get_stage(ApiId=api_id, StageName="prod")
    assert ws_stage["AutoDeploy"] is True
    # The WebSocket API is as open as the REST API, so its stage has the same throttle on every route
    # ($connect included): API Gateway developer guide, "Throttle requests to your WebSocket APIs".
    throttle = {k: v for k, v in ws_stage["DefaultRouteSettings"].items() if k.startswith("Throttling")}
    assert throttle == {"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 100}
    # A Lambda integration is invoked with POST, and AWS requires IntegrationMethod POST on it (API
    # Gateway developer guide, "Set up a WebSocket API integration request": "for Lambda integrations,
    # you must use the HTTP method of POST"; apigatewayv2 CreateIntegration, IntegrationMethod).
    (integration,) = v2.get_integrations(ApiId=api_id)["Items"]
    assert (integration["IntegrationType"], integration["IntegrationMethod"]) == ("AWS_PROXY", "POST")
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=f"{NAME}-connections")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
    assert stack.state.outputs["websocket_url"] == f"wss://{api_id}.execute-api.us-east-1.amazonaws.com/prod"
    # A second `up` with nothing changed changes nothing.
    again = ops.up(
        ops.open_stack(stack_options(NAME, features=frozenset({"websocket"})), creating=False),
        SilentReporter(),
    )
    assert {o.key for o in again if o.action != "exists"} == set()

    stack = _up()
    assert not WEBSOCKET_KEYS & set(stack.state.resources)
    assert _live_websocket() == WEBSOCKET_OFF
    assert stack.state.outputs["websocket_url"] is None

    stack = _up("websocket", "scheduling")
    assert set(stack.state.resources) >= WEBSOCKET_KEYS | SCHEDULING_KEYS
    assert _live_websocket() == WEBSOCKET_ON
    # The mapping follows the table's new stream (a re-enabled stream has a new ARN).
    stream_arn = boto3.client("dynamodb").describe_table(TableName=f"{NAME}-jobs")["Table"]["LatestStreamArn"]
    (mapping,) = [
        m
        for m in boto3.client("lambda").list_event_source_mappings()["EventSourceMappings"]
        if ":dynamodb:" in m["EventSourceArn"]
    ]
    assert mapping["EventSourceArn"] == stream_arn
    # Batches the pusher fails on (after MaximumRetryAttempts) are described in its DLQ, not dropped
    # (Lambda API reference, CreateEventSourceMapping, DestinationConfig.OnFailure).
    pusher_dlq = stack.state.resources["pusher_dlq"]["arn"]
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": pusher_dlq}}
    ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    assert v2.get_apis()["Items"] == []
    assert boto3.client("lambda").list_functions()["Functions"] == []
    assert boto3.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert boto3.client("scheduler").list_schedule_groups()["ScheduleGroups"] == [] or all(
        g["Name"] == "default" for g in boto3.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    )


@pytest.mark.parametrize(
    ("region", "partition", "host"),
    [
        ("us-east-1", "aws", "abc123.execute-api.us-east-1.amazonaws.com"),
        # China regions: amazonaws.com.cn (botocore's endpoints.json, partition aws-cn, dnsSuffix; API
        # Gateway endpoints in the China regions, "execute-api.cn-north-1.amazonaws.com.cn").
        ("cn-north-1", "aws-cn", "abc123.execute-api.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", "aws-cn", "abc123.execute-api.cn-northwest-1.amazonaws.com.cn"),
    ],
)
def test_the_websocket_url_uses_the_partitions_dns_suffix(region: str, partition: str, host: str) -> None:
    where = FeatureTarget(StackNames(NAME), region, "123456789012", partition)
    assert websocket.url(where, "abc123") == f"wss://{host}/prod"


@pytest.mark.parametrize("feature", ["scheduling", "websocket"])
def test_plan_shows_the_feature_units(mocked_aws: None, feature: str) -> None:
    stack = ops.open_stack(stack_options(NAME, features=frozenset({feature})), creating=True)
    planned = {o.key for o in ops.plan(stack) if o.action == "create"}
    assert (SCHEDULING_KEYS if feature == "scheduling" else WEBSOCKET_KEYS) <= planned
