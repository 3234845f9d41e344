"""Scheduled and recurring jobs (issue 11): what the stack deploys for them, as data.

- the schedule group `<name>-schedules` (one per stack; deleting it deletes every schedule in it);
- the scheduler role `<name>-scheduler-role`, trusted by scheduler.amazonaws.com for this account
  only (aws:SourceAccount, the confused-deputy guard AWS documents for Scheduler's execution role),
  allowed `sqs:SendMessage` on the main queue and nothing else;
- the function `<name>-schedules-api` (handlers/schedules_api.py) behind POST /schedules and
  GET/DELETE /schedules/{scheduleId} (Lambda proxy), with its role `<name>-schedules-role`;
- nothing new for the processor: it records a run with UpdateItem on the jobs table, which it has.
The stack's queues use SQS-managed keys (SSE-SQS), which need no KMS grant for the scheduler role.
"""

from __future__ import annotations

from typing import Any

from . import FeatureTarget, log_statement, policy, statement

FUNCTION_KEY = "schedules_fn"
HANDLER = "schedules_api.lambda_handler"
MEMORY, TIMEOUT = 256, 30
POST_PATH, ITEM_PATH = "/schedules", "/schedules/{scheduleId}"


def group_name(target: FeatureTarget) -> str:
    return f"{target.project}-schedules"


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


def scheduler_trust_policy(target: FeatureTarget) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": target.account}},
            }
        ],
    }


def scheduler_role_policy(target: FeatureTarget) -> dict[str, Any]:
    return policy(statement(["sqs:SendMessage"], [main_queue_arn(target)]))


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
