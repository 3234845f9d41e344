"""WebSocket status push: the embedded RFC 6455 server (asyncapi_cli/local/websocket/service.py), the route
handler and the status pusher (handlers/websocket_routes.py, status_pusher.py), and the watch client.

Everything real: the server reads the WebSocket API from moto's apigatewayv2 backend; its Lambda integrations
run the handlers from the deployment zip in this process (the injected invoker stands in for the embedded
Lambda runtime); the handlers reach the server's @connections API over loopback HTTP with boto3; job status
changes are written by the job processor's own functions and read back from moto's DynamoDB stream.
AWS sources: RFC 6455; "Working with routes for WebSocket APIs" and "Use @connections commands in your backend
service" (API Gateway developer guide: GoneException for a connection that is gone, $disconnect on a
best-effort basis); DynamoDB Streams record shape: "DynamoDB Streams and AWS Lambda triggers".
"""

from __future__ import annotations

import importlib
import io
import json
import socket
import struct
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from asyncapi_cli.clients.watch import WebSocketClient, WebSocketError, follow_or_poll
from asyncapi_cli.local.lambda_.runtime import InvokeResult
from asyncapi_cli.local.websocket import frames as wsf
from asyncapi_cli.local.websocket import service as ws
from asyncapi_cli.package import build_zip

ACCOUNT, REGION = "123456789012", "us-east-1"
JOBS, CONNECTIONS = "w-jobs", "w-connections"
MODULES = ("websocket_routes", "status_pusher", "job_push", "job_processor", "schedule_runs", "jobwork")


@pytest.fixture(scope="module")
def lambda_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambda-task-root")
    with zipfile.ZipFile(io.BytesIO(build_zip().zip_bytes)) as archive:
        archive.extractall(root)
    return root


def in_process_invoker(handlers: dict[str, ModuleType]) -> ws.Invoke:
    """LambdaRuntime.invoke's signature; runs the function's handler here (events JSON round-tripped)."""

    def invoke(account: str, region: str, function: str, event: Any) -> InvokeResult:
        try:
            payload = handlers[function].lambda_handler(json.loads(json.dumps(event)))
            return InvokeResult(True, payload=payload)
        except Exception as exc:
            return InvokeResult(False, error_type=type(exc).__name__, error_message=str(exc))

    return invoke


def create_websocket_api(function: str) -> str:
    v2 = boto3.client("apigatewayv2")
    api_id = v2.create_api(
        Name="w-ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    uri = (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}/invocations"
    )
    integration = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri)
    for key in ("$connect", "$disconnect", "subscribe"):
        v2.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}")
    v2.create_stage(ApiId=api_id, StageName="prod")
    return api_id


