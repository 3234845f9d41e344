"""iam_speedups judges every request as moto's own IAMRequest / S3IAMRequest does.

Each case signs a request the way botocore does (SigV4Auth / S3SigV4Auth with a role session's ASIA
credentials from sts:AssumeRole), then asks moto's unpatched class and the fast one for the same
request: both must let it pass, or both raise the same exception with the same message. Every case also
names the outcome it expects, so a case that fails to test anything (both passing by accident) fails.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import random
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from moto import mock_aws
from moto.iam.access_control import IAMPolicy, IAMRequest, S3IAMRequest
from werkzeug.test import EnvironBuilder

from asyncapi_cli.local import iam_speedups
from asyncapi_cli.local.iam_speedups import fast_request_class, policy_result

ACCOUNT = "123456789012"
REGION = "us-east-1"
BASE = "http://127.0.0.1:5000"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/jobs"
OBJECT = "arn:aws:s3:::results/job-1/out.json"
DAY1 = datetime.datetime(2026, 1, 2, 3, 4, 5)
DAY2 = datetime.datetime(2026, 1, 3, 23, 59, 59)
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


MAIN = document(
    allow(["dynamodb:UpdateItem", "dynamodb:GetItem"], TABLE),
    allow("s3:Put*", "arn:aws:s3:::results/*"),
    allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/target-*"),
)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        arn = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName="worker", PolicyName="main", PolicyDocument=MAIN)
        found = boto3.client("sts", region_name=REGION).assume_role(RoleArn=arn, RoleSessionName="fn")
        c = found["Credentials"]
        yield {
            "iam": iam,
            "credentials": Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]),
            "session_arn": found["AssumedRoleUser"]["Arn"],
        }


def sign(
    credentials: Credentials,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    service: str = "dynamodb",
    region: str = REGION,
    s3: bool = False,
    when: datetime.datetime = DAY1,
    headers: dict[str, str] | None = None,
    unsigned: bool = False,
) -> tuple[str, dict[str, str], bytes]:
    """(path with query, headers as sent, body) of a request botocore signed."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if unsigned:  # S3 over https with payload signing off: X-Amz-Content-SHA256: UNSIGNED-PAYLOAD
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    auth = (S3SigV4Auth if s3 else SigV4Auth)(credentials, service, region)
    with signing_time(when):
        auth.add_auth(request)
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else ""), dict(request.headers.items()), body


@contextlib.contextmanager
def signing_time(when: datetime.datetime) -> Iterator[None]:
    """botocore signs at `when`: it reads the time through auth.get_current_datetime from 1.40.2 on,
    through datetime.datetime.utcnow() in auth.py before."""
    if hasattr(botocore.auth, "get_current_datetime"):
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            yield
        return

    class _SigningClock(datetime.datetime):
        @classmethod
        def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
            return when

    with mock.patch.object(botocore.auth, "datetime", mock.Mock(datetime=_SigningClock)):
        yield


def werkzeug_headers(headers: dict[str, str], body: bytes, base: str = BASE) -> Any:
    """The headers as moto's server sees them (werkzeug's EnvironHeaders, Host from the connection)."""
    builder = EnvironBuilder(path="/", headers=headers, data=body, base_url=base)  # the path plays no part
    return builder.get_request().headers


def judge(
    cls: type,
    path: str,
    headers: Any,
    body: bytes,
    action: str,
    resource: str,
    data: dict[str, Any] | None = None,
    method: str = "POST",
) -> Any:
    try:
        request = cls(
            account_id=ACCOUNT,
            method=method,
            path=path,
            data=data if data is not None else {},
            body=body,
            headers=headers,
            action=action,
        )
        request.check_signature()
        request.check_action_permitted(resource)
    except Exception as error:  # every outcome is compared, exceptions included
        return type(error).__name__, str(error)
    return "ok"


def same(cls: type, path: str, headers: Any, body: bytes, action: str, resource: str, **kwargs: Any) -> Any:
    """moto's answer, after checking that the fast class answers exactly the same."""
    expected = judge(cls, path, headers, body, action, resource, **kwargs)
    assert judge(fast_request_class(cls), path, headers, body, action, resource, **kwargs) == expected
    return expected if expected == "ok" else expected[0]


def update_item(credentials: Credentials, **kwargs: Any) -> tuple[str, Any, bytes]:
    body = b'{"TableName": "jobs", "Key": {"id": {"S": "job-1"}}}'
    path, headers, body = sign(
        credentials,
        "POST",
        f"{BASE}/",
        body,
        headers={
            "X-Amz-Target": "DynamoDB_20120810.UpdateItem",
            "Content-Type": "application/x-amz-json-1.0",
        },
        **kwargs,
    )
    return path, werkzeug_headers(headers, body), body


