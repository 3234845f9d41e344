"""API Gateway fidelity: routing, deployments, request framing, response headers, CORS, gateway
responses, throttling, API keys and access logs. Each case names the AWS answer it reproduces.

Sources: LocalStack's parity snapshots (tests/aws/services/apigateway/*.snapshot.json, recorded against
AWS) and AWS documentation pages, named beside each case.
"""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator

import pytest

from .fidelity_apigw import Embedded, json_body

# Its tests share module-scoped fixtures that start servers: one pytest-xdist worker runs them all
# (`--dist loadgroup`), so the fixtures start once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_fidelity_apigw")

MAT = {"message": "Missing Authentication Token"}


@pytest.fixture(scope="module")
def aws() -> Iterator[Embedded]:
    embedded = Embedded()
    yield embedded
    embedded.close()


@pytest.fixture(scope="module")
def api(aws: Embedded) -> dict[str, str]:
    """One API: /existing (GET), /items/{id} (GET), /items/special (GET), /greedy/{proxy+} (ANY),
    /validated (POST, JSON-object model), /cors (GET + OPTIONS mock), deployed to `dev`."""
    api_id, root = aws.rest_api("fidelity-routing")
    existing = aws.resource(api_id, root, "existing")
    aws.mock_method(api_id, existing, "GET", '{"message": "exists", "path": "$context.resourcePath"}')
    items = aws.resource(api_id, root, "items")
    item = aws.resource(api_id, items, "{id}")
    aws.mock_method(api_id, item, "GET", '{"id": "$input.params(\'id\')", "route": "param"}')
    special = aws.resource(api_id, items, "special")
    aws.mock_method(api_id, special, "GET", '{"route": "literal"}')
    greedy = aws.resource(api_id, root, "greedy")
    proxy = aws.resource(api_id, greedy, "{proxy+}")
    aws.mock_method(
        api_id, proxy, "ANY", '{"proxy": "$input.params(\'proxy\')", "verb": "$context.httpMethod"}'
    )
    validated = aws.resource(api_id, root, "validated")
    aws.apigw.create_model(
        restApiId=api_id,
        name="Obj",
        contentType="application/json",
        schema=json.dumps({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}),
    )
    validator = aws.apigw.create_request_validator(restApiId=api_id, name="body", validateRequestBody=True)
    aws.mock_method(
        api_id,
        validated,
        "POST",
        '{"ok": true}',
        # The MOCK request template sees the client's body: answer 200 only for a 2-key object.
        request_template="{\"statusCode\": #if($input.path('$').size() == 2)200#{else}500#end}",
        requestValidatorId=validator["id"],
        requestModels={"application/json": "Obj"},
    )
    parse = aws.resource(api_id, root, "parse")
    aws.mock_method(
        api_id,
        parse,
        "POST",
        '{"ok": true}',
        request_template='{"statusCode": 200, "a": "$input.path(\'$.a\')"}',
    )
    params_validator = aws.apigw.create_request_validator(
        restApiId=api_id, name="params", validateRequestParameters=True
    )
    params = aws.resource(api_id, root, "params")
    aws.mock_method(
        api_id,
        params,
        "GET",
        '{"ok": true}',
        requestValidatorId=params_validator["id"],
        requestParameters={
            "method.request.header.x-header-param": True,
            "method.request.querystring.qs1": True,
        },
    )
    cors = aws.resource(api_id, root, "cors")
    aws.mock_method(api_id, cors, "GET", '{"cors": true}')
    aws.mock_method(
        api_id,
        cors,
        "OPTIONS",
        "",
        response_parameters={
            "method.response.header.Access-Control-Allow-Origin": "'https://app.example'",
            "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
            "method.response.header.Access-Control-Allow-Headers": "'Content-Type,x-api-key'",
        },
    )
    aws.deploy(api_id, "dev")
    return {"id": api_id, "root": root}


def url(aws: Embedded, api: dict[str, str], path: str) -> str:
    return aws.path(api["id"], "dev", path)


# --- routing ---------------------------------------------------------------------------------------


def test_routing_known_route(aws: Embedded, api: dict[str, str]) -> None:
    # snapshot test_apigateway_common.py::TestApigatewayRouting::test_routing_not_found "working-route"
    status, _, body = aws.call("GET", url(aws, api, "/existing"))
    assert (status, json_body(body)["message"]) == (200, "exists")


def test_routing_unknown_path_is_missing_authentication_token(aws: Embedded, api: dict[str, str]) -> None:
    # ibid. "not-found": 403 {"message": "Missing Authentication Token"}, MissingAuthenticationTokenException
    status, headers, body = aws.call("GET", url(aws, api, "/random-non-existing"))
    assert (status, json_body(body), headers["x-amzn-errortype"]) == (
        403,
        MAT,
        "MissingAuthenticationTokenException",
    )


