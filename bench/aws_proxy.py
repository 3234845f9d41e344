"""A loopback HTTP proxy putting an `AwsModel` between AWS clients and a moto server; it traces every call."""

from __future__ import annotations

import http.client
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.aws_model import Answer, AwsModel
from bench.aws_ops import identify, resource_of

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te"}
XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")


@dataclass
class CallRecord:
    """One call in the trace: when it arrived and was answered, what it was and touched, how it ended."""

    start: float
    end: float
    operation: str  # service.Operation
    resource: str
    status: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "operation": self.operation,
            "resource": self.resource,
            "status": self.status,
            "error": self.error,
        }


def error_code(answer: Answer) -> str:
    if answer.status < 300:
        return ""
    for name, value in answer.headers.items():
        if name.lower() == "x-amzn-errortype":
            return value.split(":")[0]
    code = answer.json().get("__type") or answer.json().get("code")
    if code:
        return str(code).rsplit("#", 1)[-1]
    found = XML_CODE.search(answer.body)
    return found.group(1).decode() if found else str(answer.status)


class AwsProxy:
    """Serves on 127.0.0.1 (an ephemeral port); forwards to `upstream` (moto's URL) through `model`."""

    def __init__(self, model: AwsModel, upstream: str) -> None:
        self.model = model
        target = urllib.parse.urlsplit(upstream)
        self._upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self._trace: list[CallRecord] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AwsProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take_trace(self) -> list[CallRecord]:
        with self._lock:
            trace, self._trace = self._trace, []
        return sorted(trace, key=lambda record: record.start)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        start = self.model.clock()
        call = identify(method, path, headers, body)
        self.model.sleep(self.model.latency(call))
        answer = self.model.intercept(call)
        if answer is None:
            answer = self.model.settle(call, self._forward(method, path, headers, body))
        record = CallRecord(
            start,
            self.model.clock(),
            call.name,
            resource_of(call, answer.json()),
            answer.status,
            error_code(answer),
        )
        with self._lock:
            self._trace.append(record)
        return answer

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        # A new connection per call: moto's server writes headers and body separately, and on a kept-alive
        # connection Nagle plus delayed ACKs would add ~40 ms to some answers.
        connection = http.client.HTTPConnection(*self._upstream, timeout=120)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            forwarded["Content-Length"] = str(len(body))
            forwarded["Connection"] = "close"
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
            if method == "HEAD":  # no body, but the length moto announced
                kept["Content-Length"] = response.getheader("Content-Length") or "0"
            return Answer(response.status, kept, payload)
        finally:
            connection.close()


def _handler_class(proxy: AwsProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            body = self._body()
            answer = proxy.handle(self.command, self.path, dict(self.headers.items()), body)
            head = [f"HTTP/1.1 {answer.status} {http.client.responses.get(answer.status, '')}"]
            head += [f"{k}: {v}" for k, v in answer.headers.items() if k.lower() != "content-length"]
            length = answer.headers.get("Content-Length") if self.command == "HEAD" else str(len(answer.body))
            head.append(f"Content-Length: {length or 0}")
            payload = b"" if self.command == "HEAD" else answer.body
            # Headers and body in one write: no Nagle/delayed-ACK stall on kept-alive connections.
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

    return Handler