def put_object(
    credentials: Credentials, url: str = f"{BASE}/results/job-1/out.json", base: str = BASE, **kwargs: Any
) -> Any:
    path, headers, body = sign(credentials, "PUT", url, b'{"result": 42}', service="s3", s3=True, **kwargs)
    return path, werkzeug_headers(headers, body, base), body


def with_authorization(headers: Any, old: str, new: str) -> dict[str, str]:
    changed = dict(headers.items())
    assert old in changed["Authorization"]
    changed["Authorization"] = changed["Authorization"].replace(old, new)
    return changed


def test_dynamodb_requests_are_judged_as_moto_judges_them(aws: dict[str, Any]) -> None:
    creds = aws["credentials"]
    path, headers, body = update_item(creds)
    assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE) == "ok"
    assert same(IAMRequest, path, dict(headers.items()), body, "UpdateItem", TABLE) == "ok"  # a plain dict
    # Allowed elsewhere only: another table, another action.
    assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE + "x") == "AccessDeniedError"
    assert same(IAMRequest, path, headers, body, "DeleteItem", TABLE) == "AccessDeniedError"
    # A signature that does not match: tampered, another secret, another date in the header.
    signature = headers["Authorization"].rsplit("Signature=", 1)[1]
    flipped = with_authorization(headers, signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    assert same(IAMRequest, path, flipped, body, "UpdateItem", TABLE) == "SignatureDoesNotMatchError"
    # Another last character, whatever the random secret ends with (it ended with "x" once: the same secret).
    wrong = Credentials(
        creds.access_key, creds.secret_key[:-1] + ("x" if creds.secret_key[-1] != "x" else "y"), creds.token
    )
    path2, headers2, body2 = update_item(wrong)
    assert same(IAMRequest, path2, headers2, body2, "UpdateItem", TABLE) == "SignatureDoesNotMatchError"
    redated = dict(headers.items()) | {"X-Amz-Date": DAY2.strftime("%Y%m%dT%H%M%SZ")}
    assert same(IAMRequest, path, redated, body, "UpdateItem", TABLE) == "SignatureDoesNotMatchError"
    assert same(IAMRequest, path, headers, body + b" ", "UpdateItem", TABLE) == "SignatureDoesNotMatchError"
    # Unknown or stale keys, a wrong session token.
    unknown = with_authorization(headers, creds.access_key, "ASIA" + "Z" * 16)
    assert same(IAMRequest, path, unknown, body, "UpdateItem", TABLE) == "InvalidClientTokenIdError"
    token = dict(headers.items()) | {"X-Amz-Security-Token": "not-the-token"}
    assert same(IAMRequest, path, token, body, "UpdateItem", TABLE) == "InvalidClientTokenIdError"
    # No X-Amz-Date signed: moto fails the same way (a KeyError) in both.
    undated = with_authorization(headers, "x-amz-date;", "")
    assert same(IAMRequest, path, undated, body, "UpdateItem", TABLE) == "KeyError"
    # No host signed: botocore takes it from moto's url, a bare path, and fails on the None it gets.
    hostless = with_authorization(headers, "host;", "")
    assert same(IAMRequest, path, hostless, body, "UpdateItem", TABLE) == "AttributeError"


def test_other_dates_regions_and_services_use_their_own_signing_keys(aws: dict[str, Any]) -> None:
    creds = aws["credentials"]
    for when in (DAY1, DAY2, DAY1):
        for region, service in (
            (REGION, "dynamodb"),
            ("eu-west-1", "dynamodb"),
            (REGION, "sqs"),
            ("eu-west-1", "sqs"),
        ):
            path, headers, body = update_item(creds, when=when, region=region, service=service)
            # A good signature: then the policy decides (sqs:UpdateItem is nowhere allowed).
            expected = "ok" if service == "dynamodb" else "AccessDeniedError"
            assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE) == expected
            # The scope says another region or service than the one signed for.
            for old, new in ((f"/{region}/", "/ap-south-1/"), (f"/{service}/", "/lambda/")):
                moved = with_authorization(headers, old, new)
                assert (
                    same(IAMRequest, path, moved, body, "UpdateItem", TABLE) == "SignatureDoesNotMatchError"
                )
    assert iam_speedups.signing_key.cache_info().hits > 0  # the cache is used, not bypassed


