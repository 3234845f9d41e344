"""Scheduled and recurring jobs: what the stack deploys for them, as data.

- the schedule group `<name>-schedules` (one per stack; deleting it deletes every schedule in it);
- the queue `<name>-schedules-dlq`: every schedule's DeadLetterConfig, for runs Scheduler could not
  send to the main queue after its retries;
- the scheduler role `<name>-scheduler-role`, trusted by scheduler.amazonaws.com for this account
  only from the stack's schedule group (aws:SourceAccount and aws:SourceArn, the confused-deputy guard AWS
  documents for Scheduler's execution role),
  allowed `sqs:SendMessage` on the main queue and the schedules' DLQ and nothing else;
- the function `<name>-schedules-api` (handlers/schedules_api.py) behind POST /schedules and
  GET/DELETE /schedules/{scheduleId} (Lambda proxy), with its role `<name>-schedules-role`;
- nothing new for the processor: it records a run with UpdateItem on the jobs table, which it has.
The stack's queues use SQS-managed keys (SSE-SQS), which need no KMS grant for the scheduler role.
"""

from __future__ import annotations

from typing import Any

from ..engine import Context, Unit
from ..refs import Sub, ref
from ..resources.function import Function
from ..resources.log_group import LogGroup
from ..resources.permission import InvokePermission
from ..resources.queue import Queue
from ..resources.role import Role
from ..resources.schedule_group import ScheduleGroup
from . import (
    POLICY_NAME,
    FeatureTarget,
    lambda_trust_policy,
    log_statement,
    policy,
    queue_attributes,
    statement,
)

FUNCTION_KEY = "schedules_fn"
HANDLER = "schedules_api.lambda_handler"
MEMORY, TIMEOUT = 256, 30
POST_PATH, ITEM_PATH = "/schedules", "/schedules/{scheduleId}"


def group_name(target: FeatureTarget) -> str:
    return f"{target.project}-schedules"


def dlq_name(target: FeatureTarget) -> str:
    """Where Scheduler puts a run it could not deliver to the main queue (after its retries)."""
    return f"{target.project}-schedules-dlq"


def scheduler_role_name(target: FeatureTarget) -> str:
    return f"{target.project}-scheduler-role"


def function_name(target: FeatureTarget) -> str:
    return f"{target.project}-schedules-api"


def role_name(target: FeatureTarget) -> str:
    return f"{target.project}-schedules-role"  # <= 17 characters after the name: fits IAM's 64


def main_queue_arn(target: FeatureTarget) -> str:
    return target.queue_arn(target.names.main_queue)


def scheduler_role_arn(target: FeatureTarget) -> str:
    return f"arn:{target.partition}:iam::{target.account}:role/{scheduler_role_name(target)}"


def group_arn(target: FeatureTarget) -> str:
    return target.arn("scheduler", f"schedule-group/{group_name(target)}")