def test_routing_other_method_is_missing_authentication_token(aws: Embedded, api: dict[str, str]) -> None:
    # ibid. "wrong-method": POST on a GET-only resource answers like an unknown path (not 405)
    status, headers, body = aws.call("POST", url(aws, api, "/existing"), b"{}")
    assert (status, json_body(body), headers["x-amzn-errortype"]) == (
        403,
        MAT,
        "MissingAuthenticationTokenException",
    )


def test_routing_head_without_head_method_is_403_without_body(aws: Embedded, api: dict[str, str]) -> None:
    # ibid. (a verb the resource does not define); RFC 9110 9.3.2: a HEAD reply carries no body
    status, headers, body = aws.call("HEAD", url(aws, api, "/existing"))
    assert (status, body, headers["x-amzn-errortype"]) == (403, b"", "MissingAuthenticationTokenException")


def test_routing_options_without_options_method_is_403(aws: Embedded, api: dict[str, str]) -> None:
    # ibid.: OPTIONS is only answered by a defined OPTIONS method (AWS docs "Enable CORS for a
    # REST API resource": the preflight needs its own OPTIONS method)
    status, _, body = aws.call("OPTIONS", url(aws, api, "/existing"))
    assert (status, json_body(body)) == (403, MAT)


def test_routing_path_parameter(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "Set up a method using the API Gateway console": {id} matches one path part
    status, _, body = aws.call("GET", url(aws, api, "/items/a%20b"))
    assert (status, json_body(body)) == (200, {"id": "a b", "route": "param"})


def test_routing_literal_beats_parameter(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "Set up a proxy integration with a proxy resource": the more specific route wins
    status, _, body = aws.call("GET", url(aws, api, "/items/special"))
    assert (status, json_body(body)) == (200, {"route": "literal"})


def test_routing_greedy_proxy_takes_every_remaining_part(aws: Embedded, api: dict[str, str]) -> None:
    # ibid.: {proxy+} is greedy; ANY serves every verb
    status, _, body = aws.call("DELETE", url(aws, api, "/greedy/a/b/c"))
    assert (status, json_body(body)) == (200, {"proxy": "a/b/c", "verb": "DELETE"})


def test_routing_greedy_keeps_inner_double_slash(aws: Embedded, api: dict[str, str]) -> None:
    # snapshot test_apigateway_lambda.py::test_lambda_aws_proxy_integration
    # "invocation-payload-with-double-slash": proxy "proxy-value//double-slash"
    status, _, body = aws.call("GET", url(aws, api, "/greedy/proxy-value//double-slash"))
    assert (status, json_body(body)["proxy"]) == (200, "proxy-value//double-slash")


def test_routing_greedy_trailing_slash(aws: Embedded, api: dict[str, str]) -> None:
    # ibid. "invocation-payload-with-trailing-slash": proxy "proxy-value"
    status, _, body = aws.call("GET", url(aws, api, "/greedy/proxy-value/"))
    assert (status, json_body(body)["proxy"]) == (200, "proxy-value")


def test_routing_double_slash_path_is_normalized(aws: Embedded, api: dict[str, str]) -> None:
    # ibid. "invocation-payload-with-prepended-slash-to-stage": //path reaches /path
    status, _, body = aws.call("GET", url(aws, api, "//existing"))
    assert (status, json_body(body)["message"]) == (200, "exists")


def test_response_headers_request_id_and_apigw_id(aws: Embedded, api: dict[str, str]) -> None:
    # snapshot test_apigateway_lambda.py::test_aws_proxy_response_payload_format_validation
    # "invoke-api-with-headers": x-amzn-RequestId (a UUID) and x-amz-apigw-id on every answer
    for path in ("/existing", "/nope"):
        _, headers, _ = aws.call("GET", url(aws, api, path))
        assert len(headers["x-amzn-requestid"]) == 36 and headers["x-amz-apigw-id"]


def test_mock_answers_carry_no_trace_header(aws: Embedded, api: dict[str, str]) -> None:
    # snapshot test_apigateway_common.py::TestApiGatewayCommon::test_invocation_trace_id
    # "normal-req-headers-MOCK": no x-amzn-trace-id
    assert "x-amzn-trace-id" not in aws.call("GET", url(aws, api, "/existing"))[1]


@pytest.mark.parametrize(
    "path, headers, missing",
    [
        ("/params", {}, "[x-header-param, qs1]"),
        ("/params?qs1=1", {}, "[x-header-param]"),
        ("/params", {"x-header-param": "v"}, "[qs1]"),
    ],
)
def test_required_request_parameters(
    aws: Embedded, api: dict[str, str], path: str, headers: dict[str, str], missing: str
) -> None:
    # snapshot test_apigateway_common.py::TestApiGatewayCommon::test_api_gateway_request_validator
    # "missing-required-headers-request-params-get" / "missing-required-qs-request-params-get"
    status, _, body = aws.call("GET", url(aws, api, path), headers=headers)
    assert (status, json_body(body)) == (400, {"message": f"Missing required request parameters: {missing}"})
    assert aws.call("GET", url(aws, api, "/params?qs1=1"), headers={"x-header-param": "v"})[0] == 200


def test_context_resource_path(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "$context variables ...": resourcePath is the resource's template path
    _, _, body = aws.call("GET", url(aws, api, "/existing"))
    assert json_body(body)["path"] == "/existing"


# --- deployments -------------------------------------------------------------------------------------


def test_stage_serves_its_deployment_not_the_live_definition(aws: Embedded) -> None:
    # AWS docs "Deploy REST APIs in API Gateway": "After creating your API, you must deploy it...
    # every time you update an API, you must redeploy the API to an existing stage or to a new stage"
    api_id, root = aws.rest_api("fidelity-deploy")
    one = aws.resource(api_id, root, "one")
    aws.mock_method(api_id, one, "GET", '{"v": 1}')
    aws.deploy(api_id, "prod")
    two = aws.resource(api_id, root, "two")
    aws.mock_method(api_id, two, "GET", '{"v": 2}')
    aws.apigw.put_integration_response(
        restApiId=api_id,
        resourceId=one,
        httpMethod="GET",
        statusCode="200",
        selectionPattern="",
        responseTemplates={"application/json": '{"v": 9}'},
    )
    assert aws.call("GET", aws.path(api_id, "prod", "/two"))[0] == 403  # not deployed yet
    assert json_body(aws.call("GET", aws.path(api_id, "prod", "/one"))[2]) == {"v": 1}
    aws.deploy(api_id, "prod")
    assert json_body(aws.call("GET", aws.path(api_id, "prod", "/two"))[2]) == {"v": 2}
    assert json_body(aws.call("GET", aws.path(api_id, "prod", "/one"))[2]) == {"v": 9}


def test_redeploying_keeps_the_stage_settings(aws: Embedded) -> None:
    # AWS API reference CreateDeployment: naming an existing stage points it at the new deployment;
    # the stage keeps its variables and method settings (UpdateStage is how they change)
    api_id, root = aws.rest_api("fidelity-redeploy")
    res = aws.resource(api_id, root, "v")
    aws.mock_method(api_id, res, "GET", '{"var": "$stageVariables.colour"}')
    aws.deploy(api_id, "prod")
    aws.apigw.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/variables/colour", "value": "blue"}],
    )
    aws.deploy(api_id, "prod")
    assert json_body(aws.call("GET", aws.path(api_id, "prod", "/v"))[2]) == {"var": "blue"}


# --- request framing and bodies ------------------------------------------------------------------------


def test_body_over_10_mb_is_413(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "Amazon API Gateway quotas": payload size 10 MB; gateway response REQUEST_TOO_LARGE 413
    # ("Gateway response types for API Gateway")
    big = b"{" + b" " * (10 * 1024 * 1024 + 1) + b"}"
    status, headers, _ = aws.call(
        "POST", url(aws, api, "/validated"), big, {"Content-Type": "application/json"}
    )
    assert status == 413


def test_bad_content_length_is_400_not_a_dropped_connection(aws: Embedded, api: dict[str, str]) -> None:
    # RFC 9112 6.3: an invalid Content-Length is an unrecoverable framing error -> 400 and close
    with socket.create_connection(("127.0.0.1", aws.port), timeout=10) as sock:
        path = url(aws, api, "/validated")
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{{}}".encode())
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_kept_alive_connection_survives_head_and_errors(aws: Embedded, api: dict[str, str]) -> None:
    # RFC 9112 9.3 / RFC 9110 9.3.2: persistent connections; a HEAD reply has headers only, so the
    # next reply on the same connection must still be framed correctly
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=30)
    try:
        answers = []
        for verb, path in (("HEAD", "/existing"), ("GET", "/nope"), ("GET", "/existing")):
            connection.request(verb, url(aws, api, path))
            response = connection.getresponse()
            answers.append((response.status, response.read()[:20]))
        assert [a[0] for a in answers] == [403, 403, 200] and answers[0][1] == b""
    finally:
        connection.close()


def test_chunked_request_body(aws: Embedded, api: dict[str, str]) -> None:
    # RFC 9112 7.1: a chunked body is read whole (API Gateway accepts Transfer-Encoding: chunked)
    with socket.create_connection(("127.0.0.1", aws.port), timeout=10) as sock:
        path = url(aws, api, "/validated")
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        chunks = b'7\r\n{"a": 1\r\n9\r\n, "b": 2}\r\n0\r\n\r\n'
        sock.sendall((head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode() + chunks)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"ok": true}')


def test_deeply_nested_json_is_400_not_500(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "Request validation for REST APIs": a body failing validation is 400 "Invalid request body"
    deep = b"[" * 5000 + b"]" * 5000
    status, _, body = aws.call(
        "POST", url(aws, api, "/validated"), deep, {"Content-Type": "application/json"}
    )
    assert (status, json_body(body)) == (400, {"message": "Invalid request body"})


def test_gzip_request_body_is_decompressed(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "Content encoding for REST APIs in API Gateway": API Gateway decompresses a request
    # body sent with Content-Encoding: gzip before applying mapping templates
    packed = gzip.compress(b'{"a": 1, "b": 2}')
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    status, _, body = aws.call("POST", url(aws, api, "/validated"), packed, headers)
    assert (status, json_body(body)) == (200, {"ok": True})


@pytest.mark.parametrize(
    "payload",
    [b"", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": "\xff\xfe"}', b'{"a": 1} trailing'],
    ids=["empty", "nan", "infinity", "invalid-utf8", "trailing-garbage"],
)
def test_bodies_a_json_model_rejects(aws: Embedded, api: dict[str, str], payload: bytes) -> None:
    # AWS docs "Request validation": the body must be JSON (RFC 8259: no NaN/Infinity, UTF-8) that
    # satisfies the model, else 400 {"message": "Invalid request body"}
    status, headers, body = aws.call(
        "POST", url(aws, api, "/validated"), payload, {"Content-Type": "application/json"}
    )
    assert (status, json_body(body), headers["x-amzn-errortype"]) == (
        400,
        {"message": "Invalid request body"},
        "BadRequestException",
    )


def test_request_template_reading_a_non_json_body_is_400(aws: Embedded, api: dict[str, str]) -> None:
    # AWS answers 400 {"message": "Could not parse request body into json: ..."} when a request
    # mapping template applies $input.path/$input.json to a body that is not JSON (BAD_REQUEST_BODY)
    status, headers, body = aws.call(
        "POST", url(aws, api, "/parse"), b"not json", {"Content-Type": "application/json"}
    )
    assert status == 400 and headers["x-amzn-errortype"] == "BadRequestException"
    assert json_body(body)["message"].startswith("Could not parse request body into json")
    assert (
        aws.call("POST", url(aws, api, "/parse"), b'{"a": 1}', {"Content-Type": "application/json"})[0] == 200
    )


# --- CORS and gateway responses ------------------------------------------------------------------------


def test_cors_preflight_from_mock_integration(aws: Embedded, api: dict[str, str]) -> None:
    # AWS docs "Enable CORS for a REST API resource": the OPTIONS method's MOCK integration maps static
    # 'values' to method.response.header.Access-Control-Allow-*
    status, headers, _ = aws.call(
        "OPTIONS", url(aws, api, "/cors"), headers={"Origin": "https://app.example"}
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,OPTIONS"
    assert headers["access-control-allow-headers"] == "Content-Type,x-api-key"


def test_gateway_responses_apply_to_gateway_errors(aws: Embedded) -> None:
    # AWS docs "Set up a gateway response for a REST API": DEFAULT_4XX / DEFAULT_5XX parameters apply to
    # every 4xx/5xx gateway error without its own response; they are deployed with the API
    api_id, root = aws.rest_api("fidelity-gwresp")
    res = aws.resource(api_id, root, "x")
    aws.mock_method(api_id, res, "GET", "{}")
    aws.apigw.put_gateway_response(
        restApiId=api_id,
        responseType="DEFAULT_4XX",
        responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'https://app.example'"},
        responseTemplates={"application/json": '{"error": $context.error.messageString}'},
    )
    aws.deploy(api_id, "prod")
    status, headers, body = aws.call("GET", aws.path(api_id, "prod", "/missing"))
    assert status == 403
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert json_body(body) == {"error": "Missing Authentication Token"}


def test_mock_integration_status_from_request_template(aws: Embedded) -> None:
    # AWS docs "Set up mock integrations in API Gateway": the request template's statusCode selects
    # the integration response by its selection pattern
    api_id, root = aws.rest_api("fidelity-mock")
    res = aws.resource(api_id, root, "m")
    aws.mock_method(api_id, res, "GET", '{"default": true}', request_template='{"statusCode": 404}')
    aws.apigw.put_method_response(restApiId=api_id, resourceId=res, httpMethod="GET", statusCode="404")
    aws.apigw.put_integration_response(
        restApiId=api_id,
        resourceId=res,
        httpMethod="GET",
        statusCode="404",
        selectionPattern="404",
        responseTemplates={"application/json": '{"missing": true}'},
    )
    aws.deploy(api_id, "prod")
    status, _, body = aws.call("GET", aws.path(api_id, "prod", "/m"))
    assert (status, json_body(body)) == (404, {"missing": True})
