"""The recipe as data: which units make the stack, their names, settings, policies and references.

Every piece of recipe knowledge lives here (and the API's routes in api_definition.py); the units in
resources/ know only their AWS service. A unit depends on exactly the units its attributes refer to
with `ref(key).attr`, plus the ordering it names in `after`.
"""

from __future__ import annotations

from typing import Any

from . import alarms, jobs_index, secure_api
from .api_definition import STATUS_PATH, SUBMIT_PATH, job_api
from .engine import Context, Unit
from .features import scheduling, websocket, wiring
from .refs import Json, Sub, ref
from .resources.bucket import Bucket
from .resources.function import Function
from .resources.log_group import LogGroup
from .resources.mapping import EventSourceMapping
from .resources.permission import InvokePermission
from .resources.queue import Queue
from .resources.rest_api import RestApi
from .resources.role import Role
from .resources.routes import ApiRoutes
from .resources.stage import Stage
from .resources.table import Table

INLINE_POLICY_NAME = "asyncapi-least-privilege"
INVOKE_STATEMENT_ID = "asyncapi-apigateway-invoke"
APP_BUNDLE = "app"  # the handlers/ zip (package.py); functions name the bundle they run

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
BUCKET_ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def _statement(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def _log_statement(ctx: Context, function_name: str) -> dict[str, Any]:
    # Only the function's own log group, which `up` creates: no logs:CreateLogGroup on "*".
    group = ctx.names.log_group(function_name)
    return _statement(
        ["logs:CreateLogStream", "logs:PutLogEvents"], [ctx.arn("logs", f"log-group:{group}:*")]
    )


def api_gateway_policy(ctx: Context) -> dict[str, Any]:
    # With priorities, the two queues the /submit template can name, and no other.
    statements = wiring.api_role_statements(ctx)
    if statements is not None:
        return _policy(*statements)
    return _policy(_statement(["sqs:SendMessage"], [ctx.arn("sqs", ctx.names.main_queue)]))


def processor_policy(ctx: Context) -> dict[str, Any]:
    return _policy(
        # handlers/job_processor.py only ever calls UpdateItem (conditional writes, creating the
        # record when absent) and PutObject under results/ (tests/test_up_settings.py checks this).
        _statement(["dynamodb:UpdateItem"], [ctx.arn("dynamodb", f"table/{ctx.names.table}")]),
        _statement(["s3:PutObject"], [f"arn:{ctx.partition}:s3:::{ctx.names.bucket}/results/*"]),
        # What the event source mapping needs to poll the queue with the function's role.
        # ChangeMessageVisibility: the processor's retry backoff on a failed record.
        _statement(
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ChangeMessageVisibility",
            ],
            [ctx.arn("sqs", ctx.names.main_queue)],
        ),
        _log_statement(ctx, ctx.names.processor),
        *wiring.processor_statements(ctx),
    )


def status_policy(ctx: Context) -> dict[str, Any]:
    return _policy(
        _statement(["dynamodb:GetItem"], [ctx.arn("dynamodb", f"table/{ctx.names.table}")]),
        secure_api.status_result_statement(ctx),  # resultUrl is signed with this role
        _log_statement(ctx, ctx.names.status_checker),
        *wiring.status_statements(ctx),
    )


def _role(key: str, name: str, service: str, policy: dict[str, Any], ctx: Context) -> Role:
    return Role(
        key=key,
        name=name,
        attributes={
            "AssumeRolePolicyDocument": _trust(service),
            "Description": f"asyncapi stack {ctx.names.project}",
            "Policies": {INLINE_POLICY_NAME: policy},
        },
    )


def _queue(
    key: str,
    name: str,
    visibility_timeout: int,
    ctx: Context,
    tags: dict[str, str] | None = None,
    **extra: Any,
) -> Queue:
    return Queue(
        key=key,
        name=name,
        tags=tags or {},
        attributes={
            "MessageRetentionPeriod": str(ctx.settings.retention_seconds),
            "VisibilityTimeout": str(visibility_timeout),
            # Encryption at rest with SQS-managed keys.
            "SqsManagedSseEnabled": "true",
            **extra,
        },
    )


