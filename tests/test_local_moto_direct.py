"""moto's server without Flask per request (asyncapi_cli/local/moto_server/direct.py): the same answers.

One scenario of calls (DynamoDB's JSON protocol with its errors, S3's REST protocol with metadata,
HEAD, ranges, errors and listings, SQS's and IAM's query protocol, Lambda's REST JSON) runs twice
against one keep-alive moto server: once through Flask, once directly. Every answer's status, header
names and body must be the same, once what is random or a clock (request ids, dates, message ids) is
blanked; the direct way must have answered all but the listed exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from asyncapi_cli.local.moto_server import direct as moto_direct
from asyncapi_cli.local.moto_server.keepalive import KeepAliveMotoServer

pytestmark = pytest.mark.xdist_group("test_local_moto_direct")

REGION = "us-east-1"
# What differs between two runs of the same calls whichever way they go.
VOLATILE_HEADERS = {"date", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "last-modified"}
VOLATILE_TEXT = [
    (re.compile(rb"<RequestId>[^<]*</RequestId>"), b"<RequestId/>"),
    (re.compile(rb"<HostId>[^<]*</HostId>"), b"<HostId/>"),
    (re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), b"<time>"),
    (re.compile(rb'"(CreationDateTime|LastModified)": ?[0-9.]+'), b'"<time>"'),
    (re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), b"<uuid>"),
    (re.compile(rb"<MD5OfMessageBody>[^<]*</MD5OfMessageBody>"), b"<MD5/>"),
    (re.compile(rb"(AROA|AIDA)[A-Z0-9]{17}"), b"<id>"),
]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    moto = KeepAliveMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    yield f"http://127.0.0.1:{port}"
    moto.stop()


def recorded_clients(endpoint: str, answers: list[tuple[str, int, list[str], bytes]]) -> dict[str, Any]:
    def record(http_response: Any, model: Any, **_: Any) -> None:
        body = http_response.content or b""
        for pattern, blank in VOLATILE_TEXT:
            body = pattern.sub(blank, body)
        names = sorted(k.lower() for k in http_response.headers if k.lower() not in VOLATILE_HEADERS)
        answers.append((model.name, http_response.status_code, names, body))

    clients = {}
    for service in ("dynamodb", "s3", "sqs", "iam", "lambda"):
        made = boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        made.meta.events.register("after-call", record)
        clients[service] = made
    return clients


def scenario(clients: dict[str, Any], tag: str) -> None:
    ddb, s3, sqs, iam, lam = (clients[s] for s in ("dynamodb", "s3", "sqs", "iam", "lambda"))
    table = f"jobs-{tag}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"jobId": {"S": "a"}, "n": {"N": "1"}})
    ddb.update_item(
        TableName=table,
        Key={"jobId": {"S": "a"}},
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    ddb.get_item(TableName=table, Key={"jobId": {"S": "a"}})
    failing = [
        lambda: ddb.update_item(
            TableName=table,
            Key={"jobId": {"S": "a"}},
            UpdateExpression="SET n = :v",
            ConditionExpression="attribute_not_exists(jobId)",
            ExpressionAttributeValues={":v": {"N": "0"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ),
        lambda: ddb.get_item(TableName="missing", Key={"jobId": {"S": "a"}}),
        lambda: ddb.put_item(TableName=table, Item={"other": {"S": "x"}}),
        lambda: s3.get_object(Bucket=f"results-{tag}", Key="missing"),
        lambda: s3.head_object(Bucket=f"results-{tag}", Key="missing"),
        lambda: s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x"),
        lambda: sqs.get_queue_url(QueueName="missing"),
        lambda: iam.get_role(RoleName="missing"),
        lambda: lam.get_function(FunctionName="missing"),
    ]
    bucket = f"results-{tag}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket,
        Key="results/a b+c.json",
        Body=b'{"ok": true}',
        ContentType="application/json",
        Metadata={"job_id": "a", "kind": "result"},
    )
    s3.get_object(Bucket=bucket, Key="results/a b+c.json")
    s3.get_object(Bucket=bucket, Key="results/a b+c.json", Range="bytes=0-3")
    s3.head_object(Bucket=bucket, Key="results/a b+c.json")
    s3.list_objects_v2(Bucket=bucket, Prefix="results/")
    url = sqs.create_queue(QueueName=f"q-{tag}")["QueueUrl"]
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "VisibilityTimeout"])
    iam.list_roles()
    lam.list_functions()
    for call in failing:
        with pytest.raises(ClientError):
            call()
    s3.delete_object(Bucket=bucket, Key="results/a b+c.json")


def test_direct_answers_are_flask_answers(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    direct: list[tuple[str, int, list[str], bytes]] = []
    routed: list[Any] = []
    route = moto_direct.route

    def counting_route(dispatcher: Any, environ: dict[str, Any]) -> Any:
        handler = route(dispatcher, environ)
        routed.append(handler)
        return handler

    monkeypatch.setattr(moto_direct, "route", counting_route)
    scenario(recorded_clients(endpoint, direct), "direct")
    monkeypatch.setattr(moto_direct, "route", lambda dispatcher, environ: None)
    through_flask: list[tuple[str, int, list[str], bytes]] = []
    scenario(recorded_clients(endpoint, through_flask), "flask")

    def named(answers: list[tuple[str, int, list[str], bytes]], tag: str) -> list[Any]:
        return [
            (op, status, names, body.replace(tag.encode(), b"<tag>")) for op, status, names, body in answers
        ]

    assert named(direct, "direct") == named(through_flask, "flask")
    assert len(direct) == 24
    assert sum(1 for handler in routed if handler is not None) == len(routed)  # all went directly


def test_a_browser_request_still_goes_through_flask(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """flask-cors answers a request with an Origin (and OPTIONS): those are not answered directly."""
    import http.client
    import urllib.parse

    direct: list[Any] = []
    answer_directly = moto_direct.answer
    monkeypatch.setattr(moto_direct, "answer", lambda *args: direct.append(args) or answer_directly(*args))
    netloc = urllib.parse.urlsplit(endpoint).netloc
    connection = http.client.HTTPConnection(netloc, timeout=30)
    scope = "testing/20260101/us-east-1/s3/aws4_request"
    auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
    for method in ("GET", "OPTIONS"):
        connection.request(method, "/", headers={"Origin": "http://example.test", "Authorization": auth})
        answer = connection.getresponse()
        answer.read()
        assert answer.getheader("Access-Control-Allow-Origin") in ("*", "http://example.test")
    connection.request("GET", "/", headers={"Authorization": auth})  # the same without an Origin
    answer = connection.getresponse()
    answer.read()
    connection.close()
    assert answer.status == 200 and len(direct) == 1


def test_a_request_moto_fails_to_route_is_answered_500(endpoint: str) -> None:
    """moto's choice of service fails for a DynamoDB request without X-Amz-Target (a KeyError): the answer
    is the 500 werkzeug's server gives to an application error, on a closed connection, not a dropped one."""
    import http.client
    import urllib.parse

    connection = http.client.HTTPConnection(urllib.parse.urlsplit(endpoint).netloc, timeout=30)
    scope = "testing/20260101/us-east-1/dynamodb/aws4_request"
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"}
    connection.request("POST", "/", body=b"{}", headers=headers)
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (500, b"Internal Server Error")
    assert answer.getheader("Connection") == "close"
    connection.close()


