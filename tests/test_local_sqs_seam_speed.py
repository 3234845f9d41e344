"""The submit path's SQS seam, made cheaper without changing a byte of what it does.

- moto_requests.request_from_primitives builds moto's Request from a WSGI environ made directly: the
  environ must be the one Request.from_primitives builds through werkzeug's EnvironBuilder (every key,
  value and their order; the input stream compared by its bytes), for many inputs; the inputs it cannot
  prove go to from_primitives itself (same request, or the same error). moto's answers to real SQS
  requests are the same either way, once request ids, message ids and dates are blanked.
- moto_requests.raw_url is request.raw_url; sqs_seam.form_field is dict(parse_qsl(body)).get(name, "").
- iam's wildcard matching caches the compiled pattern (a pure function of the pattern); the gateway
  still reads the role's policies on every request, so a changed inline policy or trust policy
  decides the very next one.
"""

from __future__ import annotations

import io
import itertools
import json
import random
import re
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.core.request import Request

from asyncapi_cli.local import moto_requests, sqs_seam
from asyncapi_cli.local.apigw import iam
from asyncapi_cli.local.apigw.context import Invocation
from asyncapi_cli.local.apigw.context import Request as GatewayRequest
from asyncapi_cli.local.apigw.errors import InternalServerError
from asyncapi_cli.local.apigw.integrations import Integrations
from asyncapi_cli.local.apigw.moto_seam import Deployment, StageConfig

from .fidelity_apigw import APIGW_TRUST, LAMBDA_TRUST

ACCOUNT, REGION = "123456789012", "us-east-1"
ENDPOINT = "http://127.0.0.1:4566"
FORM = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}

