"""The client's kept-alive connections (asyncapi_cli/clients/keepalive.py), against a small HTTP/1.1 server on
127.0.0.1 that records each request with the client port it came from."""

from __future__ import annotations

import http.server
import select
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from asyncapi_cli.clients import keepalive, transport
from asyncapi_cli.retry import Pacer, wait_until


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int, bytes, dict[str, str]]] = []  # method, path, client port
        self.changed = threading.Condition()
        self.close_after_answer = False  # then the server closes the connection without saying so

    def record(self, entry: tuple[str, str, int, bytes, dict[str, str]]) -> None:
        with self.changed:
            self.requests.append(entry)
            self.changed.notify_all()


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.record((self.command, self.path, self.client_address[1], body, dict(self.headers)))
            if self.path.startswith("/redirect-"):
                code, target = self.path.removeprefix("/redirect-").split("-", 1)
                self.send_response(int(code))
                self.send_header("Location", "/" + target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/hang-up":
                self.close_connection = True  # read the request, then close without an answer
                return
            answer = b'{"ok": true}'
            self.send_response(202 if self.command == "POST" else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            if recorder.close_after_answer:
                self.close_connection = True

        do_GET = do_POST = do_HEAD = _answer

    httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    keepalive.close_all()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", recorder
    finally:
        keepalive.close_all()
        httpd.shutdown()
        httpd.server_close()


def test_requests_from_one_thread_share_one_connection(server: tuple[str, Recorder]) -> None:
    url, recorder = server
    assert transport.http("POST", f"{url}/submit", {"a": 1}).status == 202
    assert transport.http("GET", f"{url}/status/x").body == {"ok": True}
    assert transport.http("GET", f"{url}/status/y?z=1").status == 200
    ports = {port for _, _, port, _, _ in recorder.requests}
    assert len(recorder.requests) == 3 and len(ports) == 1
    method, path, _, body, headers = recorder.requests[0]
    assert (method, path, body) == ("POST", "/submit", b'{"a": 1}')
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"].startswith(
        "Python-urllib/"
    )
    assert recorder.requests[2][1] == "/status/y?z=1"


def test_threads_do_not_share_a_connection(server: tuple[str, Recorder]) -> None:
    url, recorder = server
    transport.http("GET", f"{url}/a")
    other = threading.Thread(target=transport.http, args=("GET", f"{url}/b"))
    other.start()
    other.join(30)
    assert len({port for _, _, port, _, _ in recorder.requests}) == 2


def test_a_connection_the_server_closed_is_not_reused(server: tuple[str, Recorder]) -> None:
    """The server closes an idle kept connection without a word (as a load balancer's idle timeout does):
    the next request goes on a new connection and is answered, sent once."""
    url, recorder = server
    recorder.close_after_answer = True
    transport.http("GET", f"{url}/first")
    kept = keepalive._connections().kept  # the connection kept after the answer, closed by the server
    assert kept

    def closed_by_server() -> bool:
        return all(c.sock is None or select.select([c.sock], [], [], 0)[0] for c in kept.values())

    wait_until(closed_by_server, pacer=Pacer(), what="the server's close", timeout=10, base=0.01, cap=0.1)
    recorder.close_after_answer = False
    assert transport.http("POST", f"{url}/second", {"b": 2}).status == 202
    assert [path for _, path, _, _, _ in recorder.requests] == ["/first", "/second"]
    assert recorder.requests[0][2] != recorder.requests[1][2]


def test_a_post_that_fails_is_not_sent_again(server: tuple[str, Recorder]) -> None:
    url, recorder = server
    with pytest.raises(transport.EndpointError, match="cannot reach"):
        transport.http("POST", f"{url}/hang-up", {"job": 1})
    assert [path for _, path, _, _, _ in recorder.requests] == ["/hang-up"]
    assert transport.http("GET", f"{url}/after").status == 200  # and the next request works


@pytest.mark.parametrize(
    ("method", "code", "followed"),
    [  # urllib.request.HTTPRedirectHandler.redirect_request's rules
        ("GET", 302, True), ("GET", 307, True), ("POST", 303, True), ("POST", 301, True),
        ("POST", 307, False), ("POST", 308, False),
    ],
)  # fmt: skip
def test_redirects_follow_urllib_rules(
    server: tuple[str, Recorder], method: str, code: int, followed: bool
) -> None:
    url, recorder = server
    answer = transport.http(method, f"{url}/redirect-{code}-target", {"x": 1} if method == "POST" else None)
    if followed:
        assert answer.status == 200
        assert [(m, p) for m, p, _, _, _ in recorder.requests][-1] == ("GET", "/target")
        assert recorder.requests[-1][3] == b""  # the body is not sent on
    else:
        assert answer.status == code and len(recorder.requests) == 1


def test_a_proxy_in_the_environment_is_used(
    server: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HTTP_PROXY set (and 127.0.0.1 not in NO_PROXY), the request goes to the proxy as urllib sends
    it: the absolute URL in the request line."""
    proxy_url, recorder = server
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    transport.http("GET", "http://api.invalid/status/x")
    assert recorder.requests[0][1] == "http://api.invalid/status/x"
