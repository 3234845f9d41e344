"""API Gateway fidelity, Lambda proxy edges: an empty result, doubled slashes, header-name case.

Sources: LocalStack snapshots recorded on AWS (tests/aws/services/apigateway/test_apigateway_lambda.py and
its .snapshot.json): ::test_lambda_aws_proxy_integration ("invocation-payload-with-prepended-slash":
GET /stage//proxy-value reaches the function with path "/proxy-value" and requestContext.path
"/stage//proxy-value"; "...-with-double-slash": an inner "//" is kept; header names as the client sent
them, "tEsT-HEADeR"), and ::test_lambda_aws_proxy_response_format (validated on AWS: a function that
returns {} ("empty-response") answers 200 with an empty body; a result with an unknown key, 502).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .fidelity_apigw import ACCOUNT, REGION, Embedded, json_body
from .test_fidelity_apigw_lambda import ECHO_EVENT, RESPONSE_FROM_BODY

pytestmark = pytest.mark.xdist_group("test_fidelity_apigw_lambda_edges")


@pytest.fixture(scope="module")
def aws() -> Iterator[Embedded]:
    embedded = Embedded()
    yield embedded
    embedded.close()


@pytest.fixture(scope="module")
def api(aws: Embedded) -> dict[str, Any]:
    api_id, root = aws.rest_api("fidelity-lambda-edges")
    from_body = aws.function("edges-from-body", RESPONSE_FROM_BODY)
    echo = aws.function("edges-echo", ECHO_EVENT)
    result = aws.resource(api_id, root, "result")
    aws.proxy_method(api_id, result, "ANY", from_body)
    proxy = aws.resource(api_id, root, "{proxy+}")
    aws.proxy_method(api_id, proxy, "ANY", echo)
    source = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/*/*"
    aws.allow_apigateway("edges-from-body", source)
    aws.allow_apigateway("edges-echo", source)
    aws.deploy(api_id, "stage")
    return {"id": api_id}


def test_an_empty_result_is_200_with_no_body(aws: Embedded, api: dict[str, Any]) -> None:
    # test_lambda_aws_proxy_response_format, "empty-response": the function returns {} -> 200, b"" (on
    # AWS; the snapshot's "invoke-api-empty-response" 502 is a function that failed to parse no body).
    body = json.dumps({}).encode()
    status, _, data = aws.call(
        "POST", aws.path(api["id"], "stage", "/result"), body, {"Content-Type": "application/json"}
    )
    assert (status, data) == (200, b"")


def _event(aws: Embedded, api: dict[str, Any], path: str, headers: list[tuple[str, str]]) -> dict[str, Any]:
    status, _, data = aws.call("GET", aws.path(api["id"], "stage", path), None, headers)
    assert status == 200, data
    return json_body(data)


def test_a_doubled_leading_slash_reaches_the_function_as_one(aws: Embedded, api: dict[str, Any]) -> None:
    # "invocation-payload-with-prepended-slash": GET /stage//proxy-value
    event = _event(aws, api, "//proxy-value", [])
    assert (event["path"], event["resource"], event["pathParameters"]) == (
        "/proxy-value",
        "/{proxy+}",
        {"proxy": "proxy-value"},
    )
    assert event["requestContext"]["path"] == "/stage//proxy-value"


def test_an_inner_doubled_slash_is_kept(aws: Embedded, api: dict[str, Any]) -> None:
    # "invocation-payload-with-double-slash": GET /stage/proxy-value//double-slash
    event = _event(aws, api, "/proxy-value//double-slash", [])
    assert (event["path"], event["pathParameters"]) == (
        "/proxy-value//double-slash",
        {"proxy": "proxy-value//double-slash"},
    )
    assert event["requestContext"]["path"] == "/stage/proxy-value//double-slash"


def test_header_names_reach_the_event_as_the_client_sent_them(aws: Embedded, api: dict[str, Any]) -> None:
    # test_lambda_aws_proxy_integration: "tEsT-HEADeR", "User-Agent", "Accept", "Accept-Encoding",
    # "Authorization" and "Host" as sent (python-requests sends them capitalized); lowercase names, as
    # HTTP/2 clients and fetch() send them, stay lowercase.
    sent = [
        ("tEsT-HEADeR", "aValUE"),
        ("User-Agent", "python-requests/testing"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Authorization", "random-value"),
        ("x-lower-case", "v"),
        ("content-type", "text/plain"),
    ]
    event = _event(aws, api, "/names", sent)
    for name, value in sent:
        assert event["headers"].get(name) == value, (name, sorted(event["headers"]))
        assert event["multiValueHeaders"].get(name) == [value], name
    assert "Host" in event["headers"]
    assert not {"Connection", "Content-Length"} & set(event["headers"])