VERBS = ("GET", "POST", "HEAD")
URLS = (
    f"{ENDPOINT}/{ACCOUNT}/q",
    f"{ENDPOINT}/",
    f"{ENDPOINT}/?Action=GetQueueUrl&QueueName=q",
    f"{ENDPOINT}/{ACCOUNT}/q?Action=SendMessage&MessageBody=a%20b+c&Empty=",
    f"http://localhost/{ACCOUNT}/q%2Fslash%20space",
    "http://localhost:80/ünïcödé/q?x=ü€&y=%E2%82%AC",
    "https://Example.COM/path",
    "https://example.com:8443/a b/c",
    "http://[::1]:4566/q",
    "http://127.0.0.1:notaport/q",  # werkzeug refuses the port: both raise
    "http://host/a;params?x=1",
    "http://host/p?x=1#fragment",
    "http://host//double//slash",
    "http://user:pw@host:1/x",
    "http://host/%E2%82%AC/%zz/%",
    "http://hôst.example/q",
    "http://host/\ud800",  # a lone surrogate: both raise
    "http://host",
)
SCOPE = "testing/20000101/us-east-1/sqs/aws4_request"
SIGNED = f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature=0"
HEADERS: tuple[dict[str, Any], ...] = (
    {},
    {**FORM, "Authorization": SIGNED, "Host": "127.0.0.1:4566"},
    {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    {"content-type": "text/plain", "Accept": "*/*"},
    {"Content-Type": "application/json", "content-type": "text/xml"},  # the same header in two cases
    {"X-Amz-Target": "AmazonSQS.SendMessage", "Content-Type": "application/x-amz-json-1.0"},
    {"x-amz-meta-with_underscore": "v", "X-Amz-Meta-Plain": "p", "x_plain_underscore": "u"},
    {"Host": "other:1", "host": "second", "HOST": "third"},
    {"Content-Length": "999", "content-length": "1"},
    {"Transfer-Encoding": "chunked", "transfer-encoding": "x", "Accept": "application/xml"},
    {"Content-Type": ""},
    {"Content-Type": "multipart/form-data; boundary=x"},  # with no body: from_primitives's own
    {"Content-Type": " application/x-www-form-urlencoded "},
    {"Content-Type": "APPLICATION/X-WWW-FORM-URLENCODED"},
    {"Content_Type": "odd", "Content_Length": "5"},
    {"X-Bad": "a\r\nb"},  # werkzeug's Headers refuse it: both raise
    {"X-Uni": "ünï €", "Accept": "application/json", "X-Empty": ""},
    {"X-Bytes": b"bytes-value", "Accept": "application/json"},  # from_primitives decodes it
    {"X-Repeat": "1", "x-repeat": "2", "X-REPEAT": "3"},
)
BODIES = (
    b"",
    b"Action=SendMessage&MessageBody=hi",
    "MessageBody=é€ü&Action=SendMessage".encode(),
    b"\xff\xfe\x00",
    b'{"QueueUrl": "x"}',
)


def _streams_bytes(environ: dict[str, Any]) -> tuple[bytes, int]:
    stream = environ["wsgi.input"]
    assert type(stream) is io.BytesIO
    return stream.getvalue(), stream.tell()


def assert_same_environ(fast: Request, reference: Request) -> None:
    mine, theirs = fast.environ, reference.environ
    assert list(mine) == list(theirs)  # the same keys in the same order (EnvironHeaders iterates it)
    for key, value in theirs.items():
        if key == "wsgi.input":
            assert _streams_bytes(mine) == _streams_bytes(theirs)
        elif key == "wsgi.errors":
            assert mine[key] is value is sys.stderr
        elif key == "werkzeug.request":
            assert mine[key] is fast and value is reference
        else:
            assert (type(mine[key]), mine[key]) == (type(value), value), key


def assert_same_request(fast: Request, reference: Request) -> None:
    assert_same_environ(fast, reference)
    assert moto_requests.raw_url(fast) == reference.raw_url == fast.raw_url
    assert list(fast.headers) == list(reference.headers)
    assert (fast.method, fast.path, fast.query_string, fast.host, fast.url) == (
        reference.method,
        reference.path,
        reference.query_string,
        reference.host,
        reference.url,
    )
    assert fast.get_data() == reference.get_data()
    assert fast.form.to_dict(flat=False) == reference.form.to_dict(flat=False)


def _outcome(build: Any, *args: Any) -> tuple[Request | None, tuple[type, str] | None]:
    try:
        return build(*args), None
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return None, (type(exc), str(exc))


def _fallback_reason(url: str, headers: dict[str, Any], data: bytes) -> str | None:
    """Why _environ may decline an input (it must build every other one)."""
    if moto_requests._url_parts(url) is None:
        return "url werkzeug refuses"
    if any(type(v) is not str or "\r" in v or "\n" in v for v in headers.values()):
        return "header value not plain text"
    types = [v for k, v in headers.items() if k.lower() == "content-type"]
    if not data and types and types[0].partition(";")[0].strip() == "multipart/form-data":
        return "bodiless multipart"
    return None


def test_the_builder_is_proven_for_the_installed_versions() -> None:
    # Under other versions every request takes from_primitives; the comparison below still runs.
    assert moto_requests._builder_proven()


def test_environ_is_from_primitives_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Request.from_primitives.__func__  # type: ignore[attr-defined]
    calls: list[tuple[Any, ...]] = []

    def spied(cls: type[Request], *args: Any) -> Request:
        calls.append(args)
        return original(cls, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(Request, "from_primitives", classmethod(spied))
    built = declined = 0
    for verb, url, headers, data in itertools.product(VERBS, URLS, HEADERS, BODIES):
        case = (verb, url, headers, data)
        reference, reference_error = _outcome(Request.from_primitives, verb, url, dict(headers), data)
        calls.clear()
        fast, fast_error = _outcome(moto_requests.request_from_primitives, verb, url, dict(headers), data)
        assert fast_error == reference_error, case
        environ = moto_requests._environ(verb, url, dict(headers), data)
        reason = _fallback_reason(url, headers, data)
        if environ is None:  # declined: from_primitives itself built it (or raised)
            assert reason is not None and len(calls) == 1, case
            declined += 1
        else:
            assert reason is None and not calls, case
            built += 1
        if reference is None:
            assert environ is None, case  # what from_primitives refuses is left to it
            continue
        assert fast is not None
        if reason == "bodiless multipart":
            continue  # from_primitives's own, with a random boundary of its own
        assert_same_request(fast, reference)
    assert built > 2000 and declined > 0


# --- moto's answers -----------------------------------------------------------------------------------


@pytest.fixture
def sqs() -> Iterator[None]:
    from moto.sqs.models import sqs_backends

    with mock_aws():
        sqs_backends[ACCOUNT][REGION].create_queue("speed-q")
        yield


def _blank(answer: tuple[int, str, dict[str, str]]) -> tuple[int, str, dict[str, str]]:
    status, body, headers = answer
    body = re.sub(r"<RequestId>[^<]*</RequestId>", "<RequestId/>", body)
    body = re.sub(r"<MessageId>[^<]*</MessageId>", "<MessageId/>", body)
    body = re.sub(r'"MessageId": "[^"]*"', '"MessageId": ""', body)
    blanked = {k: ("" if k.lower() in ("date", "x-amzn-requestid") else v) for k, v in headers.items()}
    return status, body, blanked


def _send_form(**extra: str) -> str:
    form = {
        "Action": "SendMessage",
        "MessageBody": json.dumps({"jobId": "LuDK8Fq1vHcFxzA", "payload": {"text": "héllo €"}}),
        "MessageAttribute.1.Name": "jobId",
        "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "LuDK8Fq1vHcFxzA",
        "MessageAttribute.2.Name": "submittedAt",
        "MessageAttribute.2.Value.DataType": "Number",
        "MessageAttribute.2.Value.StringValue": "1700000000000",
        **extra,
    }
    return urllib.parse.urlencode(form)


QUEUE = f"{ACCOUNT}/speed-q"
QUERIES = [
    pytest.param(QUEUE, "POST", FORM, _send_form(), id="send-with-attributes"),
    pytest.param("", "POST", FORM, _send_form(QueueUrl=f"{ENDPOINT}/{QUEUE}"), id="send-at-the-root"),
    pytest.param(f"{ACCOUNT}/no-such-queue", "POST", FORM, _send_form(), id="send-to-a-bad-queue"),
    pytest.param(QUEUE, "POST", FORM, _send_form(DelaySeconds="901"), id="bad-parameter"),
    pytest.param(QUEUE, "POST", FORM, "Action=SendMessage", id="missing-body"),
    pytest.param(QUEUE, "POST", FORM, "Action=NoSuchAction", id="unknown-action"),
    pytest.param("", "POST", FORM, "Action=GetQueueUrl&QueueName=speed-q", id="get-queue-url"),
    pytest.param("?Action=GetQueueUrl&QueueName=speed-q", "GET", FORM, "", id="get-queue-url-by-get"),
    pytest.param(
        "",
        "POST",
        {"X-Amz-Target": "AmazonSQS.GetQueueUrl", "Content-Type": "application/x-amz-json-1.0"},
        '{"QueueName": "speed-q"}',
        id="json-protocol",
    ),
    pytest.param(QUEUE, "POST", {"Accept": "application/xml"}, _send_form(), id="no-content-type"),
]


@pytest.mark.parametrize(("path", "verb", "headers", "body"), QUERIES)
def test_moto_answers_alike(
    sqs: None, monkeypatch: pytest.MonkeyPatch, path: str, verb: str, headers: dict[str, str], body: str
) -> None:
    fast = sqs_seam.answer_query(ENDPOINT, REGION, path, verb, dict(headers), body)
    with monkeypatch.context() as before:  # answer_query as it was: from_primitives, request.raw_url
        before.setattr(moto_requests, "request_from_primitives", Request.from_primitives)
        before.setattr(moto_requests, "raw_url", lambda request: request.raw_url)
        reference = sqs_seam.answer_query(ENDPOINT, REGION, path, verb, dict(headers), body)
    assert _blank(fast) == _blank(reference)


# --- form_field ------------------------------------------------------------------------------------------


def test_form_field_is_parse_qsl() -> None:
    pieces = ["Action", "QueueUrl", "Act%69on", "Action+", "+Action", "Action%20", "=", "==", "&", "&&"]
    pieces += ["%", "%2", "%zz", "+", "é", "%C3%A9", "%C3", "SendMessage", "", "a=b", ";", "Action=", "x"]
    pieces += ["QueueUrl=http%3A%2F%2Fh%2F1%2Fq", "Action=Send+Message", "Action=%E2%82%AC"]
    chooser = random.Random(1405)
    bodies = ["", "Action", "Action=", "=Action", "Action=a&Action=", "Action=a&Action=b", "&Action=x&"]
    bodies += ["".join(chooser.choice(pieces) for _ in range(chooser.randrange(1, 9))) for _ in range(4000)]
    for body in bodies:
        parsed = dict(urllib.parse.parse_qsl(body))
        for name in ("Action", "QueueUrl", "Action ", "é", ""):
            assert sqs_seam.form_field(body, name) == parsed.get(name, ""), (body, name)
    assert sqs_seam.form_field(b"Action=x", "Action") == ""  # type: ignore[arg-type]  # bytes, as before


# --- IAM at the gateway ---------------------------------------------------------------------------------


def _wildcard_before(pattern: str, value: str, ignore_case: bool = False) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.S) is not None


def test_wildcards_match_as_before() -> None:
    patterns = ["*", "?", "sqs:*", "sqs:Send*", "SQS:sendmessage", "arn:aws:sqs:*:*:q", "a.b", "a+b(c)"]
    patterns += ["x\\y", "é*", "*\n*", "?*?", "[ab]", "", "arn:aws:sqs:us-east-1:123456789012:speed-?"]
    values = ["", "sqs:SendMessage", "SQS:SENDMESSAGE", "arn:aws:sqs:us-east-1:123456789012:speed-q"]
    values += ["arn:aws:sqs:eu-west-1:1:q", "a.b", "axb", "a+b(c)", "x\\y", "éa", "a\nb", "ab", "[ab]", "a"]
    for pattern, value, ignore_case in itertools.product(patterns, values, (False, True)):
        expected = _wildcard_before(pattern, value, ignore_case)
        assert iam._wildcard(pattern, value, ignore_case) == expected, (pattern, value, ignore_case)


def _policy(effect: str, action: str = "sqs:SendMessage") -> str:
    statement = {"Effect": effect, "Action": action, "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:speed-q"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _create_role(name: str, effect: str) -> tuple[Any, str]:
    import boto3

    client = boto3.client("iam", region_name=REGION)
    arn = client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(APIGW_TRUST))["Role"]["Arn"]
    client.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=_policy(effect))
    return client, arn