def test_s3_requests_and_their_s3_errors(aws: dict[str, Any]) -> None:
    creds = aws["credentials"]
    path, headers, body = put_object(creds)
    bucket = {"BucketName": "results"}
    for data in ({}, bucket):

        def check(p: str, h: Any, b: bytes, resource: str = OBJECT, d: Any = data) -> Any:
            return same(S3IAMRequest, p, h, b, "PutObject", resource, data=d, method="PUT")

        prefix = "Bucket" if data else "S3"
        assert check(path, headers, body) == "ok"
        assert check(path, headers, body, "arn:aws:s3:::other/job-1/out.json") == f"{prefix}AccessDeniedError"
        # S3 signs X-Amz-Content-SHA256, not the body (moto does not hash the body against it).
        assert check(path, headers, b"tampered") == "ok"
        rehashed = dict(headers.items()) | {"X-Amz-Content-SHA256": "0" * 64}
        assert check(path, rehashed, body) == f"{prefix}SignatureDoesNotMatchError"
        unknown = with_authorization(headers, creds.access_key, "ASIA" + "Q" * 16)
        assert check(path, unknown, body) == f"{prefix}InvalidAccessKeyIdError"
        token = dict(headers.items()) | {"X-Amz-Security-Token": "stale"}
        assert check(path, token, body) == f"{prefix}InvalidTokenError"
    # Unnormalized S3 paths, query strings, no body, an unsigned payload over https.
    urls = [
        f"{BASE}/results/a//b/./c/../d%20e+f~g.json",
        f"{BASE}/results/job-1/out.json?uploads=&b=2&a=3&a=1&x=%2F",
        f"{BASE}/results/k%C3%A9y?versionId=null",
    ]
    for url in urls:
        p, h, b = put_object(creds, url)
        assert same(S3IAMRequest, p, h, b, "PutObject", OBJECT, method="PUT") == "ok"
    p, h, _ = sign(creds, "GET", f"{BASE}/results?list-type=2&prefix=job", service="s3", s3=True)
    h = werkzeug_headers(h, b"")
    assert (
        same(S3IAMRequest, p, h, b"", "ListBucket", "arn:aws:s3:::results", method="GET")
        == "S3AccessDeniedError"
    )
    https = "https://127.0.0.1:5000"
    p, h, b = put_object(creds, f"{https}/results/job-1/out.json", unsigned=True, base=https)
    assert h["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert same(S3IAMRequest, p, h, b + b"anything", "PutObject", OBJECT, method="PUT") == "ok"


def test_deny_wildcards_and_managed_policies(aws: dict[str, Any]) -> None:
    iam, creds = aws["iam"], aws["credentials"]
    path, headers, body = update_item(creds)
    wide = document(allow("dynamodb:*", "*"), allow("s3:*", "*"))
    iam.put_role_policy(RoleName="worker", PolicyName="main", PolicyDocument=wide)
    assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE) == "ok"
    assert same(IAMRequest, path, headers, body, "UpdateItem", "*") == "ok"
    # An attached managed policy's explicit Deny wins over any Allow.
    deny = document(
        {"Effect": "Deny", "Action": "dynamodb:Update*", "Resource": "arn:aws:dynamodb:*:*:table/j*"}
    )
    managed = iam.create_policy(PolicyName="guard", PolicyDocument=deny)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="worker", PolicyArn=managed)
    assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE) == "AccessDeniedError"
    assert same(IAMRequest, path, headers, body, "GetItem", TABLE) == "ok"
    assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE.replace("jobs", "other")) == "ok"
    # A new default version of the managed policy takes effect at once.
    notaction = document({"Effect": "Deny", "NotAction": ["dynamodb:UpdateItem"], "Resource": "*"})
    iam.create_policy_version(PolicyArn=managed, PolicyDocument=notaction, SetAsDefault=True)
    assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE) == "ok"
    assert same(IAMRequest, path, headers, body, "GetItem", TABLE) == "AccessDeniedError"
    # sts:GetCallerIdentity is always allowed, even under an explicit Deny.
    iam.put_role_policy(
        RoleName="worker",
        PolicyName="no",
        PolicyDocument=document({"Effect": "Deny", "Action": "*", "Resource": "*"}),
    )
    p, h, b = sign(creds, "POST", f"{BASE}/", b"Action=GetCallerIdentity&Version=2011-06-15", service="sts")
    h = werkzeug_headers(h, b)
    assert same(IAMRequest, p, h, b, "GetCallerIdentity", "*") == "ok"
    assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE) == "AccessDeniedError"


