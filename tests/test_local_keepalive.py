"""moto's server with keep-alive (asyncapi_cli/local/moto_server/keepalive.py): several requests on one
connection, answered as werkzeug answers them; HEAD, bodiless errors, Expect: 100-continue and chunked
request bodies keep the framing right."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from asyncapi_cli.local.moto_server import keepalive as keepalive_wsgi
from asyncapi_cli.local.moto_server.keepalive import KeepAliveMotoServer

# Its tests share a module-scoped server: one pytest-xdist worker runs them all (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_local_keepalive")

REGION = "us-east-1"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int, list[int]]]:
    connections: list[int] = []
    setup = keepalive_wsgi.KeepAliveHandler.setup

    def counting_setup(self: Any) -> None:
        connections.append(threading.get_ident())
        setup(self)

    keepalive_wsgi.KeepAliveHandler.setup = counting_setup  # type: ignore[method-assign]
    moto = KeepAliveMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    yield host, port, connections
    moto.stop()
    keepalive_wsgi.KeepAliveHandler.setup = setup  # type: ignore[method-assign]


def client(server: tuple[str, int, list[int]], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{server[1]}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_client_reuses_one_connection(server: tuple[str, int, list[int]]) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName="kept")["QueueUrl"]
    before = len(server[2])
    for index in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["0", "1", "2", "3", "4"]
    assert len(server[2]) == before  # six calls, no new connection


def test_s3_put_with_expect_continue_head_and_get(server: tuple[str, int, list[int]]) -> None:
    s3 = client(server, "s3")
    s3.create_bucket(Bucket="kept-bucket")
    body = b"x" * 200_000
    s3.put_object(Bucket="kept-bucket", Key="k", Body=body)  # botocore sends Expect: 100-continue
    assert s3.head_object(Bucket="kept-bucket", Key="k")["ContentLength"] == len(body)
    assert s3.get_object(Bucket="kept-bucket", Key="k")["Body"].read() == body
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket="kept-bucket", Key="missing")  # a bodiless 404 keeps the framing
    assert s3.get_object(Bucket="kept-bucket", Key="k")["Body"].read() == body


def test_an_unread_body_and_a_chunked_body_keep_the_framing(server: tuple[str, int, list[int]]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server[1], timeout=10)
    try:
        # Requests on one connection: a form body, a HEAD (no body), then a chunked body.
        form = b"Action=ListQueues"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20000101/us-east-1/sqs/aws4_request",
        }
        connection.request("POST", "/", body=form, headers=headers)
        second = connection.getresponse()
        assert second.status == 200 and b"ListQueuesResponse" in second.read()
        assert second.getheader("Connection") is None
        connection.request("HEAD", "/kept-bucket/k", headers={"Host": "s3.amazonaws.com"})
        third = connection.getresponse()
        assert third.read() == b""
        # A chunked body is answered, then the connection is closed (as werkzeug does).
        connection.putrequest("POST", "/")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        connection.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(form), form))
        fourth = connection.getresponse()
        assert b"ListQueuesResponse" in fourth.read()
        assert fourth.status == 200 and fourth.getheader("Connection") == "close"
    finally:
        connection.close()


def test_the_date_header_is_the_current_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Date text is made once a second and reused: each moment gets http.server's own text for it
    (email.utils.formatdate, RFC 9110's IMF-fixdate), across second and day boundaries."""
    import email.utils

    handler = keepalive_wsgi.KeepAliveHandler.__new__(keepalive_wsgi.KeepAliveHandler)
    now = [0.0]
    monkeypatch.setattr(keepalive_wsgi.time, "time", lambda: now[0])
    monkeypatch.setattr(keepalive_wsgi, "_last_date", (-1, ""))
    for moment in (1798761599.0, 1798761599.5, 1798761599.999, 1798761600.0, 1798761600.2, 1798761599.7, 0.4):
        now[0] = moment
        assert handler.date_time_string() == email.utils.formatdate(moment, usegmt=True), moment
    assert handler.date_time_string(86400.0) == "Fri, 02 Jan 1970 00:00:00 GMT"


def test_one_100_continue_for_an_expect_header(server: tuple[str, int, list[int]]) -> None:
    """RFC 9110 10.1.1: a server answers Expect: 100-continue with one interim 100 response before the
    final one. http.server sends it while parsing an HTTP/1.1 request (handle_expect_100); the handler
    must not send a second (clients skip extra 100s, but it is a wasted write per S3 PUT)."""
    import socket

    body = b"Action=ListQueues"
    request = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Authorization: AWS4-HMAC-SHA256 Credential=testing/20000101/us-east-1/sqs/aws4_request\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", server[1]), timeout=10) as sock:
        sock.sendall(request)
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            chunk = sock.recv(1)
            assert chunk, interim
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = b""
        while b"</ListQueuesResponse>" not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"100 Continue" not in answer
