"""The gateway's per-request line in server.log is a debug line; its errors still log at INFO.

The server logs a request after its answer is sent, in the connection's thread: the test waits for a line
to arrive (bounded), and checks that a line did not come only once a later request on the same connection
(handled after it, by the same thread) has logged."""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from asyncapi_cli.local.gateway.rest import Gateway, make_server


class Kept(logging.Handler):
    """The gateway logger's records, whatever other tests did to propagation or the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.lines.append(record.getMessage())
            self.changed.notify_all()

    def wait_for(self, found: Callable[[str], bool]) -> list[str]:
        with self.changed:
            assert self.changed.wait_for(lambda: any(found(line) for line in self.lines), timeout=30)
            return [line for line in self.lines if found(line)]


@pytest.fixture
def gateway_log() -> Iterator[tuple[logging.Logger, Kept]]:
    logger = logging.getLogger("asyncapi.local.gateway")
    kept, level = Kept(), logger.level
    logger.addHandler(kept)
    try:
        yield logger, kept
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)


def _too_long(connection: http.client.HTTPConnection) -> None:
    connection.putrequest("GET", "/" + "x" * 70000, skip_host=True)  # over http.server's line limit
    connection.endheaders()
    assert connection.getresponse().status == 414


def test_a_request_line_is_logged_at_debug_only(gateway_log: tuple[logging.Logger, Kept]) -> None:
    logger, kept = gateway_log
    server = make_server(Gateway(lambda *args, **kwargs: None, "http://127.0.0.1:9"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        logger.setLevel(logging.INFO)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/restapis/none/prod/_user_request_/quiet")
        answer = connection.getresponse()
        answer.read()
        _too_long(connection)  # the same connection: handled after the first request was logged (or not)
        connection.close()
        kept.wait_for(lambda line: "414" in line)  # log_error still logs, at INFO
        assert not [line for line in kept.lines if "/quiet" in line]
        logger.setLevel(logging.DEBUG)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/restapis/none/prod/_user_request_/loud")
        connection.getresponse().read()
        connection.close()
        lines = kept.wait_for(lambda line: "/loud" in line)
        assert len(lines) == 1
        assert f'"GET /restapis/none/prod/_user_request_/loud HTTP/1.1" {answer.status}' in lines[0]
    finally:
        server.shutdown()
        server.server_close()