def test_a_changed_policy_is_not_answered_from_the_cache(aws: dict[str, Any]) -> None:
    iam, creds = aws["iam"], aws["credentials"]
    path, headers, body = update_item(creds)
    fast = fast_request_class(IAMRequest)
    assert judge(fast, path, headers, body, "UpdateItem", TABLE) == "ok"
    hits = iam_speedups._document_result.cache_info().hits
    assert judge(fast, path, headers, body, "UpdateItem", TABLE) == "ok"
    assert iam_speedups._document_result.cache_info().hits > hits  # answered from the cache
    iam.put_role_policy(
        RoleName="worker", PolicyName="main", PolicyDocument=document(allow("dynamodb:GetItem", TABLE))
    )
    assert judge(fast, path, headers, body, "UpdateItem", TABLE)[0] == "AccessDeniedError"
    iam.put_role_policy(RoleName="worker", PolicyName="main", PolicyDocument=MAIN)
    assert judge(fast, path, headers, body, "UpdateItem", TABLE) == "ok"
    iam.delete_role_policy(RoleName="worker", PolicyName="main")
    assert judge(fast, path, headers, body, "UpdateItem", TABLE)[0] == "AccessDeniedError"
    assert same(IAMRequest, path, headers, body, "UpdateItem", TABLE) == "AccessDeniedError"


def test_assume_role_keeps_moto_trust_relationship_check(aws: dict[str, Any]) -> None:
    iam, creds = aws["iam"], aws["credentials"]
    trusting = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": aws["session_arn"]}, "Action": "sts:AssumeRole"}
        ],
    }
    other = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    ok = iam.create_role(RoleName="target-a", AssumeRolePolicyDocument=json.dumps(trusting))["Role"]["Arn"]
    no = iam.create_role(RoleName="target-b", AssumeRolePolicyDocument=json.dumps(other))["Role"]["Arn"]
    body = f"Action=AssumeRole&RoleArn={ok}&RoleSessionName=x".encode()
    p, h, b = sign(creds, "POST", f"{BASE}/", body, service="sts")
    h = werkzeug_headers(h, b)
    data = {"Action": ["AssumeRole"], "RoleArn": [ok], "RoleSessionName": ["x"]}
    assert same(IAMRequest, p, h, b, "AssumeRole", ok, data=data) == "ok"
    assert same(IAMRequest, p, h, b, "AssumeRole", no, data=data) == "AccessDeniedError"
    # Allowed by the policy but not by a trust policy naming the session, and the other way round.
    missing = f"arn:aws:iam::{ACCOUNT}:role/elsewhere"
    assert same(IAMRequest, p, h, b, "AssumeRole", missing, data=data) == "AccessDeniedError"


def test_policy_result_matches_iam_policy_including_its_errors() -> None:
    docs: list[Any] = [
        MAIN,
        document({"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::a*", "arn:aws:s3:::b/?"]}),
        document({"Effect": "Deny", "NotAction": "s3:Get*", "Resource": "*"}, allow("*", "*")),
        document(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:x": "y"}},
            }
        ),
        json.dumps({"Statement": allow("dynamodb:GetItem", TABLE)}),  # a single statement, not a list
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),  # no Resource
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:(", "Resource": "*"}]}),  # bad pattern
        json.dumps({"Version": "2012-10-17"}),  # no Statement
        "not json",
        {"policy_document": MAIN},
        {"policy_document": {"Statement": []}},  # not text: IAMPolicy's TypeError, uncached
        {"no": "document"},
    ]
    checks = [
        ("dynamodb:UpdateItem", TABLE),
        ("dynamodb:GetItem", TABLE),
        ("s3:GetObject", "arn:aws:s3:::b/x"),
        ("s3:PutObject", "arn:aws:s3:::a1"),
        ("s3:GetObject", "*"),
        ("sts:AssumeRole", "arn:aws:iam::1:role/target-x"),
    ]

    for doc in docs:
        for action, resource in checks:
            for _ in range(2):  # the second answer may come from the cache
                expected = outcome(lambda: IAMPolicy(doc).is_action_permitted(action, resource))  # noqa: B023
                assert outcome(lambda: policy_result(doc, action, resource)) == expected  # noqa: B023


