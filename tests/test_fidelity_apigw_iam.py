"""API Gateway fidelity: the IAM policy evaluator the gateway uses, method authorization, other
integration types.

Sources: AWS docs "Policy evaluation logic" (explicit Deny wins; an Allow is needed), "IAM JSON policy
elements: Action / NotAction / Resource / Condition" (wildcards `*` and `?`, actions case-insensitive,
condition operators ArnLike/StringEquals, ...IfExists), "Control access to a REST API with IAM
permissions" (unsigned calls to AWS_IAM methods: 403 Missing Authentication Token), "Set up HTTP
integrations in API Gateway".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asyncapi_cli.local.gateway import iam

from .fidelity_apigw import Embedded, json_body

# Its tests share module-scoped fixtures that start servers: one pytest-xdist worker runs them all
# (`--dist loadgroup`), so the fixtures start once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_fidelity_apigw_iam")

QUEUE = "arn:aws:sqs:us-east-1:123456789012:jobs"


def doc(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    "policy, action, resource, expected",
    [
        (
            doc({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}),
            "sqs:SendMessage",
            QUEUE,
            iam.ALLOW,
        ),
        (
            doc({"Effect": "Allow", "Action": "SQS:sendmessage", "Resource": QUEUE}),
            "sqs:SendMessage",
            QUEUE,
            iam.ALLOW,
        ),
        (
            doc({"Effect": "Allow", "Action": "sqs:Send*", "Resource": "arn:aws:sqs:*:*:jo?s"}),
            "sqs:SendMessage",
            QUEUE,
            iam.ALLOW,
        ),
        (
            doc({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE + "-dlq"}),
            "sqs:SendMessage",
            QUEUE,
            iam.IMPLICIT_DENY,
        ),
        (
            doc(
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "sqs:*", "Resource": QUEUE},
            ),
            "sqs:SendMessage",
            QUEUE,
            iam.DENY,
        ),
        (
            doc({"Effect": "Allow", "NotAction": "sqs:DeleteQueue", "Resource": "*"}),
            "sqs:SendMessage",
            QUEUE,
            iam.ALLOW,
        ),
        (
            doc({"Effect": "Allow", "NotAction": "sqs:Send*", "Resource": "*"}),
            "sqs:SendMessage",
            QUEUE,
            iam.IMPLICIT_DENY,
        ),
        (
            doc({"Effect": "Allow", "Action": "sqs:SendMessage", "NotResource": QUEUE}),
            "sqs:SendMessage",
            QUEUE,
            iam.IMPLICIT_DENY,
        ),
        (
            doc({"Effect": "Allow", "Action": ["s3:GetObject", "sqs:SendMessage"], "Resource": [QUEUE]}),
            "sqs:SendMessage",
            QUEUE,
            iam.ALLOW,
        ),
        (doc(), "sqs:SendMessage", QUEUE, iam.IMPLICIT_DENY),
    ],
    ids=[
        "exact",
        "action-case",
        "wildcards",
        "other-resource",
        "explicit-deny",
        "not-action",
        "not-action-excludes",
        "not-resource",
        "lists",
        "empty",
    ],
)
def test_identity_policy_evaluation(
    policy: dict[str, object], action: str, resource: str, expected: str
) -> None:
    assert iam.evaluate([policy], action, resource) == expected


LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:status"
SOURCE = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/status/{jobId}"


def grant(condition: dict[str, object] | None, principal: object = None) -> dict[str, object]:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": principal or {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": LAMBDA,
    }
    if condition is not None:
        statement["Condition"] = condition
    return doc(statement)


@pytest.mark.parametrize(
    "policy, allowed",
    [
        (
            grant(
                {
                    "ArnLike": {
                        "AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/status/*"
                    }
                }
            ),
            True,
        ),
        (
            grant({"ArnLike": {"aws:sourcearn": "arn:aws:execute-api:us-east-1:123456789012:abc123/*/*/*"}}),
            True,
        ),
        (grant({"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:other/*"}}), False),
        (
            grant(
                {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/*/POST/*"}}
            ),
            False,
        ),
        (grant({"StringEquals": {"AWS:SourceAccount": "123456789012"}}), True),
        (grant({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-1"}}), True),
        (grant(None), True),
        (grant(None, {"Service": "s3.amazonaws.com"}), False),
    ],
    ids=[
        "source-arn",
        "key-case",
        "other-api",
        "other-verb",
        "source-account",
        "if-exists",
        "no-condition",
        "other-service",
    ],
)
def test_lambda_resource_policy_evaluation(policy: dict[str, object], allowed: bool) -> None:
    keys = {"AWS:SourceArn": SOURCE, "AWS:SourceAccount": "123456789012"}
    assert (
        iam.resource_policy_allows(policy, "apigateway.amazonaws.com", "lambda:InvokeFunction", LAMBDA, keys)
        is allowed
    )


def test_trust_policy_must_name_the_service() -> None:
    trust = doc(
        {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": "sts:AssumeRole"}
    )
    assert not iam.service_may_assume(trust, "apigateway.amazonaws.com")
    trust["Statement"][0]["Principal"]["Service"].append("apigateway.amazonaws.com")  # type: ignore[index]
    assert iam.service_may_assume(trust, "apigateway.amazonaws.com")


# --- method authorization and other integration types, through HTTP -----------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[Embedded]:
    embedded = Embedded()
    yield embedded
    embedded.close()


@pytest.fixture(scope="module")
def api(aws: Embedded) -> dict[str, str]:
    api_id, root = aws.rest_api("fidelity-authz")
    target = aws.resource(api_id, root, "target")
    aws.mock_method(api_id, target, "GET", '{"from": "mock", "q": "$input.params(\'q\')"}')
    signed = aws.resource(api_id, root, "signed")
    aws.mock_method(api_id, signed, "GET", '{"ok": true}', authorizationType="AWS_IAM")
    forward = aws.resource(api_id, root, "forward")
    aws.apigw.put_method(restApiId=api_id, resourceId=forward, httpMethod="GET", authorizationType="NONE")
    aws.apigw.put_integration(
        restApiId=api_id,
        resourceId=forward,
        httpMethod="GET",
        type="HTTP",
        integrationHttpMethod="GET",
        uri=f"http://127.0.0.1:{aws.port}/restapis/{api_id}/dev/_user_request_/target",
        requestParameters={"integration.request.querystring.q": "method.request.querystring.word"},
    )
    aws.apigw.put_method_response(restApiId=api_id, resourceId=forward, httpMethod="GET", statusCode="200")
    aws.apigw.put_integration_response(
        restApiId=api_id,
        resourceId=forward,
        httpMethod="GET",
        statusCode="200",
        selectionPattern="",
        responseTemplates={"application/json": "{\"wrapped\": $input.json('$')}"},
    )
    passthrough = aws.resource(api_id, aws.resource(api_id, root, "pp"), "{proxy+}")
    aws.apigw.put_method(
        restApiId=api_id,
        resourceId=passthrough,
        httpMethod="ANY",
        authorizationType="NONE",
        requestParameters={"method.request.path.proxy": True},
    )
    aws.apigw.put_integration(
        restApiId=api_id,
        resourceId=passthrough,
        httpMethod="ANY",
        type="HTTP_PROXY",
        integrationHttpMethod="ANY",
        uri=f"http://127.0.0.1:{aws.port}/restapis/{api_id}/dev/_user_request_/{{proxy}}",
        requestParameters={"integration.request.path.proxy": "method.request.path.proxy"},
    )
    aws.deploy(api_id, "dev")
    return {"id": api_id}


def test_unsigned_call_to_an_iam_method_is_missing_authentication_token(
    aws: Embedded, api: dict[str, str]
) -> None:
    status, headers, body = aws.call("GET", aws.path(api["id"], "dev", "/signed"))
    assert (status, json_body(body)) == (403, {"message": "Missing Authentication Token"})


@pytest.mark.xfail(strict=True, reason="SigV4 signatures on AWS_IAM methods are not verified locally")
def test_badly_signed_call_to_an_iam_method_is_403(aws: Embedded, api: dict[str, str]) -> None:
    # AWS answers 403 {"message": "The security token included in the request is invalid."}
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/execute-api/aws4_request"
    }
    assert aws.call("GET", aws.path(api["id"], "dev", "/signed"), headers=headers)[0] == 403


def test_http_integration_maps_parameters_and_response(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "Set up HTTP integrations": integration.request.querystring mapped from the method
    # request; the integration response template wraps the endpoint's JSON
    status, _, body = aws.call("GET", aws.path(api["id"], "dev", "/forward?word=hi"))
    assert (status, json_body(body)) == (200, {"wrapped": {"from": "mock", "q": "hi"}})


def test_http_proxy_greedy_path_and_query(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "Set up a proxy integration with a proxy resource": {proxy} in the endpoint URI takes the
    # greedy path; query string and answer pass through unchanged
    status, headers, body = aws.call("GET", aws.path(api["id"], "dev", "/pp/target?q=zz"))
    assert (status, json_body(body)) == (200, {"from": "mock", "q": "zz"})


def test_http_proxy_integration(aws: Embedded) -> None:
    api_id, root = aws.rest_api("fidelity-http-proxy")
    res = aws.resource(api_id, root, "p")
    aws.apigw.put_method(restApiId=api_id, resourceId=res, httpMethod="GET", authorizationType="NONE")
    aws.apigw.put_integration(
        restApiId=api_id,
        resourceId=res,
        httpMethod="GET",
        type="HTTP_PROXY",
        integrationHttpMethod="GET",
        uri=f"http://127.0.0.1:{aws.port}/restapis/{api_id}/dev/_user_request_/missing",
    )
    aws.deploy(api_id, "dev")
    # AWS docs "Set up HTTP proxy integrations": the endpoint's answer is passed through as is, here
    # the 403 of an unknown path
    status, _, body = aws.call("GET", aws.path(api_id, "dev", "/p"))
    assert (status, json_body(body)) == (403, {"message": "Missing Authentication Token"})
