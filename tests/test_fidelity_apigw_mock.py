"""API Gateway fidelity: MOCK integrations carrying $context.requestOverride / responseOverride from the
request template to the response, and Velocity map assignment.

Sources: LocalStack snapshots recorded on AWS, tests/aws/services/apigateway/
test_apigateway_integrations.py::test_integration_mock_with_* (templates copied from those tests).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from .fidelity_apigw import Embedded, json_body

# Its tests share module-scoped fixtures that start servers: one pytest-xdist worker runs them all
# (`--dist loadgroup`), so the fixtures start once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_fidelity_apigw_mock")


@pytest.fixture(scope="module")
def aws() -> Iterator[Embedded]:
    embedded = Embedded()
    yield embedded
    embedded.close()


# --- overrides carried from the request template to the response (MOCK) --------------------------------
# LocalStack snapshots test_apigateway_integrations.py::test_integration_mock_with_* (recorded on AWS).

OVERRIDE_PATH_REQUEST = """#set($body = $util.base64Decode($input.params('testPath')))
#set($context.requestOverride.path.body = $body)
{
  "statusCode": 200
}
"""
OVERRIDE_PATH_RESPONSE = """
#set($body = $util.parseJson($context.requestOverride.path.body))
#set($inputBody = $body.message)
#if($inputBody == "path1")
{
   "response": "path was path one"
}
#elseif($inputBody == "path2")
{
   "response": "path was path two"
}
#else
{
  "response": "this is the else clause"
}
#end
"""
RESPONSE_OVERRIDE_REQUEST = """
#set($context.responseOverride.status = 444)
#set($context.responseOverride.header.foo = "bar")
#set($context.responseOverride.custom = "is also passed around")
{
  "statusCode": 200
}
"""
RESPONSE_OVERRIDE_RESPONSE = """
#set($statusOverride = $context.responseOverride.status)
#set($fooHeader = $context.responseOverride.header.foo)
#set($custom = $context.responseOverride.custom)
{
    "statusOverride": "$statusOverride",
    "fooHeader": "$fooHeader",
    "custom": "$custom"
}
"""
MAP_ASSIGN_REQUEST = """
#set($paramName = "foo")
#set($context.requestOverride.querystring[$paramName] = "bar")
#set($paramPutName = "putfoo")
$context.requestOverride.querystring.put($paramPutName, "putBar")
#set($context["requestOverride"].querystring["nestedfoo"] = "nestedFoo")
{
  "statusCode": 200
}
"""
MAP_ASSIGN_RESPONSE = """
#set($value = $context.requestOverride.querystring["foo"])
#set($value2 = $context.requestOverride.querystring["putfoo"])
#set($value3 = $context.requestOverride.querystring["nestedfoo"])
{
    "value": "$value",
    "value2": "$value2",
    "value3": "$value3"
}
"""


@pytest.fixture(scope="module")
def overrides(aws: Embedded) -> str:
    api_id, root = aws.rest_api("fidelity-overrides")
    by_path = aws.resource(api_id, aws.resource(api_id, root, "bypath"), "{testPath}")
    aws.mock_method(api_id, by_path, "GET", OVERRIDE_PATH_RESPONSE, request_template=OVERRIDE_PATH_REQUEST)
    with_template = aws.resource(api_id, root, "status")
    aws.mock_method(
        api_id, with_template, "GET", RESPONSE_OVERRIDE_RESPONSE, request_template=RESPONSE_OVERRIDE_REQUEST
    )
    without_template = aws.resource(api_id, root, "status-plain")
    aws.mock_method(api_id, without_template, "GET", "", request_template=RESPONSE_OVERRIDE_REQUEST)
    assign = aws.resource(api_id, root, "assign")
    aws.mock_method(api_id, assign, "GET", MAP_ASSIGN_RESPONSE, request_template=MAP_ASSIGN_REQUEST)
    aws.deploy(api_id, "dev")
    return api_id


@pytest.mark.parametrize(
    "message, expected",
    [("path1", "path was path one"), ("path2", "path was path two"), ("whatever", "this is the else clause")],
)
def test_request_override_reaches_the_response_template(
    aws: Embedded, overrides: str, message: str, expected: str
) -> None:
    # test_integration_mock_with_request_overrides_in_response_template: "invoke-path1/2/else"
    encoded = base64.b64encode(json.dumps({"message": message}).encode()).decode()
    status, _, body = aws.call("GET", aws.path(overrides, "dev", f"/bypath/{encoded}"))
    assert (status, json_body(body)) == (200, {"response": expected})


def test_response_override_set_in_the_request_template(aws: Embedded, overrides: str) -> None:
    # test_integration_mock_with_response_override_in_request_template[True]
    status, headers, body = aws.call("GET", aws.path(overrides, "dev", "/status"))
    assert (status, headers["foo"]) == (444, "bar")
    assert json_body(body) == {"custom": "is also passed around", "fooHeader": "bar", "statusOverride": "444"}


def test_response_override_without_a_response_template(aws: Embedded, overrides: str) -> None:
    # ibid. [False]: status 444, empty body
    status, headers, body = aws.call("GET", aws.path(overrides, "dev", "/status-plain"))
    assert (status, headers["foo"], body) == (444, "bar", b"")


def test_vtl_map_assignment_into_request_override(aws: Embedded, overrides: str) -> None:
    # test_integration_mock_with_vtl_map_assignation
    status, _, body = aws.call("GET", aws.path(overrides, "dev", "/assign"))
    assert (status, json_body(body)) == (200, {"value": "bar", "value2": "putBar", "value3": "nestedFoo"})
