"""WebSocket status push: what the stack deploys for it, as data.

- the jobs table gets a stream: JOBS_STREAM (NEW_AND_OLD_IMAGES);
- the table `<name>-connections` (key connectionId S, on demand, encrypted, TTL on `expiresAt`);
- the WebSocket API `<name>-ws` (route selection `$request.body.action`; routes $connect,
  $disconnect, subscribe; AWS_PROXY integrations to `<name>-websocket`), stage `prod` (auto-deploy),
  URL wss://<apiId>.execute-api.<region>.<the partition's DNS suffix>/prod (embedded AWS:
  ws://127.0.0.1:<port>/<apiId>/prod);
- the functions `<name>-websocket` (handlers/websocket_routes.py) and `<name>-status-pusher`
  (handlers/status_pusher.py), each with its own role scoped to these resources;
- an event source mapping: the jobs table's stream -> the pusher (STREAM_MAPPING), whose failed batches
  go to the queue `<name>-pusher-dlq` (its on-failure destination).
"""

from __future__ import annotations

from typing import Any

from ..engine import Context, Unit
from ..names import dns_suffix_of
from ..refs import Sub, ref
from ..resources.function import Function
from ..resources.log_group import LogGroup
from ..resources.mapping import EventSourceMapping
from ..resources.permission import InvokePermission
from ..resources.queue import Queue
from ..resources.role import Role
from ..resources.table import Table
from ..resources.websocket_api import WebSocketApi, WebSocketRoutes, WebSocketStage
from . import (
    POLICY_NAME,
    FeatureTarget,
    lambda_trust_policy,
    log_statement,
    policy,
    queue_attributes,
    statement,
)