SEND_TEMPLATE = "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"


def _invocation(role_arn: str) -> Invocation:
    stage = StageConfig(name="prod", deployment_id="d1", variables={}, method_settings={}, access_log=None)
    deployment = Deployment("api", "d1", ACCOUNT, REGION, (), {}, {}, {}, ())
    request = GatewayRequest(
        verb="POST",
        path="/submit",
        query=[],
        headers=[("Content-Type", "application/json")],
        body=b'{"job": 1}',
        source_ip="127.0.0.1",
        host="localhost",
    )
    integration = {
        "type": "AWS",
        "httpMethod": "POST",
        "uri": f"arn:aws:apigateway:{REGION}:sqs:path/{QUEUE}",
        "credentials": role_arn,
        "requestParameters": {
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
        },
        "requestTemplates": {"application/json": SEND_TEMPLATE},
        "passthroughBehavior": "NEVER",
        "integrationResponses": {
            "200": {"statusCode": "200", "selectionPattern": r"2\d{2}", "responseTemplates": {}},
            "500": {
                "statusCode": "500",
                "selectionPattern": None,
                "responseTemplates": {"application/json": '{"status": "$context.integrationStatus"}'},
            },
        },
    }
    return Invocation("api", stage, deployment, request, method={"methodIntegration": integration})