def scheduler_trust_policy(target: FeatureTarget) -> dict[str, Any]:
    """Scheduler may assume the role for this account's schedule group only: AWS documents both keys
    for the execution role's trust policy, aws:SourceArn being the schedule group's ARN (EventBridge
    Scheduler user guide, "Confused deputy prevention"; since September 2023 the source is the group)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": target.account, "aws:SourceArn": group_arn(target)}
                },
            }
        ],
    }


def scheduler_role_policy(target: FeatureTarget) -> dict[str, Any]:
    """Send to the main queue (the target) and to the schedules' DLQ: Scheduler sends undeliverable runs
    to the DLQ with the execution role ("Configuring a dead-letter queue for EventBridge Scheduler": the
    execution role needs sqs:SendMessage on the DLQ)."""
    queues = [main_queue_arn(target), target.queue_arn(dlq_name(target))]
    return policy(statement(["sqs:SendMessage"], queues))


def schedule_group(target: FeatureTarget, tags: dict[str, str]) -> dict[str, Any]:
    """CreateScheduleGroup's request."""
    return {"Name": group_name(target), "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}


def schedules_function(target: FeatureTarget) -> dict[str, Any]:
    return {
        "key": FUNCTION_KEY,
        "name": function_name(target),
        "handler": HANDLER,
        "memory": MEMORY,
        "timeout": TIMEOUT,
        "role": role_name(target),
        "environment": {
            "JOBS_TABLE_NAME": target.names.table,
            "SCHEDULE_GROUP_NAME": group_name(target),
            "SCHEDULE_TARGET_ARN": main_queue_arn(target),
            "SCHEDULER_ROLE_ARN": scheduler_role_arn(target),
        },
    }


def schedules_policy(target: FeatureTarget) -> dict[str, Any]:
    pass_role = statement(["iam:PassRole"], [scheduler_role_arn(target)])
    # PassRole for the scheduler role only, and only to EventBridge Scheduler.
    pass_role["Condition"] = {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    return policy(
        statement(
            ["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule"],
            [target.arn("scheduler", f"schedule/{group_name(target)}/*")],
        ),
        pass_role,
        # Counting the group's schedules (the cap on active schedules). ListSchedules has no resource type
        # (Service Authorization Reference, EventBridge Scheduler), so only "*" grants it; it lists names.
        statement(["scheduler:ListSchedules"], ["*"]),
        statement(
            [
                "dynamodb:BatchGetItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            [target.table_arn],
        ),
        log_statement(target, function_name(target)),
    )


def proxy_method(target: FeatureTarget, *, function_arn: str, path_parameter: bool) -> dict[str, Any]:
    """A Lambda proxy method in routes.py's normalized method shape."""
    return {
        "authorizationType": "NONE",
        "requestValidator": None,
        "requestModels": {},
        "requestParameters": {"method.request.path.scheduleId": True} if path_parameter else {},
        "integration": {
            "type": "AWS_PROXY",
            "httpMethod": "POST",
            "uri": target.lambda_integration_uri(function_arn),
            "credentials": None,
            "requestParameters": {},
            "requestTemplates": {},
            "passthroughBehavior": "WHEN_NO_MATCH",
        },
        "methodResponses": {},
        "integrationResponses": {},
    }


def methods(target: FeatureTarget, *, function_arn: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (POST_PATH, "POST"): proxy_method(target, function_arn=function_arn, path_parameter=False),
        (ITEM_PATH, "GET"): proxy_method(target, function_arn=function_arn, path_parameter=True),
        (ITEM_PATH, "DELETE"): proxy_method(target, function_arn=function_arn, path_parameter=True),
    }


def invoke_permission_source_arn(target: FeatureTarget, api_id: str) -> str:
    """lambda:AddPermission's SourceArn: this API's /schedules routes only."""
    return target.arn("execute-api", f"{api_id}/*/*/schedules*")


# --- The feature as units of the stack (stack.build_units adds them when "scheduling" is on) -------

FEATURE = "scheduling"
INVOKE_STATEMENT_ID = "asyncapi-apigateway-invoke-schedules"


def is_on(ctx: Context) -> bool:
    return FEATURE in ctx.settings.features


def routes(ctx: Context, definition: dict[str, Any]) -> dict[str, Any]:
    """The API definition plus POST /schedules, GET and DELETE /schedules/{scheduleId} (Lambda proxy)."""
    if not is_on(ctx):
        return definition
    where = FeatureTarget.of(ctx)
    added = {}
    for (path, verb), method in methods(where, function_arn="{function}").items():
        uri = Sub.of(method["integration"]["uri"], function=ref(FUNCTION_KEY).arn)
        added[f"{verb} {path}"] = {**method, "integration": {**method["integration"], "uri": uri}}
    return {**definition, "methods": {**definition["methods"], **added}}


def stage_after(ctx: Context) -> tuple[str, ...]:
    """The stage deploys once API Gateway may invoke the schedules function."""
    return ("schedules_permission",) if is_on(ctx) else ()


def units(ctx: Context, *, include_disabled: bool = False) -> list[Unit]:
    """The schedule group, the scheduler's role, the schedules function (role, log group) and its
    invoke permission; `include_disabled` builds them even when the feature is off (to delete them)."""
    if not (include_disabled or is_on(ctx)):
        return []
    where = FeatureTarget.of(ctx)
    data = schedules_function(where)
    environment = dict(data["environment"])
    # References, so the function comes after what it names.
    environment.update(
        JOBS_TABLE_NAME=ref("table").name,
        SCHEDULE_GROUP_NAME=ref("schedule_group").name,
        SCHEDULE_TARGET_ARN=ref("main_queue").arn,
        SCHEDULER_ROLE_ARN=ref("scheduler_role").arn,
        SCHEDULE_DLQ_ARN=ref("schedules_dlq").arn,
        MAX_ACTIVE_SCHEDULES=str(ctx.settings.max_active_schedules),
    )
    description = f"asyncapi stack {where.project}"
    return [
        ScheduleGroup(key="schedule_group", name=group_name(where)),
        Queue(
            key="schedules_dlq",
            name=dlq_name(where),
            attributes=queue_attributes(visibility_timeout=ctx.settings.dlq_visibility_timeout),
        ),
        Role(
            key="scheduler_role",
            name=scheduler_role_name(where),
            attributes={
                "AssumeRolePolicyDocument": scheduler_trust_policy(where),
                "Description": description,
                "Policies": {POLICY_NAME: scheduler_role_policy(where)},
            },
        ),
        Role(
            key="schedules_role",
            name=role_name(where),
            attributes={
                "AssumeRolePolicyDocument": lambda_trust_policy(),
                "Description": description,
                "Policies": {POLICY_NAME: schedules_policy(where)},
            },
        ),
        LogGroup(
            key="schedules_logs",
            name=where.names.log_group(data["name"]),
            attributes={"retentionInDays": ctx.settings.log_retention_days},
        ),
        Function(
            key=FUNCTION_KEY,
            name=data["name"],
            code="app",
            attributes={
                "Runtime": ctx.settings.runtime,
                "Handler": data["handler"],
                "MemorySize": data["memory"],
                "Timeout": data["timeout"],
                "Role": ref("schedules_role").arn,
                "Environment": {"Variables": environment},
            },
            after=("schedules_logs",),
        ),
        InvokePermission(
            key="schedules_permission",
            name=f"{data['name']}/{INVOKE_STATEMENT_ID}",
            attributes={
                "FunctionName": ref(FUNCTION_KEY).name,
                "StatementId": INVOKE_STATEMENT_ID,
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": Sub.of(invoke_permission_source_arn(where, "{api}"), api=ref("rest_api").id),
                "SourceAccount": where.account,
            },
        ),
    ]
