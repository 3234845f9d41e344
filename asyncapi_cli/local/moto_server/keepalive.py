"""moto's server with HTTP/1.1 keep-alive: one connection (and one server thread) per client
connection, not per request.

werkzeug's development server closes every connection after one answer ("Always close the
connection. This disables HTTP/1.1 keep-alive connections", werkzeug/serving.py), then waits 10 ms
for leftover request bytes before closing. Every boto3 call of every Lambda worker therefore opened a
TCP connection and the server started a thread for it: three per job. AWS's endpoints keep
connections alive, and botocore pools them (max_pool_connections).

`KeepAliveHandler` answers what werkzeug answers (the same WSGI application, moto's environ with its
header spellings) and keeps the connection open when it can frame the next request: the body is read
to its Content-Length (a chunked request body still closes the connection, as werkzeug does) and the
answer is sent with a Content-Length. HEAD, 1xx, 204 and 304 answers carry no body.
"""

from __future__ import annotations

import logging
import socket
import time
import traceback
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server
from werkzeug.wsgi import LimitedStream

from . import direct as moto_direct

_werkzeug_log = logging.getLogger("werkzeug")
IDLE_SECONDS = 60.0  # an idle kept-alive connection's thread ends after this long
_last_date: tuple[int, str] = (-1, "")  # (a second, its Date header text), replaced whole


class KeepAliveHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write; without it a kept-alive reply can wait out Nagle's
        # algorithm against the client's delayed ACK (~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        # An Expect: 100-continue was answered by http.server while it parsed this HTTP/1.1 request
        # (handle_expect_100); werkzeug's own line for it here would send a second 100.
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = self.headers.get("Content-Length")
        if chunked or (length is not None and not length.strip().isdigit()):
            self.close_connection = True  # the end of this request cannot be found without werkzeug's reader
            return super().run_wsgi()
        environ = self.make_environ()
        # The application reads at most this request's body; what it leaves is read after the answer.
        body_stream = LimitedStream(self.rfile, int(length or 0))
        environ["wsgi.input"] = body_stream
        answer: dict[str, Any] = {}
        try:
            handler = moto_direct.route(self.server.app, environ)  # moto's choice may fail: a 500, as below
            if handler is not None:  # moto's handler, without Flask around it
                answer["status"], answer["headers"], body = moto_direct.answer(handler, environ)
            else:
                body = self._through_flask(environ, answer)
        except Exception:  # what werkzeug does: a 500, the error in the log, the connection closed
            self.log_error("Error on request:\n%s", traceback.format_exc())
            self.close_connection = True
            answer = {"status": "500 INTERNAL SERVER ERROR", "headers": [("Content-Type", "text/plain")]}
            body = b"Internal Server Error"
        if not self.close_connection:
            body_stream.exhaust()  # the next request starts after this body
        self._reply(answer["status"], answer["headers"], body)

    def _through_flask(self, environ: dict[str, Any], answer: dict[str, Any]) -> bytes:
        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info and answer.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            answer["status"], answer["headers"] = status, headers
            return lambda data: answer.setdefault("written", []).append(data)

        result = self.server.app(environ, start_response)
        try:
            return b"".join([*answer.get("written", []), *result])
        finally:
            if hasattr(result, "close"):
                result.close()

    def _reply(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        no_body = self.command == "HEAD" or 100 <= code < 200 or code in (204, 304)
        lines = [f"{self.protocol_version} {code} {reason}", f"Date: {self.date_time_string()}"]
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in ("connection", "transfer-encoding", "date"):
                continue
            if lowered == "content-length":
                has_length = True
                if not no_body:
                    continue  # sent below, from the body itself
            lines.append(f"{name}: {value}")
        if not no_body:
            lines.append(f"Content-Length: {len(body)}")
        elif not has_length and self.command == "HEAD":
            lines.append("Content-Length: 0")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        self.wfile.write(head if no_body else head + body)
        self.wfile.flush()
        self.log_request(code, len(body))

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header names the second: formatted once a second, not per answer (email.utils'
        # formatdate was ~1.5% of the server's CPU per Lambda worker request).
        if timestamp is not None:
            return super().date_time_string(timestamp)
        global _last_date
        second, text = _last_date  # one read: another thread may replace it meanwhile
        now = int(time.time())
        if now != second:
            second, text = _last_date = (now, super().date_time_string(now))
        return text

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug formats the line (the path decoded, a date, colours) before its logger drops it;
        # the server sets that logger to WARNING, so most requests need none of it.
        if _werkzeug_log.isEnabledFor(logging.INFO):
            super().log_request(code, size)


class KeepAliveMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer, serving with KeepAliveHandler."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=KeepAliveHandler)
        self._server.daemon_threads = True
        self._server_ready_event.set()
        self._server.serve_forever()