def test_a_changed_role_decides_the_next_submit(sqs: None) -> None:
    iam_client, role_arn = _create_role("speed-role", "Allow")
    integrations = Integrations(ENDPOINT, lambda *args: None)

    def submit() -> int:
        invocation = _invocation(role_arn)
        integrations(invocation)
        assert invocation.integration_status is not None
        return invocation.integration_status

    def queued() -> int:
        from moto.sqs.models import sqs_backends

        return len(sqs_backends[ACCOUNT][REGION].get_queue("speed-q")._messages)

    assert (submit(), queued()) == (200, 1)
    assert (submit(), queued()) == (200, 2)  # the same role twice: the cached pieces are used
    iam_client.put_role_policy(RoleName="speed-role", PolicyName="inline", PolicyDocument=_policy("Deny"))
    assert (submit(), queued()) == (403, 2)  # the next request already sees the Deny
    iam_client.put_role_policy(
        RoleName="speed-role", PolicyName="inline", PolicyDocument=_policy("Allow", "sqs:Receive*")
    )
    assert (submit(), queued()) == (403, 2)
    iam_client.put_role_policy(RoleName="speed-role", PolicyName="inline", PolicyDocument=_policy("Allow"))
    assert (submit(), queued()) == (200, 3)
    iam_client.delete_role_policy(RoleName="speed-role", PolicyName="inline")
    assert (submit(), queued()) == (403, 3)
    iam_client.put_role_policy(RoleName="speed-role", PolicyName="inline", PolicyDocument=_policy("Allow"))
    assert (submit(), queued()) == (200, 4)
    iam_client.update_assume_role_policy(RoleName="speed-role", PolicyDocument=json.dumps(LAMBDA_TRUST))
    with pytest.raises(InternalServerError):  # API Gateway may no longer assume it
        submit()
    iam_client.update_assume_role_policy(RoleName="speed-role", PolicyDocument=json.dumps(APIGW_TRUST))
    assert (submit(), queued()) == (200, 5)


def test_access_denied_answer_is_unchanged(sqs: None) -> None:
    _, role_arn = _create_role("denied-role", "Deny")
    integrations = Integrations(ENDPOINT, lambda *args: None)
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:speed-q"
    queue_url = urllib.parse.quote(f"{ENDPOINT}/{QUEUE}", safe="")
    for path, body in (
        (QUEUE, "Action=SendMessage&MessageBody=x"),
        ("", f"Action=SendMessage&QueueUrl={queue_url}&MessageBody=x"),  # the service root
    ):
        answer = integrations._authorize_sqs(_invocation(role_arn), REGION, path, body, dict(FORM))
        assert answer is not None and answer.status == 403
        who = f"arn:aws:sts::{ACCOUNT}:assumed-role/denied-role/BackplaneAssumeRoleSession"
        assert json.loads(answer.body)["Error"]["Message"] == (
            f"User: {who} is not authorized to perform: sqs:sendmessage on resource: {queue_arn}"
        )
