"""A minimal WebSocket client (stdlib; RFC 6455 via local/websocket/frames.py) for `test-job --watch`.

`follow(url, job_id, on_status)` subscribes to a job on the stack's WebSocket API and calls
`on_status(message)` for each status message until the final one. ws:// (the embedded AWS) and
wss:// (AWS, TLS with certificate verification) URLs. When the WebSocket cannot be used (feature
off, connection refused), `follow_or_poll` falls back to the caller's polling function.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..local.websocket import frames as wsf

MAX_MESSAGE = 1024 * 1024


class WebSocketError(Exception):
    """The handshake failed or the connection broke."""


class WebSocketClient:
    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise WebSocketError(f"not a WebSocket URL: {url}")
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        try:
            sock = socket.create_connection((parts.hostname, port), timeout=timeout)
            if parts.scheme == "wss":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        except OSError as exc:
            raise WebSocketError(f"cannot connect to {url}: {exc}") from exc
        self.sock = sock
        self._read = wsf.exact_reader(sock.recv)
        self._assembler = wsf.MessageAssembler(MAX_MESSAGE)
        self.closed: tuple[int, str] | None = None
        self._handshake(parts, headers or {})

    def _handshake(self, parts: urllib.parse.SplitResult, headers: dict[str, str]) -> None:
        key = wsf.new_client_key()
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise WebSocketError("connection closed during the handshake")
            head += chunk
            if len(head) > 16384:
                raise WebSocketError("handshake answer too long")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        if status_line.split(" ")[1:2] != ["101"]:
            raise WebSocketError(f"handshake refused: {status_line}")
        answer = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        if answer.get("sec-websocket-accept") != wsf.accept_key(key):
            raise WebSocketError("handshake answer has a wrong Sec-WebSocket-Accept")

    def send_text(self, text: str) -> None:
        self.sock.sendall(wsf.encode_frame(wsf.OP_TEXT, text.encode("utf-8"), mask=True))

    def send_json(self, value: Any) -> None:
        self.send_text(json.dumps(value))

    def ping(self, payload: bytes = b"") -> None:
        self.sock.sendall(wsf.encode_frame(wsf.OP_PING, payload, mask=True))

    def receive(self, timeout: float | None = None) -> tuple[int, bytes]:
        """The next data message or pong (opcode, payload); answers pings; WebSocketError when closed."""
        self.sock.settimeout(timeout)
        while True:
            try:
                frame = wsf.read_frame(self._read, expect_masked=False, max_size=MAX_MESSAGE)
            except TimeoutError:
                raise
            except (EOFError, OSError) as exc:
                raise WebSocketError(f"connection lost: {exc}") from exc
            complete = self._assembler.feed(frame)
            if complete is None:
                continue
            opcode, payload = complete
            if opcode == wsf.OP_PING:
                self.sock.sendall(wsf.encode_frame(wsf.OP_PONG, payload, mask=True))
                continue
            if opcode == wsf.OP_CLOSE:
                self.closed = wsf.parse_close(payload)
                raise WebSocketError(f"closed by the server: {self.closed[0]}")
            return opcode, payload

    def receive_json(self, timeout: float | None = None) -> Any:
        opcode, payload = self.receive(timeout)
        return json.loads(payload) if opcode in (wsf.OP_TEXT, wsf.OP_BINARY) else None

    def close(self, code: int = wsf.NORMAL) -> None:
        try:
            self.sock.sendall(wsf.encode_frame(wsf.OP_CLOSE, wsf.close_payload(code), mask=True))
        except OSError:
            pass
        finally:
            self.sock.close()


def follow(
    url: str, job_id: str, on_status: Callable[[dict[str, Any]], None], *, timeout: float = 300.0
) -> dict[str, Any]:
    """Subscribe to a job; report each status message; return the final one."""
    client = WebSocketClient(url, timeout=min(timeout, 30.0))
    try:
        client.send_json({"action": "subscribe", "jobId": job_id})
        while True:
            message = client.receive_json(timeout)
            if not isinstance(message, dict) or message.get("jobId") != job_id:
                continue
            if "status" in message:
                on_status(message)
                if message.get("final"):
                    return message
    except TimeoutError as exc:
        raise WebSocketError(f"no final status for {job_id} within {timeout:g} s") from exc
    finally:
        client.close()


def follow_or_poll(
    url: str | None,
    job_id: str,
    on_status: Callable[[dict[str, Any]], None],
    poll: Callable[[], dict[str, Any]],
    *,
    timeout: float = 300.0,
) -> tuple[str, dict[str, Any]]:
    """("websocket", final) when the stack has a WebSocket URL that answers, else ("polling", poll())."""
    if url:
        try:
            return "websocket", follow(url, job_id, on_status, timeout=timeout)
        except WebSocketError:
            pass  # e.g. the feature was turned off since: polling still works
    return "polling", poll()
