"""The recipe as data: which units make the stack, their settings, policies and dependencies."""

from __future__ import annotations

from typing import Any

from .engine import Context, Unit
from .resources.bucket import ResultsBucket
from .resources.function import Function
from .resources.log_group import LogGroup
from .resources.mapping import EventSourceMapping
from .resources.permission import InvokePermission
from .resources.queue import Queue
from .resources.rest_api import RestApi
from .resources.role import Role
from .resources.routes import ApiRoutes
from .resources.stage import Stage
from .resources.table import JobsTable


def _statement(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _log_statement(ctx: Context, function_name: str) -> dict[str, Any]:
    # Only the function's own log group, which `up` creates: no logs:CreateLogGroup on "*".
    group = ctx.names.log_group(function_name)
    return _statement(
        ["logs:CreateLogStream", "logs:PutLogEvents"], [ctx.arn("logs", f"log-group:{group}:*")]
    )


def api_gateway_policy(ctx: Context) -> dict[str, Any]:
    return _policy(_statement(["sqs:SendMessage"], [ctx.arn("sqs", ctx.names.main_queue)]))


def processor_policy(ctx: Context) -> dict[str, Any]:
    return _policy(
        _statement(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            [ctx.arn("dynamodb", f"table/{ctx.names.table}")],
        ),
        _statement(["s3:PutObject"], [f"arn:{ctx.partition}:s3:::{ctx.names.bucket}/results/*"]),
        # What the event source mapping needs to poll the queue with the function's role.
        _statement(
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            [ctx.arn("sqs", ctx.names.main_queue)],
        ),
        _log_statement(ctx, ctx.names.processor),
    )


def status_policy(ctx: Context) -> dict[str, Any]:
    return _policy(
        _statement(["dynamodb:GetItem"], [ctx.arn("dynamodb", f"table/{ctx.names.table}")]),
        _log_statement(ctx, ctx.names.status_checker),
    )


def processor_environment(ctx: Context) -> dict[str, str]:
    return {
        "JOBS_TABLE_NAME": ctx.names.table,
        "RESULTS_BUCKET_NAME": ctx.names.bucket,
        "MAX_RECEIVE_COUNT": str(ctx.settings.max_receive_count),
    }


def status_environment(ctx: Context) -> dict[str, str]:
    return {"JOBS_TABLE_NAME": ctx.names.table}


def build_units() -> list[Unit]:
    """Every resource of the recipe, in a dependency order (the engine runs independent ones at once)."""
    return [
        Queue(key="dlq"),
        Queue(key="main_queue", depends_on=("dlq",), dead_letter_key="dlq"),
        ResultsBucket(),
        Role(
            key="api_role",
            service="apigateway.amazonaws.com",
            role_name=lambda ctx: ctx.names.api_role,
            policy=api_gateway_policy,
        ),
        Role(
            key="processor_role",
            service="lambda.amazonaws.com",
            role_name=lambda ctx: ctx.names.processor_role,
            policy=processor_policy,
        ),
        Role(
            key="status_role",
            service="lambda.amazonaws.com",
            role_name=lambda ctx: ctx.names.status_role,
            policy=status_policy,
        ),
        LogGroup(key="processor_logs", function_key="processor"),
        LogGroup(key="status_logs", function_key="status"),
        RestApi(),
        JobsTable(),
        Function(
            key="processor_fn",
            function_name=lambda ctx: ctx.names.processor,
            handler="job_processor.lambda_handler",
            memory=lambda ctx: ctx.settings.processor_memory,
            timeout=lambda ctx: ctx.settings.processor_timeout,
            role_key="processor_role",
            environment=processor_environment,
            depends_on=("processor_role", "processor_logs", "table", "bucket"),
        ),
        Function(
            key="status_fn",
            function_name=lambda ctx: ctx.names.status_checker,
            handler="status_checker.lambda_handler",
            memory=lambda ctx: ctx.settings.status_memory,
            timeout=lambda ctx: ctx.settings.status_timeout,
            role_key="status_role",
            environment=status_environment,
            depends_on=("status_role", "status_logs", "table"),
        ),
        ApiRoutes(),
        InvokePermission(),
        EventSourceMapping(),
        Stage(),
    ]
