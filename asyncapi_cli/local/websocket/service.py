"""Serves deployed API Gateway WebSocket APIs on 127.0.0.1 (RFC 6455), with the @connections API.

URL shapes (one port for every API):
- clients connect to   ws://127.0.0.1:<port>/<apiId>/<stage>
- the management API:  http://127.0.0.1:<port>/<stage>/@connections/<connectionId>
  (POST = PostToConnection, GET = GetConnection, DELETE = DeleteConnection; 410 GoneException for a
  connection that is not open). The events' requestContext.domainName is "127.0.0.1:<port>", so a
  handler that builds its endpoint as "<scheme>://{domainName}/{stage}" (http on loopback) reaches it.

It executes what the control plane holds (moto's apigatewayv2 backend): the API's route selection
expression, its routes ($connect, $disconnect, $default and custom keys) and their Lambda proxy
integrations, invoked through the embedded Lambda runtime with the event shape AWS documents
("Working with routes for WebSocket APIs", and the Lambda console's "apigateway-websocket" sample
events): requestContext with routeKey, eventType CONNECT|MESSAGE|DISCONNECT, connectionId,
connectedAt, domainName, stage, apiId, requestId, messageId ...
Limits as API Gateway's: 128 KB per message, 32 KB per frame.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import frames as wsf
from .control import WsApi, read_ws_api, select_route

log = logging.getLogger("asyncapi.local.websocket")
MAX_MESSAGE = 128 * 1024
MAX_FRAME = 32 * 1024
Invoke = Callable[[str, str, str, Any], Any]  # LambdaRuntime.invoke(account, region, function, event)
_MANAGEMENT_RE = re.compile(r"^/(?P<stage>[^/]+)/@connections/(?P<id>[^/]+)$")
_CONNECT_RE = re.compile(r"^/(?P<api>[^/]+)/(?P<stage>[^/?]+)/?(?:\?.*)?$")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def new_connection_id() -> str:
    return (
        base64.b64encode(os.urandom(11)).decode().replace("/", "_").replace("+", "-")
    )  # 16 chars, like AWS's


@dataclass
class Connection:
    id: str
    api: WsApi
    stage: str
    sock: Any
    source_ip: str
    user_agent: str
    headers: dict[str, str]
    connected_at: int = field(default_factory=_now_ms)
    last_active: int = field(default_factory=_now_ms)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)  # set once $disconnect ran
    close_code: int | None = None
    close_reason: str = ""

    def send(self, opcode: int, payload: bytes) -> None:
        with self.lock:
            if self.closed.is_set():
                raise ConnectionError("closed")
            self.sock.sendall(wsf.encode_frame(opcode, payload))

    def close(self, code: int, reason: str = "") -> None:
        with self.lock:
            if self.closed.is_set():
                return
            self.closed.set()
            self.close_code, self.close_reason = code, reason
            try:
                self.sock.sendall(wsf.encode_frame(wsf.OP_CLOSE, wsf.close_payload(code, reason)))
                self.sock.shutdown(socket.SHUT_RD)  # ends the reader loop; the close frame is on its way
            except OSError:
                pass


class WebSocketService:
    def __init__(self, invoke: Invoke, apis: Callable[[str], WsApi | None] = read_ws_api) -> None:
        self.invoke = invoke
        self.apis = apis
        self.domain = "127.0.0.1"
        self.connections: dict[str, Connection] = {}
        self._lock = threading.Lock()

    def _context(self, conn: Connection, route_key: str, event_type: str) -> dict[str, Any]:
        now = _now_ms()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": conn.stage,
            "connectedAt": conn.connected_at,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": uuid.uuid4().hex[:16],
            "domainName": self.domain,
            "connectionId": conn.id,
            "apiId": conn.api.api_id,
        }

    def _run(self, conn: Connection, route_key: str, event: dict[str, Any]) -> Any:
        target = conn.api.routes.get(route_key)
        if target is None:
            return None
        account, region, function = target
        return self.invoke(account, region, function, event)

    def connect(self, conn: Connection, query: dict[str, str]) -> int:
        """Run $connect; the HTTP status the handshake answers (101 when accepted)."""
        if "$connect" not in conn.api.routes:
            return 101
        event = {
            "headers": conn.headers,
            "multiValueHeaders": {k: [v] for k, v in conn.headers.items()},
            **({"queryStringParameters": query} if query else {}),
            "requestContext": self._context(conn, "$connect", "CONNECT"),
            "isBase64Encoded": False,
        }
        result = self._run(conn, "$connect", event)
        if result is None or not result.ok:
            log.warning("$connect failed: %s", getattr(result, "error_message", "no integration"))
            return 500
        status = (result.payload or {}).get("statusCode", 200) if isinstance(result.payload, dict) else 200
        return 101 if 200 <= int(status) < 300 else int(status)

    def message(self, conn: Connection, opcode: int, payload: bytes) -> None:
        route_key = select_route(conn.api.selection_expression, payload, conn.api.routes)
        context = self._context(conn, route_key or "$default", "MESSAGE")
        if route_key is None:  # what API Gateway answers when no route matches and there is no $default
            body = {"message": "Forbidden", "connectionId": conn.id, "requestId": context["requestId"]}
            self._safe_send(conn, json.dumps(body).encode())
            return
        context["messageId"] = uuid.uuid4().hex[:16]
        binary = opcode == wsf.OP_BINARY
        event = {
            "requestContext": context,
            "body": base64.b64encode(payload).decode() if binary else payload.decode("utf-8"),
            "isBase64Encoded": binary,
        }
        result = self._run(conn, route_key, event)
        if result is not None and not result.ok:
            log.warning("route %s failed: %s %s", route_key, result.error_type, result.error_message)
            body = {
                "message": "Internal server error",
                "connectionId": conn.id,
                "requestId": context["requestId"],
            }
            self._safe_send(conn, json.dumps(body).encode())
        elif result is not None and route_key in conn.api.two_way and isinstance(result.payload, dict):
            answer = result.payload.get("body")
            if answer:
                self._safe_send(conn, str(answer).encode("utf-8"))

    def disconnect(self, conn: Connection, code: int, reason: str) -> None:
        with self._lock:
            self.connections.pop(conn.id, None)
        if "$disconnect" in conn.api.routes:
            context = self._context(conn, "$disconnect", "DISCONNECT")
            context.update(disconnectStatusCode=code, disconnectReason=reason)
            event = {"headers": conn.headers, "requestContext": context, "isBase64Encoded": False}
            self._run(conn, "$disconnect", event)
        conn.finished.set()

    @staticmethod
    def _safe_send(conn: Connection, data: bytes) -> None:
        try:
            conn.send(wsf.OP_TEXT, data)
        except (OSError, ConnectionError):
            pass

    def register(self, conn: Connection) -> None:
        with self._lock:
            self.connections[conn.id] = conn

    def manage(
        self, method: str, stage: str, connection_id: str, body: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        """The @connections API; (HTTP status, JSON body)."""
        with self._lock:
            conn = self.connections.get(connection_id)
        if conn is None or conn.stage != stage or conn.closed.is_set():
            return 410, {"message": None, "__type": "GoneException"}
        if method == "POST":
            if len(body) > MAX_MESSAGE:
                return 413, {"message": "Message too long", "__type": "PayloadTooLargeException"}
            try:
                body.decode("utf-8")
                conn.send(wsf.OP_TEXT, body)
            except UnicodeDecodeError:
                conn.send(wsf.OP_BINARY, body)
            except (OSError, ConnectionError):
                return 410, {"message": None, "__type": "GoneException"}
            return 200, None
        if method == "GET":
            # The wire names of botocore's apigatewaymanagementapi model (GetConnectionResponse).
            identity = {"sourceIp": conn.source_ip, "userAgent": conn.user_agent}
            return 200, {
                "connectedAt": _iso(conn.connected_at),
                "identity": identity,
                "lastActiveAt": _iso(conn.last_active),
            }
        if method == "DELETE":
            conn.close(wsf.NORMAL, "")
            return 204, None
        return 405, {"message": "Method not allowed"}

    def serve_connection(self, conn: Connection, recv: Callable[[int], bytes]) -> None:
        """The reader loop of one open connection, until it closes."""
        read = wsf.exact_reader(recv)
        assembler = wsf.MessageAssembler(MAX_MESSAGE)
        code, reason = 1006, "Connection closed abnormally"  # no close frame (7.1.5)
        try:
            while not conn.closed.is_set():
                frame = wsf.read_frame(read, expect_masked=True, max_size=MAX_FRAME)
                complete = assembler.feed(frame)
                conn.last_active = _now_ms()
                if complete is None:
                    continue
                opcode, payload = complete
                if opcode == wsf.OP_PING:
                    conn.send(wsf.OP_PONG, payload)
                elif opcode == wsf.OP_CLOSE:
                    code, reason = wsf.parse_close(payload)
                    conn.close(code if code != 1005 else wsf.NORMAL, "")
                elif opcode in (wsf.OP_TEXT, wsf.OP_BINARY):
                    threading.Thread(target=self.message, args=(conn, opcode, payload), daemon=True).start()
        except wsf.ProtocolError as exc:
            code, reason = exc.code, str(exc)
            conn.close(exc.code, str(exc))
        except (EOFError, OSError, ConnectionError):
            conn.closed.set()
        if conn.close_code is not None and code == 1006:  # we closed it (DeleteConnection, shutdown)
            code, reason = conn.close_code, conn.close_reason
        self.disconnect(conn, code, reason)


def make_server(service: WebSocketService, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(
            self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
                if "__type" in body:
                    self.send_header("x-amzn-ErrorType", body["__type"])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _management(self) -> bool:
            match = _MANAGEMENT_RE.match(urllib.parse.urlsplit(self.path).path)
            if not match:
                return False
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            connection_id = urllib.parse.unquote(match.group("id"))
            status, answer = service.manage(self.command, match.group("stage"), connection_id, body)
            self._reply(status, answer)
            return True

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.headers.get("Upgrade", "").lower() != "websocket":
                if not self._management():
                    self._reply(403, {"message": "Forbidden"})
                return
            self._upgrade()

        def do_POST(self) -> None:  # noqa: N802
            if not self._management():
                self._reply(403, {"message": "Forbidden"})

        do_DELETE = do_POST

        def _upgrade(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            match = _CONNECT_RE.match(split.path)
            api = service.apis(match.group("api")) if match else None
            if api is None or match.group("stage") not in api.stages:
                self._reply(403, {"message": "Forbidden"})
                return
            key = self.headers.get("Sec-WebSocket-Key", "")
            if self.headers.get("Sec-WebSocket-Version") != "13":
                self._reply(426, {"message": "Upgrade Required"}, {"Sec-WebSocket-Version": "13"})
                return
            if (
                "upgrade" not in self.headers.get("Connection", "").lower()
                or len(base64.b64decode(key or "=")) != 16
            ):
                self._reply(400, {"message": "Bad Request"})
                return
            headers = {k: v for k, v in self.headers.items()}
            conn = Connection(
                id=new_connection_id(),
                api=api,
                stage=match.group("stage"),
                sock=self.connection,
                source_ip=self.client_address[0],
                user_agent=self.headers.get("User-Agent", ""),
                headers=headers,
            )
            status = service.connect(conn, dict(urllib.parse.parse_qsl(split.query)))
            if status != 101:
                self._reply(status, {"message": "Forbidden" if status == 403 else "Connection refused"})
                return
            with conn.lock:  # registered before the client hears 101; no frame can precede the 101
                service.register(conn)
                self.send_response(101, "Switching Protocols")
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", wsf.accept_key(key))
                self.end_headers()
                self.wfile.flush()
            service.serve_connection(conn, self.connection.recv)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    service.domain = f"{host}:{server.server_address[1]}"
    return server


_running: tuple[ThreadingHTTPServer, WebSocketService] | None = None


def start(invoke: Invoke, port: int = 0) -> str:
    """Serve WebSocket APIs in a background thread; the base URL (ws://127.0.0.1:<port>)."""
    global _running
    stop()
    service = WebSocketService(invoke)
    server = make_server(service, port=port)
    threading.Thread(target=server.serve_forever, daemon=True, name="websocket").start()
    _running = (server, service)
    return f"ws://{service.domain}"


def stop() -> None:
    global _running
    if _running is not None:
        server, service = _running
        for conn in list(service.connections.values()):
            conn.close(wsf.GOING_AWAY, "")
        server.shutdown()
        server.server_close()
        _running = None
