"""What the WebSocket route handler and the status pusher share: the connections table, the status
message, and sending through the @connections API.

The connections table (key `connectionId`, TTL attribute `expiresAt`) holds two kinds of item:
- a connection: {"connectionId": <id>, "endpoint": <management endpoint>, "jobIds": SS, "expiresAt"}
- a job's subscribers: {"connectionId": "job#<jobId>", "connectionIds": SS, "sent": {<connectionId>:
  <mark of the last change sent>}, "expiresAt"}; the marks make a redelivered stream record harmless.
The management endpoint is "https://{domainName}/{stage}" from the connection's own request context
(http on a loopback domain: the embedded AWS), so the pusher needs no endpoint setting.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
SUBSCRIBERS_PREFIX = "job#"
FINAL = ("completed", "failed")
FIELDS = ("status", "createdAt", "startedAt", "updatedAt", "completedAt", "attempts", "error", "scheduleId")
DEFAULT_TTL_SECONDS = 7200  # API Gateway closes a WebSocket connection after 2 hours at most
_clients: dict[str, Any] = {}


def client(service: str, endpoint: str | None = None) -> Any:
    key = f"{service}|{endpoint}"
    if key not in _clients:
        _clients[key] = boto3.client(service, endpoint_url=endpoint) if endpoint else boto3.client(service)
    return _clients[key]


def log(level: str, event: str, **fields: Any) -> None:
    line = {"level": level, "event": event, "time": time.time(), **fields}
    print(json.dumps(line, default=str), file=sys.stdout, flush=True)


def table() -> str:
    return os.environ["CONNECTIONS_TABLE_NAME"]


def expires_at() -> str:
    ttl = int(os.environ.get("CONNECTION_TTL_SECONDS", DEFAULT_TTL_SECONDS))
    return str(int(time.time()) + ttl)


def management_endpoint(domain: str, stage: str) -> str:
    host = domain.split(":")[0]
    scheme = "http" if host in ("127.0.0.1", "localhost") else "https"
    return f"{scheme}://{domain}/{stage}"


def plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    return inner


def status_message(job_id: str, image: dict[str, Any]) -> dict[str, Any]:
    """{"jobId", "status", "updatedAt", ..., "final"} from a job item (DynamoDB JSON)."""
    message: dict[str, Any] = {"jobId": job_id}
    for name in FIELDS:
        if name in image:
            message[name] = plain(image[name])
    message["final"] = message.get("status") in FINAL
    return message


def subscribers(job_id: str) -> tuple[list[str], dict[str, str]]:
    item = (
        client("dynamodb")
        .get_item(
            TableName=table(), Key={"connectionId": {"S": SUBSCRIBERS_PREFIX + job_id}}, ConsistentRead=True
        )
        .get("Item")
        or {}
    )
    sent = {k: v.get("S", "") for k, v in (item.get("sent") or {}).get("M", {}).items()}
    return sorted((item.get("connectionIds") or {}).get("SS", [])), sent


def connection_endpoint(connection_id: str) -> str | None:
    item = (
        client("dynamodb").get_item(TableName=table(), Key={"connectionId": {"S": connection_id}}).get("Item")
    )
    return item["endpoint"]["S"] if item and "endpoint" in item else None


def forget(connection_id: str) -> None:
    """Remove a connection and its subscriptions (on $disconnect, or a GoneException)."""
    dynamodb = client("dynamodb")
    old = (
        dynamodb.delete_item(
            TableName=table(), Key={"connectionId": {"S": connection_id}}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        or {}
    )
    for job_id in (old.get("jobIds") or {}).get("SS", []):
        try:
            dynamodb.update_item(
                TableName=table(),
                Key={"connectionId": {"S": SUBSCRIBERS_PREFIX + job_id}},
                UpdateExpression="DELETE connectionIds :c REMOVE sent.#c",
                ConditionExpression="attribute_exists(connectionId)",
                ExpressionAttributeNames={"#c": connection_id},
                ExpressionAttributeValues={":c": {"SS": [connection_id]}},
            )
        except ClientError as exc:  # the job's subscriber item already expired
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise


def send(endpoint: str, connection_id: str, message: dict[str, Any]) -> bool:
    """Post one message; False (and the connection forgotten) when it is gone."""
    data = json.dumps(message, ensure_ascii=False).encode("utf-8")
    try:
        client("apigatewaymanagementapi", endpoint).post_to_connection(ConnectionId=connection_id, Data=data)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "GoneException":
            raise
    log("INFO", "connection-gone", connectionId=connection_id)
    forget(connection_id)
    return False
