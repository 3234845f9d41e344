"""The WebSocket API's routes ($connect, $disconnect, subscribe), one function with a route switch.

- $connect: records the connection (with its management endpoint and a TTL); 200 accepts it.
- $disconnect: forgets the connection and its subscriptions.
- subscribe {"action": "subscribe", "jobId": "..."}: follows the job. The subscription is written
  before the current status is read, so no change falls between the two; the current status is sent
  at once. A job the table does not know yet gets {"jobId", "error": ...} and stays followed (a job
  appears in the table only when a processor picks it up, so a client that subscribes right after
  submitting still sees every change); a malformed request gets {"error": ...}; the connection stays.
Environment: CONNECTIONS_TABLE_NAME, JOBS_TABLE_NAME, CONNECTION_TTL_SECONDS (default 7200).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import job_push

OK = {"statusCode": 200}


def _connect(context: dict[str, Any]) -> dict[str, Any]:
    job_push.client("dynamodb").put_item(
        TableName=job_push.table(),
        Item={
            "connectionId": {"S": context["connectionId"]},
            "endpoint": {"S": job_push.management_endpoint(context["domainName"], context["stage"])},
            "connectedAt": {"N": str(context.get("connectedAt") or int(time.time() * 1000))},
            "expiresAt": {"N": job_push.expires_at()},
        },
    )
    return OK


def _subscribe(context: dict[str, Any], body: Any) -> dict[str, Any]:
    connection_id = context["connectionId"]
    endpoint = job_push.management_endpoint(context["domainName"], context["stage"])
    job_id = body.get("jobId") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_push.JOB_ID_RE.match(job_id):
        job_push.send(
            endpoint, connection_id, {"error": "subscribe needs a jobId (1-128 letters, digits, - or _)"}
        )
        return OK
    dynamodb, ttl = job_push.client("dynamodb"), job_push.expires_at()
    dynamodb.update_item(
        TableName=job_push.table(),
        Key={"connectionId": {"S": job_push.SUBSCRIBERS_PREFIX + job_id}},
        UpdateExpression="ADD connectionIds :c SET sent = if_not_exists(sent, :empty), expiresAt = :ttl",
        ExpressionAttributeValues={":c": {"SS": [connection_id]}, ":empty": {"M": {}}, ":ttl": {"N": ttl}},
    )
    dynamodb.update_item(
        TableName=job_push.table(),
        Key={"connectionId": {"S": connection_id}},
        UpdateExpression="ADD jobIds :j",
        ConditionExpression="attribute_exists(connectionId)",
        ExpressionAttributeValues={":j": {"SS": [job_id]}},
    )
    item = dynamodb.get_item(
        TableName=os.environ["JOBS_TABLE_NAME"], Key={"jobId": {"S": job_id}}, ConsistentRead=True
    ).get("Item")
    if item is None:
        message = {"jobId": job_id, "error": "unknown job, or not started yet; you will get its changes"}
    else:
        message = job_push.status_message(job_id, item)
    job_push.send(endpoint, connection_id, message)
    return OK


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route = request.get("routeKey")
    try:
        if route == "$connect":
            return _connect(request)
        if route == "$disconnect":
            job_push.forget(request["connectionId"])
            return OK
        try:
            body = json.loads(event.get("body") or "")
        except ValueError:
            body = None
        if route == "subscribe":
            return _subscribe(request, body)
        endpoint = job_push.management_endpoint(request["domainName"], request["stage"])
        job_push.send(endpoint, request["connectionId"], {"error": "unknown action; use subscribe"})
        return OK
    except Exception as exc:  # the detail goes to the log only
        job_push.log("ERROR", "websocket-error", route=route, error=repr(exc))
        return {"statusCode": 500}
