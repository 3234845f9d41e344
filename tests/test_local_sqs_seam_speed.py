"""The submit path's SQS seam, made cheaper without changing a byte of what it does.

- sqs_seam.form_field is dict(parse_qsl(body)).get(name, "").
- iam's wildcard matching caches the compiled pattern (a pure function of the pattern); the gateway
  still reads the role's policies on every request, so a changed inline policy or trust policy
  decides the very next one.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from asyncapi_cli.local.events import sqs_seam
from asyncapi_cli.local.gateway import iam
from asyncapi_cli.local.gateway.context import Invocation
from asyncapi_cli.local.gateway.context import Request as GatewayRequest
from asyncapi_cli.local.gateway.errors import InternalServerError
from asyncapi_cli.local.gateway.integrations import Integrations
from asyncapi_cli.local.gateway.moto_seam import Deployment, StageConfig

from .fidelity_apigw import APIGW_TRUST, LAMBDA_TRUST

ACCOUNT, REGION = "123456789012", "us-east-1"
ENDPOINT = "http://127.0.0.1:4566"
FORM = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}

# --- moto's answers -----------------------------------------------------------------------------------


@pytest.fixture
def sqs() -> Iterator[None]:
    from moto.sqs.models import sqs_backends

    with mock_aws():
        sqs_backends[ACCOUNT][REGION].create_queue("speed-q")
        yield


QUEUE = f"{ACCOUNT}/speed-q"


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