def _through_response(status: Any, headers: Any, content: Any, method: str, cors: bool) -> Any:
    """What moto_direct.answer builds when plain_answer declines: Flask's Response, werkzeug's steps."""
    from flask import Response

    response = Response(response=content, status=status, headers=headers)
    if method == "HEAD" and "content-length" in headers:
        response.headers["Content-Length"] = headers["content-length"]
    if cors:
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
    body, status_line, wsgi_headers = response.get_wsgi_response({"REQUEST_METHOD": method})
    return status_line, list(wsgi_headers), b"".join(body)


HEADER_SETS: list[dict[str, Any]] = [
    {},
    {"server": "amazon.com"},  # moto's usual
    {"server": "amazon.com", "x-amzn-RequestId": "r", "x-amz-crc32": "12"},
    {"Content-Type": "application/x-amz-json-1.0", "server": "amazon.com"},
    {"content-type": "text/xml", "content-length": "999", "ETag": '"abc"'},  # a wrong length replaced
    {"x-amz-meta-a": "1", "Content-Length": "3", "content-md5": "x"},
    {"Access-Control-Allow-Origin": "http://example.test"},  # kept, not doubled
    {"access-control-allow-origin": "*", "content-type": "application/json"},
    {"Location": "/a b"},  # werkzeug rewrites: declined
    {"content-location": "x"},  # declined
    {"x": 1},  # not a str: declined (werkzeug str()s it)
    {"x": ["a", "b"]},  # a list: two headers in werkzeug; declined
    {"x": "a\nb"},  # werkzeug raises: declined, so it raises there as before
    {"X-A": "1", "x-a": "2"},  # the same name twice: declined
]
BODIES: list[Any] = ["", "{}", '{"é": "ü"}', b"", b"\x00\xffbinary", "<a>\U0001f600</a>"]
STATUSES: list[Any] = [200, 201, 206, 204, 304, 400, 404, 500, 503, "200", 101]


@pytest.mark.parametrize("cors", [True, False])
@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "HEAD"])
def test_a_plain_answer_is_the_response_werkzeug_builds(method: str, cors: bool) -> None:
    """plain_answer against werkzeug 3's Response (sansio/response.py __init__, wrappers/response.py
    set_data, get_wsgi_headers, get_app_iter): status line, every header in order, body, byte for byte;
    or None, and the Response's way gives the answer (or raises as it did)."""
    built = 0
    for status in STATUSES:
        for headers in HEADER_SETS:
            for content in BODIES:
                plain = moto_direct.plain_answer(status, dict(headers), content, method, cors)
                if plain is None:
                    continue
                built += 1
                assert plain == _through_response(status, dict(headers), content, method, cors), (
                    status,
                    headers,
                    content,
                )
    # Declined: HEAD, 1xx/204/304, a str status, and the header sets marked above; built: the rest.
    assert built == (0 if method == "HEAD" else 7 * 8 * len(BODIES))


def test_an_unencodable_body_takes_the_responses_way() -> None:
    assert moto_direct.plain_answer(200, {}, "\ud800", "GET", True) is None
    with pytest.raises(UnicodeEncodeError):
        _through_response(200, {}, "\ud800", "GET", True)