@pytest.fixture
def stack(lambda_code: Path, mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.syspath_prepend(str(lambda_code))
    for name in MODULES:
        sys.modules.pop(name, None)
    monkeypatch.setenv("JOBS_TABLE_NAME", JOBS)
    monkeypatch.setenv("CONNECTIONS_TABLE_NAME", CONNECTIONS)
    monkeypatch.setenv("RESULTS_BUCKET_NAME", "unused")
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=JOBS,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.create_table(
        TableName=CONNECTIONS,
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    modules = {
        name: importlib.import_module(name) for name in ("websocket_routes", "status_pusher", "job_processor")
    }
    api_id = create_websocket_api("w-websocket")
    service = ws.WebSocketService(in_process_invoker({"w-websocket": modules["websocket_routes"]}))
    server = ws.make_server(service)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"ws://{service.domain}/{api_id}/prod"
    stream_arn = dynamodb.describe_table(TableName=JOBS)["Table"]["LatestStreamArn"]
    yield {**modules, "url": url, "service": service, "stream": StreamReader(stream_arn)}
    server.shutdown()
    server.server_close()
    for name in MODULES:
        sys.modules.pop(name, None)


class StreamReader:
    """The jobs table's stream records since the last read, shaped as Lambda's DynamoDB event records."""

    def __init__(self, stream_arn: str) -> None:
        # botocore >= 1.4x addresses "<account>.streams-ddb.<region>", which moto does not route: name the
        # classic endpoint.
        self.client = boto3.client(
            "dynamodbstreams", endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
        )
        self.arn = stream_arn
        shard = self.client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def read(self) -> list[dict[str, Any]]:
        answer = self.client.get_records(ShardIterator=self.iterator)
        self.iterator = answer["NextShardIterator"]
        records = json.loads(json.dumps(answer["Records"], default=str))
        return [{**record, "eventSourceARN": self.arn} for record in records]


def next_message(client: WebSocketClient) -> Any:
    return client.receive_json(timeout=10)


def mark_end(stack: dict[str, Any], client: WebSocketClient, connection_id: str, text: str) -> None:
    """Post a sentinel straight to the connection: anything received before it was sent before it."""
    service: ws.WebSocketService = stack["service"]
    assert service.manage("POST", "prod", connection_id, json.dumps({"sentinel": text}).encode())[0] == 200


def connection_id_of(service: ws.WebSocketService, before: set[str]) -> str:
    (new,) = set(service.connections) - before
    return new


def test_a_client_sees_its_job_change_and_nothing_else(stack: dict[str, Any]) -> None:
    service, processor, pusher = stack["service"], stack["job_processor"], stack["status_pusher"]
    first = WebSocketClient(stack["url"])
    first_id = connection_id_of(service, set())
    other = WebSocketClient(stack["url"])
    other_id = connection_id_of(service, {first_id})
    first.send_json({"action": "subscribe", "jobId": "job-1"})
    # Not picked up yet: an error message, the connection stays, and the job is followed.
    assert next_message(first) == {
        "jobId": "job-1",
        "error": "unknown job, or not started yet; you will get its changes",
    }
    other.send_json({"action": "subscribe", "jobId": "job-2"})
    assert next_message(other)["jobId"] == "job-2"
    processor.claim(JOBS, "job-1", "2026-01-01T00:00:00.000Z", 1)
    assert pusher.lambda_handler({"Records": stack["stream"].read()}) == {"batchItemFailures": []}
    processing = next_message(first)
    assert processing["status"] == "processing" and processing["final"] is False and "updatedAt" in processing
    processor.finish(JOBS, "job-1", "completed", result_uri="s3://b/results/job-1.json", attempt=1)
    records = stack["stream"].read()
    assert pusher.lambda_handler({"Records": records}) == {"batchItemFailures": []}
    completed = next_message(first)
    assert completed["status"] == "completed" and completed["final"] is True
    # The same records again (Lambda retries a batch): no second send to the connection.
    assert pusher.lambda_handler({"Records": records}) == {"batchItemFailures": []}
    mark_end(stack, first, first_id, "first")
    assert next_message(first) == {"sentinel": "first"}
    mark_end(stack, other, other_id, "other")
    assert next_message(other) == {"sentinel": "other"}  # nothing about job-1
    first.close()
    other.close()


def test_subscribe_to_a_known_job_sends_its_status_at_once(stack: dict[str, Any]) -> None:
    stack["job_processor"].claim(JOBS, "job-9", "2026-01-01T00:00:00.000Z", 1)
    client = WebSocketClient(stack["url"])
    client.send_json({"action": "subscribe", "jobId": "job-9"})
    assert next_message(client)["status"] == "processing"
    client.send_json({"action": "subscribe", "jobId": "../etc"})
    assert "error" in next_message(client)
    client.send_json({"action": "dance"})  # no such route and no $default: API Gateway's answer
    assert next_message(client)["message"] == "Forbidden"
    client.close()


def test_a_stale_connection_is_removed_on_gone(stack: dict[str, Any]) -> None:
    # $disconnect runs on a best-effort basis, so the table can keep a connection that is gone.
    dynamodb = boto3.client("dynamodb")
    service: ws.WebSocketService = stack["service"]
    stale = "c3RhbGUtY29ubg="
    dynamodb.put_item(
        TableName=CONNECTIONS,
        Item={
            "connectionId": {"S": stale},
            "endpoint": {"S": f"http://{service.domain}/prod"},
            "jobIds": {"SS": ["job-5"]},
        },
    )
    dynamodb.put_item(
        TableName=CONNECTIONS,
        Item={"connectionId": {"S": "job#job-5"}, "connectionIds": {"SS": [stale]}, "sent": {"M": {}}},
    )
    stack["job_processor"].claim(JOBS, "job-5", "2026-01-01T00:00:00.000Z", 1)
    assert stack["status_pusher"].lambda_handler({"Records": stack["stream"].read()}) == {
        "batchItemFailures": []
    }
    assert "Item" not in dynamodb.get_item(TableName=CONNECTIONS, Key={"connectionId": {"S": stale}})
    subscribers = dynamodb.get_item(TableName=CONNECTIONS, Key={"connectionId": {"S": "job#job-5"}})["Item"]
    assert stale not in subscribers.get("connectionIds", {}).get("SS", [])


def test_disconnect_forgets_the_connection(stack: dict[str, Any]) -> None:
    client = WebSocketClient(stack["url"])
    client.send_json({"action": "subscribe", "jobId": "job-7"})
    next_message(client)
    (connection,) = stack["service"].connections.values()
    client.close()
    assert connection.finished.wait(10)  # the server ran $disconnect
    key = {"connectionId": {"S": connection.id}}
    dynamodb = boto3.client("dynamodb")
    assert "Item" not in dynamodb.get_item(TableName=CONNECTIONS, Key=key)
    subscribers = dynamodb.get_item(TableName=CONNECTIONS, Key={"connectionId": {"S": "job#job-7"}})["Item"]
    assert connection.id not in subscribers.get("connectionIds", {}).get("SS", [])


# --- RFC 6455 framing against the server, with a raw socket -----------------------------------


def raw_connect(url: str) -> socket.socket:
    host_port, path = url[len("ws://") :].split("/", 1)
    host, port = host_port.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    key = wsf.new_client_key()
    sock.sendall(
        (
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    assert f"Sec-WebSocket-Accept: {wsf.accept_key(key)}".encode() in head
    return sock


def read_server_frame(sock: socket.socket) -> wsf.Frame:
    return wsf.read_frame(wsf.exact_reader(sock.recv), expect_masked=False, max_size=1 << 20)


def test_ping_pong_fragmentation_and_close(stack: dict[str, Any]) -> None:
    sock = raw_connect(stack["url"])
    sock.sendall(wsf.encode_frame(wsf.OP_PING, b"hello", mask=True))
    assert read_server_frame(sock) == wsf.Frame(True, wsf.OP_PONG, b"hello")
    # A message in three fragments with a ping between them (control frames may interleave, 5.4).
    body = json.dumps({"action": "subscribe", "jobId": "job-3"}).encode()
    sock.sendall(wsf.encode_frame(wsf.OP_TEXT, body[:5], fin=False, mask=True))
    sock.sendall(wsf.encode_frame(wsf.OP_PING, b"p", mask=True))
    sock.sendall(wsf.encode_frame(wsf.OP_CONTINUATION, body[5:10], fin=False, mask=True))
    sock.sendall(wsf.encode_frame(wsf.OP_CONTINUATION, body[10:], fin=True, mask=True))
    assert read_server_frame(sock) == wsf.Frame(True, wsf.OP_PONG, b"p")
    reply = read_server_frame(sock)
    assert reply.opcode == wsf.OP_TEXT and json.loads(reply.payload)["jobId"] == "job-3"
    sock.sendall(wsf.encode_frame(wsf.OP_CLOSE, struct.pack("!H", 1000) + b"bye", mask=True))
    closing = read_server_frame(sock)
    assert closing.opcode == wsf.OP_CLOSE and wsf.parse_close(closing.payload)[0] == 1000
    sock.close()


PROTOCOL_ERRORS: list[tuple[bytes, int]] = [
    (
        wsf.encode_frame(wsf.OP_TEXT, b"{}", mask=False),
        wsf.PROTOCOL_ERROR,
    ),  # client frames must be masked
    (wsf.encode_frame(wsf.OP_TEXT, b"\xff\xfe", mask=True), wsf.INVALID_DATA),  # text must be UTF-8
    (wsf.encode_frame(wsf.OP_CONTINUATION, b"x", mask=True), wsf.PROTOCOL_ERROR),  # nothing to continue
    (
        wsf.encode_frame(wsf.OP_TEXT, b"x" * (33 * 1024), mask=True),
        wsf.TOO_BIG,
    ),  # API Gateway: 32 KB frames
]


def test_protocol_errors_close_with_their_code(stack: dict[str, Any]) -> None:
    for frame, code in PROTOCOL_ERRORS:
        sock = raw_connect(stack["url"])
        sock.sendall(frame)
        closing = read_server_frame(sock)
        assert closing.opcode == wsf.OP_CLOSE and wsf.parse_close(closing.payload)[0] == code
        sock.close()


def test_handshake_refusals(stack: dict[str, Any]) -> None:
    with pytest.raises(WebSocketError, match="403"):
        WebSocketClient(stack["url"].rsplit("/", 1)[0] + "/nostage")
    with pytest.raises(WebSocketError, match="cannot connect"):
        WebSocketClient("ws://127.0.0.1:9/x/prod", timeout=2)


def test_management_api_through_boto3(stack: dict[str, Any]) -> None:
    service: ws.WebSocketService = stack["service"]
    client = WebSocketClient(stack["url"])
    (connection_id,) = service.connections
    api = boto3.client("apigatewaymanagementapi", endpoint_url=f"http://{service.domain}/prod")
    api.post_to_connection(ConnectionId=connection_id, Data=b'{"hi": 1}')
    assert next_message(client) == {"hi": 1}
    assert api.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"] == "127.0.0.1"
    api.delete_connection(ConnectionId=connection_id)
    with pytest.raises(WebSocketError, match="closed by the server"):
        client.receive(timeout=10)
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id, Data=b"late")


def test_watch_falls_back_to_polling_without_a_websocket() -> None:
    seen: list[Any] = []
    how, final = follow_or_poll("ws://127.0.0.1:9/x/prod", "j", seen.append, lambda: {"status": "completed"})
    assert (how, final, seen) == ("polling", {"status": "completed"}, [])
    assert follow_or_poll(None, "j", seen.append, lambda: {"status": "failed"})[0] == "polling"
