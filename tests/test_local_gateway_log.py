"""The gateway's per-request line in server.log is a debug line; its errors still log at INFO."""

from __future__ import annotations

import http.client
import logging
import threading

import pytest

from asyncapi_cli.local.gateway import Gateway, make_server


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer.status


def test_a_request_line_is_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    server = make_server(Gateway(lambda *args, **kwargs: None, "http://127.0.0.1:9"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        with caplog.at_level(logging.INFO, logger="asyncapi.local.gateway"):
            status = _get(port, "/restapis/none/prod/_user_request_/quiet")
            assert not [r for r in caplog.records if "/quiet" in r.getMessage()]
        with caplog.at_level(logging.DEBUG, logger="asyncapi.local.gateway"):
            _get(port, "/restapis/none/prod/_user_request_/loud")
            lines = [r.getMessage() for r in caplog.records if "/loud" in r.getMessage()]
            assert (
                len(lines) == 1
                and f'"GET /restapis/none/prod/_user_request_/loud HTTP/1.1" {status}' in lines[0]
            )
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="asyncapi.local.gateway"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.putrequest("GET", "/" + "x" * 70000, skip_host=True)  # over http.server's line limit
            connection.endheaders()
            assert connection.getresponse().status == 414
            connection.close()
            assert any("414" in r.getMessage() for r in caplog.records)  # log_error still logs
    finally:
        server.shutdown()
        server.server_close()