def test_random_requests_sign_exactly_as_botocore_through_moto(aws: dict[str, Any]) -> None:
    """The calculated signature itself, fast against moto's, over many shapes of request."""
    creds = aws["credentials"]
    rng = random.Random(20260102)
    segments = ["a", "B", "x y", "%20", "%2F", "~t", "..", ".", "", "é", "k%C3%A9", "a+b", "=", "*"]
    queries = [
        "",
        "a=1",
        "b=2&a=1&a=0",
        "empty=&flag",
        "x=%2F%20&y=a+b",
        "Z=1&z=1",
        "list-type=2&prefix=a%2Fb",
    ]
    extras = [
        {"X-Custom": "  spaced   out  value "},
        {"X-Custom": "tab\tinside"},
        {"X-Meta": "café"},  # non-ASCII: the fast path steps aside
        {"User-Agent": "signed but blacklisted"},
        {"Content-Type": "application/json", "X-Amz-Target": "DynamoDB_20120810.GetItem"},
        {"X-Empty": ""},
    ]
    used = {"fast": 0, "fallback": 0, "failed": 0}
    for i in range(300):
        s3 = rng.random() < 0.5
        cls = S3IAMRequest if s3 else IAMRequest
        path = "/" + "/".join(rng.choice(segments) for _ in range(rng.randint(0, 4)))
        query = rng.choice(queries)
        method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD"])
        body = rng.choice([b"", b"{}", b"Action=List&Version=1", bytes(range(256))])
        extra = rng.choice(extras)
        url = f"{BASE}{path}" + (f"?{query}" if query else "")
        service = "s3" if s3 else rng.choice(["dynamodb", "sqs", "lambda"])
        signed_path, headers, body = sign(
            creds, method, url, body, service=service, s3=s3, headers=extra, when=rng.choice([DAY1, DAY2])
        )
        # Sign more headers than botocore would (Host, the extra ones), as a client may.
        names = sorted({n.lower() for n in headers if n != "Authorization"} | {"host"})
        authorization = (
            headers["Authorization"].split("SignedHeaders=")[0]
            + f"SignedHeaders={';'.join(names)}, Signature=0"
        )
        sent = headers | {"Authorization": authorization, "Host": "127.0.0.1:5000"}
        if i % 3 == 0:
            sent["host"] = "127.0.0.1:5000"  # the same name twice in a plain dict, differing in case
        if i % 7 == 0:
            sent["X-Raw"] = "caf\udce9"  # surrogates: HTTPHeaders hands back an email Header (moto fails)
            authorization = authorization.replace("SignedHeaders=", "SignedHeaders=x-raw;")
            sent["Authorization"] = authorization
        data = rng.choice([{}, {"BucketName": "b"}])
        views = [sent] if "X-Raw" in sent else [sent, dict(werkzeug_headers(sent, body).items())]
        for view in views:
            args = {
                "account_id": ACCOUNT,
                "method": method,
                "path": signed_path,
                "data": data,
                "body": body,
                "headers": view,
                "action": "GetItem",
            }
            slow, fast = cls(**args), fast_request_class(cls)(**args)
            used["fast" if fast._light_request() is not None else "fallback"] += 1
            expected = outcome(slow._calculate_signature)
            assert outcome(fast._calculate_signature) == expected, (method, signed_path, view)
            used["failed"] += not isinstance(expected, str)
    assert used["fast"] > 300 and used["fallback"] > 100 and used["failed"] > 20, used


def outcome(fn: Any) -> Any:
    try:
        return fn()
    except Exception as error:
        return type(error).__name__, str(error)


def test_the_installed_enforcement_uses_the_fast_classes(aws: dict[str, Any]) -> None:
    from moto.core.authorization import ActionAuthenticatorMixin

    from asyncapi_cli.local import iam_policy

    iam_policy.install_role_enforcement()
    path, headers, body = update_item(aws["credentials"])

    class Handler(ActionAuthenticatorMixin):
        uri, raw_path, method, raw_body, data, current_account = f"{BASE}/", "/", "POST", body, {}, ACCOUNT

        def _get_action(self) -> str:
            return "UpdateItem"

    handler = Handler()
    handler.headers = headers  # type: ignore[attr-defined]
    with mock.patch.object(
        iam_speedups.FastIAMRequest,
        "_light_request",
        autospec=True,
        side_effect=iam_speedups.FastIAMRequest._light_request,
    ) as light:
        handler._authenticate_and_authorize_action(IAMRequest, TABLE)
        assert light.called
        with pytest.raises(Exception, match="not authorized") as denied:
            handler._authenticate_and_authorize_action(IAMRequest, TABLE + "x")
    assert type(denied.value).__name__ == "AccessDeniedError"
