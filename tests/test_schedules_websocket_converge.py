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
from asyncapi_cli.local.moto_patches import allow_stream_reenable

from .conftest import deploy, stack_options

NAME = "f11-conv"
SCHEDULING_KEYS = {
    "schedule_group",
    "scheduler_role",
    "schedules_role",
    "schedules_logs",
    "schedules_fn",
    "schedules_permission",
}
WEBSOCKET_KEYS = {
    "connections_table",
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
    return {
        "group": f"{NAME}-schedules" in groups,
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
    return {
        "stream": bool((jobs.get("StreamSpecification") or {}).get("StreamEnabled")),
        "connections": f"{NAME}-connections" in ddb.list_tables()["TableNames"],
        "functions": {f"{NAME}-websocket", f"{NAME}-status-pusher"} & functions,
        "apis": len(apis),
        "stream_mappings": len(stream_mappings),
    }


SCHEDULING_ON = {
    "group": True,
    "function": True,
    "roles": {f"{NAME}-scheduler-role", f"{NAME}-schedules-role"},
}
SCHEDULING_OFF = {"group": False, "function": False, "roles": set()}
WEBSOCKET_ON = {
    "stream": True,
    "connections": True,
    "functions": {f"{NAME}-websocket", f"{NAME}-status-pusher"},
    "apis": 1,
    "stream_mappings": 1,
}
WEBSOCKET_OFF = {"stream": False, "connections": False, "functions": set(), "apis": 0, "stream_mappings": 0}


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
    # The scheduler role: trusted by EventBridge Scheduler for this account only.
    role = boto3.client("iam").get_role(RoleName=f"{NAME}-scheduler-role")["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": stack.ctx.account}}

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
    allow_stream_reenable()  # as the embedded AWS runs moto (DynamoDB lets a stream be re-enabled)
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
    assert v2.get_stage(ApiId=api_id, StageName="prod")["AutoDeploy"] is True
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
    ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    assert v2.get_apis()["Items"] == []
    assert boto3.client("lambda").list_functions()["Functions"] == []
    assert boto3.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert boto3.client("scheduler").list_schedule_groups()["ScheduleGroups"] == [] or all(
        g["Name"] == "default" for g in boto3.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    )


@pytest.mark.parametrize("feature", ["scheduling", "websocket"])
def test_plan_shows_the_feature_units(mocked_aws: None, feature: str) -> None:
    stack = ops.open_stack(stack_options(NAME, features=frozenset({feature})), creating=True)
    planned = {o.key for o in ops.plan(stack) if o.action == "create"}
    assert (SCHEDULING_KEYS if feature == "scheduling" else WEBSOCKET_KEYS) <= planned
