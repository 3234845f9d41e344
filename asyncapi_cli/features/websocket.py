"""WebSocket status push (issue 11): what the stack deploys for it, as data.

- the jobs table gets a stream: StreamSpecification NEW_AND_OLD_IMAGES;
- the table `<name>-connections` (key connectionId S, on demand, TTL on `expiresAt`);
- the WebSocket API `<name>-ws` (route selection `$request.body.action`; routes $connect,
  $disconnect, subscribe; AWS_PROXY integrations to `<name>-websocket`), stage `prod` (auto-deploy),
  URL wss://<apiId>.execute-api.<region>.amazonaws.com/prod (on the embedded AWS:
  ws://127.0.0.1:<port>/<apiId>/prod);
- the functions `<name>-websocket` (handlers/websocket_routes.py) and `<name>-status-pusher`
  (handlers/status_pusher.py), each with its own role scoped to these resources;
- an event source mapping: the jobs table's stream -> the pusher (settings in STREAM_MAPPING).
"""

from __future__ import annotations

from typing import Any

from .specs import FunctionData, Target, lambda_function, statement

ROUTE_SELECTION = "$request.body.action"
ROUTES = ("$connect", "$disconnect", "subscribe")
STAGE = "prod"
TTL_ATTRIBUTE = "expiresAt"
CONNECTION_TTL_SECONDS = 7200  # API Gateway's maximum connection duration (2 hours)
JOBS_STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
# LATEST: a new pusher has no subscribers for older changes. Retries are bounded and a poison record is
# isolated by bisecting, so one bad record cannot stall every push; records older than an hour are moot.
STREAM_MAPPING = {
    "StartingPosition": "LATEST",
    "BatchSize": 100,
    "MaximumBatchingWindowInSeconds": 0,
    "MaximumRetryAttempts": 10,
    "BisectBatchOnFunctionError": True,
    "MaximumRecordAgeInSeconds": 3600,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
}


def api_name(stack: str) -> str:
    return f"{stack}-ws"


def connections_table_name(stack: str) -> str:
    return f"{stack}-connections"


def connections_table(target: Target) -> dict[str, Any]:
    """CreateTable's request (then UpdateTimeToLive with TIME_TO_LIVE)."""
    return {
        "TableName": connections_table_name(target.stack),
        "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "connectionId", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
        "Tags": [{"Key": "asyncapi:stack", "Value": target.stack}],
    }


TIME_TO_LIVE = {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}


def websocket_api(target: Target) -> dict[str, Any]:
    """CreateApi's request."""
    return {
        "Name": api_name(target.stack),
        "ProtocolType": "WEBSOCKET",
        "RouteSelectionExpression": ROUTE_SELECTION,
        "Tags": {"asyncapi:stack": target.stack},
    }


def integration_uri(target: Target, function_name: str) -> str:
    function_arn = target.arn("lambda", f"function:{function_name}")
    service = f"arn:{target.partition}:apigateway:{target.region}:lambda:path"
    return f"{service}/2015-03-31/functions/{function_arn}/invocations"


def manage_connections_arn(target: Target, api_id: str) -> str:
    return target.arn("execute-api", f"{api_id}/{STAGE}/POST/@connections/*")


def invoke_permission_source_arn(target: Target, api_id: str) -> str:
    return target.arn("execute-api", f"{api_id}/*")


def url(target: Target, api_id: str, local_base: str | None = None) -> str:
    """The clients' URL; `local_base` is the embedded AWS's ws://127.0.0.1:<port>."""
    if local_base:
        return f"{local_base}/{api_id}/{STAGE}"
    return f"wss://{api_id}.execute-api.{target.region}.amazonaws.com/{STAGE}"


def _tables(target: Target) -> tuple[str, str]:
    return (
        target.arn("dynamodb", f"table/{connections_table_name(target.stack)}"),
        target.arn("dynamodb", f"table/{target.stack}-jobs"),
    )


def websocket_function(target: Target, api_id: str) -> FunctionData:
    connections, jobs = _tables(target)
    return lambda_function(
        target,
        "websocket",
        "ws-role",
        "websocket_routes.lambda_handler",
        256,
        10,
        {
            "CONNECTIONS_TABLE_NAME": connections_table_name(target.stack),
            "JOBS_TABLE_NAME": f"{target.stack}-jobs",
            "CONNECTION_TTL_SECONDS": str(CONNECTION_TTL_SECONDS),
        },
        statement(
            ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            [connections],
        ),
        statement(["dynamodb:GetItem"], [jobs]),
        statement(["execute-api:ManageConnections"], [manage_connections_arn(target, api_id)]),
    )


def pusher_function(target: Target, api_id: str) -> FunctionData:
    connections, jobs = _tables(target)
    return lambda_function(
        target,
        "status-pusher",
        "pusher-role",
        "status_pusher.lambda_handler",
        256,
        30,
        {"CONNECTIONS_TABLE_NAME": connections_table_name(target.stack)},
        statement(["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], [connections]),
        # What the stream mapping needs, on the jobs table's streams only.
        statement(
            [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            [f"{jobs}/stream/*"],
        ),
        statement(["execute-api:ManageConnections"], [manage_connections_arn(target, api_id)]),
    )
