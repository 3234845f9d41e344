"""VTL fidelity: mapping templates render as API Gateway's (Java) Velocity renders them.

Sources: LocalStack snapshots recorded on AWS, tests/aws/services/apigateway/test_apigateway_common.py::
TestApiGatewayCommon::test_input_path_template_formatting and ::test_input_body_formatting (the
templates and bodies below are those tests'); AWS docs "API Gateway mapping template and access logging
variable reference" ($input, $util, $context) and Java's toString for maps, lists and booleans
(java.util.AbstractMap/AbstractCollection, java.lang.Boolean) which Velocity uses to render values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from asyncapi_cli.local.gateway.vtl import render
from asyncapi_cli.local.gateway.vtl_variables import GatewayTemplateError, InputVariable


def vtl(template: str, body: str = "", params: dict[str, Any] | None = None, **context: Any) -> str:
    return render(template, input_variable=InputVariable(body, params), context=context)


# --- test_input_path_template_formatting: the response template reads the echoed {"json": <posted>} ----

PATH = '#set($result = $input.path("$.json"))$result'
NESTED = '#set($result = $input.path("$.json"))$result.nested'
LIST = '#set($result = $input.path("$.json"))$result[0]'
TO_STRING = '#set($result = $input.path("$.json"))$result.toString()'
NULL_PROBE = '{"body": , "nested": , "isNull": "true", "isEmptyString": "true"}'
EMPTY_LIST_PROBE = '{"body": [], "nested": , "isNull": "false", "isEmptyString": "false"}'
BIGGER = {"bigger": "dict", "to": "test", "with": "separators"}
PROBE = (
    '{"body": $result, "nested": $result.nested, "isNull": #if( $result == $null )"true"#else"false"#end, '
    '"isEmptyString": #if( $result == "" )"true"#else"false"#end}'
)
INVALID_PATH = '#set($result = $input.path("$.nonExisting"))' + PROBE
NESTED_LIST = '#set($result = $input.path("$.json.listValue"))' + PROBE


@pytest.mark.parametrize(
    "snapshot_key, template, posted, expected",
    [
        ("dict-response", PATH, {"foo": "bar"}, "{foo=bar}"),
        ("json-list", PATH, [{"foo": "bar"}], '[{"foo":"bar"}]'),
        ("nested-dict", NESTED, {"nested": {"foo": "bar"}}, "{foo=bar}"),
        ("nested-list", NESTED, {"nested": [{"foo": "bar"}]}, '[{"foo":"bar"}]'),
        ("dict-in-list", LIST, [{"foo": "bar"}], "{foo=bar}"),
        ("list-with-nested-list", LIST, [[{"foo": "bar"}]], '[{"foo":"bar"}]'),
        ("dict-with-nested-list", PATH, {"foo": [{"nested": "bar"}]}, '{foo=[{"nested":"bar"}]}'),
        ("bigger-dict", PATH, BIGGER, "{bigger=dict, to=test, with=separators}"),
        ("to-string", TO_STRING, {"foo": "bar"}, "{foo=bar}"),
        ("list-to-string", TO_STRING, {"list": [{"foo": "bar"}]}, '{list=[{"foo":"bar"}]}'),
        ("empty-body", INVALID_PATH, None, NULL_PROBE),
        ("nested-empty-list", NESTED_LIST, {"listValue": []}, EMPTY_LIST_PROBE),
        ("nested-null-list", NESTED_LIST, {"listValue": None}, NULL_PROBE),
    ],
)
def test_input_path_formatting(snapshot_key: str, template: str, posted: Any, expected: str) -> None:
    assert vtl(template, json.dumps({"json": posted})) == expected, snapshot_key


# --- test_input_body_formatting: a request template, echoed, then a response template -----------------

RAW = "#set($result = $input.body)$result"
IN_STR = "Action=SendMessage&MessageBody=$input.body"
ATTR = "#set($result = $input.body.testAccess)$result"
URL = "EncodedBody=$util.urlEncode($input.body)&EncodedBodyAccess=$util.urlEncode($input.body.testAccess)"
BODIES = {"empty-body": "", "json-body": '{"some": "value"}', "str-body": "some raw data"}
ROUTES = {
    "raw-body": (
        RAW,
        RAW,
        {"empty-body": "{}", "json-body": '{"some": "value"}', "str-body": "some raw data"},
    ),
    "str-body-input": (
        IN_STR,
        RAW,
        {
            "empty-body": "Action=SendMessage&MessageBody={}",
            "json-body": 'Action=SendMessage&MessageBody={"some": "value"}',
            "str-body": "Action=SendMessage&MessageBody=some raw data",
        },
    ),
    "str-body-output": (
        RAW,
        IN_STR,
        {
            "empty-body": "Action=SendMessage&MessageBody={}",
            "json-body": 'Action=SendMessage&MessageBody={"some": "value"}',
            "str-body": "Action=SendMessage&MessageBody=some raw data",
        },
    ),
    "str-body-all": (
        IN_STR,
        IN_STR,
        {
            "empty-body": "Action=SendMessage&MessageBody=Action=SendMessage&MessageBody={}",
            "json-body": 'Action=SendMessage&MessageBody=Action=SendMessage&MessageBody={"some": "value"}',
            "str-body": "Action=SendMessage&MessageBody=Action=SendMessage&MessageBody=some raw data",
        },
    ),
    "body-attr-access": (ATTR, RAW, {"empty-body": "{}", "json-body": "{}", "str-body": "{}"}),
    "url-encode": (
        URL,
        RAW,
        {
            "empty-body": "EncodedBody=%7B%7D&EncodedBodyAccess=",
            "json-body": "EncodedBody=%7B%22some%22%3A+%22value%22%7D&EncodedBodyAccess=",
            "str-body": "EncodedBody=some+raw+data&EncodedBodyAccess=",
        },
    ),
}


@pytest.mark.parametrize(
    "route, body_kind", [(route, kind) for route in ROUTES for kind in BODIES], ids=lambda value: str(value)
)
def test_input_body_formatting(route: str, body_kind: str) -> None:
    request_template, response_template, expected = ROUTES[route]
    sent = render(request_template, input_variable=InputVariable(BODIES[body_kind], strict=True), context={})
    echoed = render(response_template, input_variable=InputVariable(sent), context={})
    assert echoed == expected[body_kind]


# --- values render as Java's toString ------------------------------------------------------------------


def test_booleans_render_true_false() -> None:
    # java.lang.Boolean.toString
    assert vtl("$input.path('$.a') $input.path('$.b')", '{"a": true, "b": false}') == "true false"


def test_map_literal_and_list_render_as_java() -> None:
    # java.util.AbstractMap.toString / AbstractCollection.toString
    assert vtl('#set($m = {"a": 1, "b": "x"})$m #set($l = ["a", "b"])$l') == "{a=1, b=x} [a, b]"


def test_map_size_and_keys() -> None:
    # java.util.Map.size() / keySet() on a JSON object read by $input.path
    body = '{"x": 1, "y": 2, "z": 3}'
    assert vtl("$input.path('$').size()", body) == "3"
    assert vtl("#foreach($k in $input.path('$').keySet())$k;#end", body) == "x;y;z;"


def test_null_and_undefined_render_empty() -> None:
    # AWS: an undefined reference or a null value renders as the empty string (see "empty-body" above)
    assert vtl("[$nothing][$!nothing][$input.path('$.missing')][$context.none]", '{"a": 1}') == "[][][][]"


def test_url_encode_null_is_empty() -> None:
    # snapshot test_input_body_formatting "response-url-encode": EncodedBodyAccess= (null argument)
    assert vtl("x=$util.urlEncode($input.path('$.missing'))", "{}") == "x="


def test_escape_javascript_and_the_replace_all_idiom() -> None:
    # AWS docs ($util.escapeJavaScript): escapes like JavaScript strings, single quotes become \'
    # "... $util.escapeJavaScript(data).replaceAll("\\'","'")" turns them back for JSON
    body = json.dumps({"t": 'It\'s "q"\n/é'})
    assert vtl("$util.escapeJavaScript($input.path('$.t'))", body) == 'It\\\'s \\"q\\"\\n\\/\\u00E9'
    rendered = vtl('{"t": "$util.escapeJavaScript($input.path(\'$.t\')).replaceAll("\\\\\'","\'")"}', body)
    assert json.loads(rendered) == {"t": 'It\'s "q"\n/é'}


def test_input_json_returns_json_text() -> None:
    # AWS docs ($input.json(x)): "evaluates a JSONPath expression and returns the results as a JSON string"
    assert json.loads(vtl("$input.json('$.a')", '{"a": {"b": [1, "x"]}}')) == {"b": [1, "x"]}


def test_input_body_of_an_empty_body() -> None:
    # snapshot test_input_body_formatting "response-raw-body" "empty-body": b'{}'
    assert vtl("$input.body", "") == "{}"


def test_input_params_searches_path_query_header_and_ignores_header_case() -> None:
    # AWS docs ($input.params(x)): "path, query string, or header value (searched in that order)";
    # header names are case-insensitive (RFC 9110 5.1)
    params = {"path": {"id": "p"}, "querystring": {"id": "q", "q": "1"}, "header": {"X-Custom": "h"}}
    assert vtl("$input.params('id') $input.params('q') $input.params('x-custom')", "{}", params) == "p 1 h"
    assert vtl("$input.params().header.get('X-Custom')", "{}", params) == "h"


def test_input_path_on_a_non_json_request_body_is_a_bad_request() -> None:
    # AWS answers 400 "Could not parse request body into json: ..." when a request template reads a
    # body that is not JSON (see test_fidelity_apigw.py for the HTTP answer)
    with pytest.raises(GatewayTemplateError) as raised:
        render("$input.path('$.a')", input_variable=InputVariable("not json", strict=True), context={})
    assert raised.value.bad_body and str(raised.value).startswith("Could not parse request body into json")


def test_input_path_on_a_non_json_response_body_is_empty() -> None:
    # an integration response that is not JSON: $input.path has no value (LocalStack, validated)
    assert vtl("[$input.path('$.a')]", "<xml/>") == "[]"


def test_response_override_status_and_header() -> None:
    # AWS docs "Override your API's request and response parameters and status codes"
    context: dict[str, Any] = {"responseOverride": {"header": {}, "status": 0}}
    vtl(
        '#set($context.responseOverride.status = 418)#set($context.responseOverride.header.X = "y")',
        **context,
    )
    assert context["responseOverride"] == {"header": {"X": "y"}, "status": 418}


def test_util_base64_and_parse_json() -> None:
    # AWS docs ($util.base64Encode, $util.parseJson)
    assert vtl("$util.base64Encode('hello')") == "aGVsbG8="
    assert vtl('$util.parseJson(\'{"a": {"b": 2}}\').a.b') == "2"


def test_stage_variables() -> None:
    # AWS docs "Use stage variables": $stageVariables.<name>
    rendered = render(
        "$stageVariables.colour/$stageVariables.none",
        input_variable=InputVariable(""),
        context={},
        stage_variables={"colour": "blue"},
    )
    assert rendered == "blue/"


def test_context_identity_renders_null_members_empty() -> None:
    # snapshot test_apigateway_sqs.py::test_sqs_amz_json_protocol: "$context.identity.user" -> ""
    identity = {"sourceIp": "1.2.3.4", "user": None, "userAgent": "ua"}
    assert (
        vtl(
            "$context.identity.sourceIp|$context.identity.user|$context.identity.userAgent", identity=identity
        )
        == "1.2.3.4||ua"
    )
