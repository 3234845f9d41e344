"""Scheduled and recurring jobs (issue 11): what the stack deploys for them, as data.

- the schedule group `<name>-schedules` (one per stack; deleting it deletes every schedule in it);
- the scheduler role `<name>-scheduler-role`, trusted by scheduler.amazonaws.com for this account
  only (aws:SourceAccount, the confused-deputy guard AWS documents for Scheduler's execution role),
  allowed `sqs:SendMessage` on the main queue and nothing else;
- the function `<name>-schedules-api` (handlers/schedules_api.py) behind POST /schedules and
  GET/DELETE /schedules/{scheduleId} (Lambda proxy), with its role `<name>-schedules-role`;
- nothing new for the processor: it records a run with UpdateItem on the jobs table, which it has.
On a KMS-encrypted queue the scheduler role would also need kms:GenerateDataKey/Decrypt on that key;
the stack's queues use SQS-managed keys (SSE-SQS), which need no grant.
"""

from __future__ import annotations

from typing import Any

from .specs import FunctionData, Target, lambda_function, policy, statement

SCHEDULES_API_HANDLER = "schedules_api.lambda_handler"
ROUTES = (("POST", "/schedules"), ("GET", "/schedules/{scheduleId}"), ("DELETE", "/schedules/{scheduleId}"))


def group_name(stack: str) -> str:
    return f"{stack}-schedules"


def scheduler_role_name(stack: str) -> str:
    return f"{stack}-scheduler-role"


def main_queue_arn(target: Target) -> str:
    return target.arn("sqs", f"{target.stack}-main-queue")


def scheduler_trust_policy(target: Target) -> dict[str, Any]:
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


def scheduler_role_policy(target: Target) -> dict[str, Any]:
    return policy(statement(["sqs:SendMessage"], [main_queue_arn(target)]))


def schedules_function(target: Target) -> FunctionData:
    table = target.arn("dynamodb", f"table/{target.stack}-jobs")
    group = group_name(target.stack)
    role_arn = f"arn:{target.partition}:iam::{target.account}:role/{scheduler_role_name(target.stack)}"
    return lambda_function(
        target,
        "schedules-api",
        "schedules-role",
        SCHEDULES_API_HANDLER,
        256,
        30,
        {
            "JOBS_TABLE_NAME": f"{target.stack}-jobs",
            "SCHEDULE_GROUP_NAME": group,
            "SCHEDULE_TARGET_ARN": main_queue_arn(target),
            "SCHEDULER_ROLE_ARN": role_arn,
        },
        statement(
            ["scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"],
            [target.arn("scheduler", f"schedule/{group}/*")],
        ),
        # PassRole only for the scheduler role, and only to EventBridge Scheduler.
        statement(
            ["iam:PassRole"], [role_arn], StringEquals={"iam:PassedToService": "scheduler.amazonaws.com"}
        ),
        statement(
            [
                "dynamodb:PutItem",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchGetItem",
            ],
            [table],
        ),
    )


def schedule_group(target: Target) -> dict[str, Any]:
    """CreateScheduleGroup's request."""
    return {"Name": group_name(target.stack), "Tags": [{"Key": "asyncapi:stack", "Value": target.stack}]}


def invoke_permission_source_arn(target: Target, api_id: str) -> str:
    """lambda:AddPermission's SourceArn: this API's /schedules routes only."""
    return target.arn("execute-api", f"{api_id}/*/*/schedules*")
