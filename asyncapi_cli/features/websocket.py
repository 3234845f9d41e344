"""WebSocket status push (issue 11): what the stack deploys for it, as data.

- the jobs table gets a stream: JOBS_STREAM (NEW_AND_OLD_IMAGES);
- the table `<name>-connections` (key connectionId S, on demand, encrypted, TTL on `expiresAt`);
- the WebSocket API `<name>-ws` (route selection `$request.body.action`; routes $connect,
  $disconnect, subscribe; AWS_PROXY integrations to `<name>-websocket`), stage `prod` (auto-deploy),
  URL wss://<apiId>.execute-api.<region>.amazonaws.com/prod (embedded AWS: ws://127.0.0.1:<port>/<apiId>/prod);
- the functions `<name>-websocket` (handlers/websocket_routes.py) and `<name>-status-pusher`
  (handlers/status_pusher.py), each with its own role scoped to these resources;
- an event source mapping: the jobs table's stream -> the pusher (STREAM_MAPPING).
"""

from __future__ import annotations

from typing import Any

from . import FeatureTarget, log_statement, policy, statement

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
    return f"wss://{api_id}.execute-api.{target.region}.amazonaws.com/{STAGE}"


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


def pusher_policy(target: FeatureTarget, api_id: str) -> dict[str, Any]:
    return policy(
        statement(
            ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem"], [connections_arn(target)]
        ),
        # What the stream mapping needs, on the jobs table's streams only.
        statement(
            [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            [f"{target.table_arn}/stream/*"],
        ),
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