ROUTE_SELECTION = "$request.body.action"
ROUTES = ("$connect", "$disconnect", "subscribe")
STAGE = "prod"
TTL_ATTRIBUTE = "expiresAt"
CONNECTION_TTL_SECONDS = 7200  # API Gateway's maximum connection duration (2 hours)
JOBS_STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
TIME_TO_LIVE = {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
# LATEST: a new pusher has no subscribers for older changes. Bounded retries, and bisecting isolates a
# poison record, so one bad record cannot stall every push; a change older than an hour is moot.
STREAM_MAPPING = {
    "StartingPosition": "LATEST",
    "BatchSize": 100,
    "MaximumBatchingWindowInSeconds": 0,
    "MaximumRetryAttempts": 10,
    "BisectBatchOnFunctionError": True,
    "MaximumRecordAgeInSeconds": 3600,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
}


def api_name(target: FeatureTarget) -> str:
    return f"{target.project}-ws"


def connections_table_name(target: FeatureTarget) -> str:
    return f"{target.project}-connections"


def websocket_function_name(target: FeatureTarget) -> str:
    return f"{target.project}-websocket"


def pusher_function_name(target: FeatureTarget) -> str:
    return f"{target.project}-status-pusher"


def connections_table(target: FeatureTarget, tags: dict[str, str]) -> dict[str, Any]:
    """CreateTable's request (then UpdateTimeToLive with TIME_TO_LIVE)."""
    return {
        "TableName": connections_table_name(target),
        "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "connectionId", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }


def websocket_api(target: FeatureTarget, tags: dict[str, str]) -> dict[str, Any]:
    """CreateApi's request."""
    return {
        "Name": api_name(target),
        "ProtocolType": "WEBSOCKET",
        "RouteSelectionExpression": ROUTE_SELECTION,
        "Tags": dict(tags),
    }


def manage_connections_arn(target: FeatureTarget, api_id: str) -> str:
    return target.arn("execute-api", f"{api_id}/{STAGE}/POST/@connections/*")


def invoke_permission_source_arn(target: FeatureTarget, api_id: str) -> str:
    return target.arn("execute-api", f"{api_id}/*")


def url(target: FeatureTarget, api_id: str, local_base: str | None = None) -> str:
    """The clients' URL; `local_base` is the embedded AWS's ws://127.0.0.1:<port>."""
    if local_base:
        return f"{local_base}/{api_id}/{STAGE}"
    # The partition's DNS suffix: execute-api.cn-north-1.amazonaws.com.cn in the China regions.
    return f"wss://{api_id}.execute-api.{target.region}.{dns_suffix_of(target.region)}/{STAGE}"


def connections_arn(target: FeatureTarget) -> str:
    return target.arn("dynamodb", f"table/{connections_table_name(target)}")


def websocket_function(target: FeatureTarget) -> dict[str, Any]:
    return {
        "key": "websocket_fn",
        "name": websocket_function_name(target),
        "handler": "websocket_routes.lambda_handler",
        "memory": 256,
        "timeout": 10,
        "role": f"{target.project}-ws-role",
        "environment": {
            "CONNECTIONS_TABLE_NAME": connections_table_name(target),
            "JOBS_TABLE_NAME": target.names.table,
            "CONNECTION_TTL_SECONDS": str(CONNECTION_TTL_SECONDS),
        },
    }


def websocket_policy(target: FeatureTarget, api_id: str) -> dict[str, Any]:
    return policy(
        statement(
            ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            [connections_arn(target)],
        ),
        statement(["dynamodb:GetItem"], [target.table_arn]),
        statement(["execute-api:ManageConnections"], [manage_connections_arn(target, api_id)]),
        log_statement(target, websocket_function_name(target)),
    )


def pusher_function(target: FeatureTarget) -> dict[str, Any]:
    return {
        "key": "pusher_fn",
        "name": pusher_function_name(target),
        "handler": "status_pusher.lambda_handler",
        "memory": 256,
        "timeout": 30,
        "role": f"{target.project}-pusher-role",
        "environment": {"CONNECTIONS_TABLE_NAME": connections_table_name(target)},
    }


def pusher_dlq_name(target: FeatureTarget) -> str:
    """The stream mapping's on-failure destination: batches the pusher failed on, after the retries."""
    return f"{target.project}-pusher-dlq"


def pusher_policy(target: FeatureTarget, api_id: str) -> dict[str, Any]:
    return policy(
        # The mapping sends a failed batch's description to its on-failure destination with the
        # function's role (Lambda developer guide, "Retaining discarded batches for a DynamoDB event
        # source": the execution role needs sqs:SendMessage on the destination queue).
        statement(["sqs:SendMessage"], [target.queue_arn(pusher_dlq_name(target))]),
        statement(
            ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem"], [connections_arn(target)]
        ),
        # What the stream mapping needs, on the jobs table's streams only.
        statement(
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            [f"{target.table_arn}/stream/*"],
        ),
        # ListStreams has no resource type (Service Authorization Reference, Amazon DynamoDB: "*" only),
        # so a stream ARN would grant nothing; Lambda lists the mapping's streams with it
        # (AWSLambdaDynamoDBExecutionRole grants it on "*" too). It reveals stream ARNs, nothing else.
        statement(["dynamodb:ListStreams"], ["*"]),
        statement(["execute-api:ManageConnections"], [manage_connections_arn(target, api_id)]),
        log_statement(target, pusher_function_name(target)),
    )


def stream_mapping(target: FeatureTarget) -> dict[str, Any]:
    """The jobs table's stream -> the pusher (the stream ARN is the table's LatestStreamArn)."""
    return {
        "key": "pusher_mapping",
        "function": pusher_function_name(target),
        "table": target.names.table,
        **STREAM_MAPPING,
    }


# --- The feature as units of the stack (stack.build_units adds them when "websocket" is on) --------

FEATURE = "websocket"
INVOKE_STATEMENT_ID = "asyncapi-websocket-invoke"
_API = "{api}"  # the WebSocket API's id in the data above, until a Sub puts a reference there


def is_on(ctx: Context) -> bool:
    return FEATURE in ctx.settings.features


def _api_refs(value: Any) -> Any:
    """The value with every string naming the API id as _API made a Sub of the API's id."""
    if isinstance(value, str) and _API in value:
        return Sub.of(value, api=ref("ws_api").id)
    if isinstance(value, dict):
        return {k: _api_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_api_refs(v) for v in value]
    return value


def table_attributes(ctx: Context) -> dict[str, Any]:
    """What the jobs table gets: a stream of new and old images while the feature is on."""
    return {"StreamSpecification": dict(JOBS_STREAM)} if is_on(ctx) else {}


def _function(ctx: Context, data: dict[str, Any], role_key: str, environment: dict[str, Any]) -> Function:
    return Function(
        key=data["key"],
        name=data["name"],
        code="app",
        attributes={
            "Runtime": ctx.settings.runtime,
            "Handler": data["handler"],
            "MemorySize": data["memory"],
            "Timeout": data["timeout"],
            "Role": ref(role_key).arn,
            "Environment": {"Variables": {**data["environment"], **environment}},
        },
        after=(f"{data['key']}_logs",),
    )


def units(ctx: Context, *, include_disabled: bool = False) -> list[Unit]:
    """The connections table, the WebSocket API (routes, stage), its two functions with their roles
    and log groups, the invoke permission and the jobs table's stream mapping to the pusher."""
    if not (include_disabled or is_on(ctx)):
        return []
    where = FeatureTarget.of(ctx)
    table = connections_table(where, {})
    routes_fn, pusher_fn = websocket_function(where), pusher_function(where)
    description = f"asyncapi stack {where.project}"

    def role(key: str, data: dict[str, Any], document: dict[str, Any]) -> Role:
        return Role(
            key=key,
            name=data["role"],
            attributes={
                "AssumeRolePolicyDocument": lambda_trust_policy(),
                "Description": description,
                "Policies": {POLICY_NAME: _api_refs(document)},
            },
        )

    def logs(data: dict[str, Any]) -> LogGroup:
        return LogGroup(
            key=f"{data['key']}_logs",
            name=where.names.log_group(data["name"]),
            attributes={"retentionInDays": ctx.settings.log_retention_days},
        )

    api_id = ref("ws_api").id
    return [
        Table(
            key="connections_table",
            name=table["TableName"],
            attributes={
                **{k: v for k, v in table.items() if k not in ("TableName", "Tags")},
                "TimeToLiveSpecification": dict(TIME_TO_LIVE),
            },
        ),
        WebSocketApi(
            key="ws_api",
            name=api_name(where),
            attributes={"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": ROUTE_SELECTION},
        ),
        role("ws_role", routes_fn, websocket_policy(where, _API)),
        role("pusher_role", pusher_fn, pusher_policy(where, _API)),
        logs(routes_fn),
        logs(pusher_fn),
        _function(
            ctx,
            routes_fn,
            "ws_role",
            {"CONNECTIONS_TABLE_NAME": ref("connections_table").name, "JOBS_TABLE_NAME": ref("table").name},
        ),
        _function(ctx, pusher_fn, "pusher_role", {"CONNECTIONS_TABLE_NAME": ref("connections_table").name}),
        WebSocketRoutes(
            key="ws_routes",
            name=f"{api_name(where)}: " + ", ".join(ROUTES),
            attributes={
                "ApiId": api_id,
                "Integration": {
                    "IntegrationType": "AWS_PROXY",
                    # API Gateway invokes a Lambda function with POST whatever the route; AWS requires
                    # IntegrationMethod POST on a Lambda integration (apigatewayv2 CreateIntegration).
                    "IntegrationMethod": "POST",
                    "IntegrationUri": Sub.of(
                        where.lambda_integration_uri("{function}"), function=ref("websocket_fn").arn
                    ),
                },
                "RouteKeys": list(ROUTES),
            },
        ),
        InvokePermission(
            key="ws_permission",
            name=f"{routes_fn['name']}/{INVOKE_STATEMENT_ID}",
            attributes={
                "FunctionName": ref("websocket_fn").name,
                "StatementId": INVOKE_STATEMENT_ID,
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": _api_refs(invoke_permission_source_arn(where, _API)),
                "SourceAccount": where.account,
            },
        ),
        # Auto-deployed once the routes exist and may invoke their function.
        WebSocketStage(
            key="ws_stage",
            name=f"{api_name(where)}/{STAGE}",
            attributes={
                "ApiId": api_id,
                "StageName": STAGE,
                "AutoDeploy": True,
                # The stage's throttle on every route ($connect included), as the REST stage's: the
                # WebSocket API has no auth either ("Throttle requests to your WebSocket APIs":
                # DefaultRouteSettings ThrottlingRateLimit / ThrottlingBurstLimit).
                "DefaultRouteSettings": {
                    "ThrottlingRateLimit": float(ctx.settings.throttle_rate_limit),
                    "ThrottlingBurstLimit": int(ctx.settings.throttle_burst_limit),
                },
            },
            after=("ws_routes", "ws_permission"),
        ),
        Queue(
            key="pusher_dlq",
            name=pusher_dlq_name(where),
            attributes=queue_attributes(visibility_timeout=ctx.settings.dlq_visibility_timeout),
        ),
        EventSourceMapping(
            key="pusher_mapping",
            name=f"{where.names.table} stream -> {pusher_fn['name']}",
            attributes={
                "EventSourceArn": ref("table").stream_arn,
                "FunctionName": ref("pusher_fn").name,
                **STREAM_MAPPING,
                # After MaximumRetryAttempts (or MaximumRecordAgeInSeconds) a batch is skipped; its
                # description goes here instead of nowhere (Lambda API reference, DestinationConfig).
                "DestinationConfig": {"OnFailure": {"Destination": ref("pusher_dlq").arn}},
            },
        ),
    ]


def outputs(ctx: Context, resources: dict[str, Any], local_base: str | None) -> dict[str, Any]:
    """`up`'s websocket_url output (None while the feature is off); `local_base` is the embedded
    AWS's WebSocket server (server.json's "websocket")."""
    api = resources.get("ws_api") or {}
    if not api.get("id"):
        return {"websocket_url": None}
    return {"websocket_url": url(FeatureTarget.of(ctx), api["id"], local_base)}


def local_base(kind: str) -> str | None:
    """The embedded AWS's WebSocket server, for a local stack (None elsewhere or when not running)."""
    if kind != "local":
        return None
    from ..local import manager

    return (manager.running_info() or {}).get("websocket")