def _lambda_invocation_uri(ctx: Context, function_key: str) -> Sub:
    return Sub.of(
        "arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations",
        partition=ctx.partition,
        region=ctx.region,
        function=ref(function_key).arn,
    )


def build_units(ctx: Context, *, include_disabled: bool = False) -> list[Unit]:
    """Every resource of the recipe, in a dependency order (the engine runs independent ones at once).

    The units of the features in `ctx.settings.features` follow the recipe's; `include_disabled`
    adds every feature's units (to delete those of a feature turned off, or the whole stack).
    """
    names, settings = ctx.names, ctx.settings
    processor_settings: dict[str, Any] = {
        "Runtime": settings.runtime,
        "Handler": "job_processor.lambda_handler",
        "MemorySize": settings.processor_memory,
        "Timeout": settings.processor_timeout,
        "Role": ref("processor_role").arn,
        "Architectures": [settings.architecture],
        "Environment": {
            "Variables": {
                "JOBS_TABLE_NAME": ref("table").name,
                "RESULTS_BUCKET_NAME": ref("bucket").name,
                "MAX_RECEIVE_COUNT": str(settings.max_receive_count),
                "RETRY_BACKOFF_SECONDS": str(settings.retry_backoff),
                # The jobs' metrics (EMF lines) carry the stack as a dimension.
                "ASYNCAPI_STACK": names.project,
                **wiring.processor_environment(ctx),
            }
        },
        # None (the default) leaves the function unreserved, removing a reservation made before.
        "ReservedConcurrentExecutions": settings.reserved_concurrency,
    }
    mapping_settings: dict[str, Any] = {
        "EventSourceArn": ref("main_queue").arn,
        "FunctionName": ref("processor_fn").name,
        "BatchSize": settings.batch_size,
        "MaximumBatchingWindowInSeconds": settings.batching_window,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if settings.max_concurrency is not None:
        mapping_settings["ScalingConfig"] = {"MaximumConcurrency": settings.max_concurrency}
    status_uri = _lambda_invocation_uri(ctx, "status_fn")
    routes = job_api(
        queue_uri=Sub.of(
            "arn:{partition}:apigateway:{region}:sqs:path/{account}/{queue}",
            partition=ctx.partition,
            region=ctx.region,
            account=ctx.account,
            queue=ref("main_queue").name,
        ),
        queue_role_arn=ref("api_role").arn,
        status_uri=status_uri,
    )
    routes = scheduling.routes(ctx, wiring.routes(ctx, routes, status_uri))
    routes = secure_api.secure_routes(ctx, routes)  # secure defaults: 503s, API keys, CORS
    return [
        _queue("dlq", names.dlq, settings.dlq_visibility_timeout, ctx),
        _queue(
            "main_queue",
            names.main_queue,
            settings.main_visibility_timeout,
            ctx,
            # The main queue says which state file owns the stack (ownership.py).
            tags=ctx.owner_tags,
            RedrivePolicy=Json(
                # Through the dead-letter recorder's inbox, which forwards to the DLQ.
                {
                    "deadLetterTargetArn": ref(secure_api.DLQ_INBOX).arn,
                    "maxReceiveCount": settings.max_receive_count,
                }
            ),
        ),
        Bucket(
            key="bucket",
            name=names.bucket,
            attributes={
                "PublicAccessBlockConfiguration": PUBLIC_ACCESS_BLOCK,
                "ServerSideEncryptionConfiguration": BUCKET_ENCRYPTION,
            },
        ),
        _role("api_role", names.api_role, "apigateway.amazonaws.com", api_gateway_policy(ctx), ctx),
        _role("processor_role", names.processor_role, "lambda.amazonaws.com", processor_policy(ctx), ctx),
        _role("status_role", names.status_role, "lambda.amazonaws.com", status_policy(ctx), ctx),
        LogGroup(
            key="processor_logs",
            name=names.log_group(names.processor),
            attributes={"retentionInDays": settings.log_retention_days},
        ),
        LogGroup(
            key="status_logs",
            name=names.log_group(names.status_checker),
            attributes={"retentionInDays": settings.log_retention_days},
        ),
        RestApi(
            key="rest_api",
            name=names.api,
            attributes={
                "description": (
                    f"asyncapi stack {names.project}: POST {SUBMIT_PATH} -> SQS, GET {STATUS_PATH}"
                ),
                "endpointConfiguration": {"types": ["REGIONAL"]},
            },
        ),
        Table(
            key="table",
            name=names.table,
            attributes={
                "AttributeDefinitions": [{"AttributeName": "jobId", "AttributeType": "S"}]
                + jobs_index.table_attributes()["AttributeDefinitions"],
                "KeySchema": [{"AttributeName": "jobId", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                # Newest jobs (by status) without a Scan: `asyncapi jobs` and the dashboard page with it.
                "GlobalSecondaryIndexes": jobs_index.table_attributes()["GlobalSecondaryIndexes"],
                **websocket.table_attributes(ctx),
            },
        ),
        # The log group first, so that Lambda never creates it itself (without a retention).
        Function(
            key="processor_fn",
            name=names.processor,
            code=APP_BUNDLE,
            attributes=processor_settings,
            after=("processor_logs",),
        ),
        Function(
            key="status_fn",
            name=names.status_checker,
            code=APP_BUNDLE,
            attributes={
                "Runtime": settings.runtime,
                "Handler": "status_checker.lambda_handler",
                "MemorySize": settings.status_memory,
                "Timeout": settings.status_timeout,
                "Role": ref("status_role").arn,
                "Environment": {
                    "Variables": {"JOBS_TABLE_NAME": ref("table").name, **secure_api.status_environment(ctx)}
                },
            },
            after=("status_logs",),
        ),
        ApiRoutes(
            key="routes",
            name=f"{names.api}: " + ", ".join(routes["methods"]),
            attributes={"restApiId": ref("rest_api").id, **routes},
        ),
        InvokePermission(
            key="status_permission",
            name=f"{names.status_checker}/{INVOKE_STATEMENT_ID}",
            attributes={
                "FunctionName": ref("status_fn").name,
                "StatementId": INVOKE_STATEMENT_ID,
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                # Only this API's GET /status/* may invoke the status checker.
                "SourceArn": Sub.of(
                    "arn:{partition}:execute-api:{region}:{account}:{api}/*/GET/status/*",
                    partition=ctx.partition,
                    region=ctx.region,
                    account=ctx.account,
                    api=ref("rest_api").id,
                ),
                "SourceAccount": ctx.account,
            },
        ),
        EventSourceMapping(
            key="mapping",
            name=f"{names.main_queue} -> {names.processor}",
            attributes=mapping_settings,
        ),
        Stage(
            key="stage",
            name=f"{names.api}/{settings.stage}",
            attributes={
                "restApiId": ref("rest_api").id,
                "stageName": settings.stage,
                "stageDescription": "asyncapi production stage",
                "description": secure_api.stage_description(ctx),
                **secure_api.stage_attributes(ctx),  # throttling, access logs
            },
            # Deploy once API Gateway may invoke the status checker: no 500s in the first seconds;
            # access logs need the account's CloudWatch role first.
            after=(
                "status_permission",
                "apigw_account",
                *wiring.stage_after(ctx),
                *scheduling.stage_after(ctx),
            ),
        ),
        *secure_api.secure_units(
            ctx,
            queue=lambda key, name, timeout, **extra: _queue(key, name, timeout, ctx, **extra),
            role=lambda key, name, service, policy: _role(key, name, service, policy, ctx),
            code=APP_BUNDLE,
        ),
        *wiring.feature_units(ctx, processor_settings, include_disabled=include_disabled),
        *scheduling.units(ctx, include_disabled=include_disabled),
        *websocket.units(ctx, include_disabled=include_disabled),
        *alarms.units(ctx, include_disabled=include_disabled),
    ]
