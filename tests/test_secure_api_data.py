"""The secure defaults as data: what `up` deploys for several CORS origins, the stage's patch
operations, the job id template, and flag validation (no AWS; fast)."""

from __future__ import annotations

import dataclasses

from asyncapi_cli import cors, secure_api
from asyncapi_cli.api_definition import SUBMIT_ACCEPTED_TEMPLATE, SUBMIT_REQUEST_TEMPLATE
from asyncapi_cli.local.gateway.vtl import render
from asyncapi_cli.local.gateway.vtl_variables import InputVariable
from asyncapi_cli.names import StackSettings
from asyncapi_cli.resources.stage import patch_operations

from .conftest import ACCOUNT, run_cli
from .stack_units import stack_units

ORIGINS = ("https://a.example", "https://b.example")


def _echoed(origin: str) -> str | None:
    context: dict = {"responseOverride": {"header": {}, "status": 0}}
    render(
        cors.echo_origin_vtl(ORIGINS) + "{}",
        input_variable=InputVariable("", {"header": {"Origin": origin}, "path": {}, "querystring": {}}),
        context=context,
    )
    return context["responseOverride"]["header"].get("Access-Control-Allow-Origin")


def test_several_origins_echo_only_a_listed_origin() -> None:
    # API Gateway static header values cannot echo; the template sets the header from
    # $input.params('Origin') (AWS docs "Override your API's request and response parameters").
    assert _echoed("https://b.example") == "https://b.example"
    assert _echoed("https://evil.example") is None
    assert _echoed("") is None


def test_cors_routes_for_several_origins() -> None:
    units = {u.key: u for u in stack_units("data-stack")}
    assert "gateway_responses" not in units  # no origin: today's behaviour
    assert not any(k.startswith("OPTIONS ") for k in units["routes"].attributes["methods"])
    ctx = _ctx(cors_origins=ORIGINS)
    routes = secure_api.secure_routes(ctx, {"methods": dict(units["routes"].attributes["methods"])})
    methods = routes["methods"]
    assert {"OPTIONS /submit", "OPTIONS /status/{jobId}"} <= set(methods)
    accepted = methods["POST /submit"]["integrationResponses"]["202"]
    assert accepted["responseParameters"]["method.response.header.Vary"] == "'Origin'"
    assert "$!input.params('Origin')" in accepted["responseTemplates"]["application/json"]
    assert methods["OPTIONS /submit"]["integration"]["type"] == "MOCK"
    assert methods["OPTIONS /submit"]["apiKeyRequired"] is False
    responses = cors.gateway_responses(ORIGINS)
    assert responses["DEFAULT_4XX"]["responseParameters"] == {
        "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
        "gatewayresponse.header.Vary": "'Origin'",
    }


def test_submit_errors_are_503_with_retry_after_or_500() -> None:
    submit = stack_units("data-stack")
    routes = next(u for u in submit if u.key == "routes").attributes["methods"]["POST /submit"]
    assert routes["methodResponses"]["503"] == {"method.response.header.Retry-After": False}
    default = routes["integrationResponses"]["500"]
    assert default["selectionPattern"] is None
    assert "responseOverride.status = 503" in default["responseTemplates"]["application/json"]


def test_job_id_is_never_the_client_settable_request_id() -> None:
    # AWS docs, "$context variables...": requestId "Clients can override this request ID".
    for template in (SUBMIT_REQUEST_TEMPLATE, SUBMIT_ACCEPTED_TEMPLATE):
        assert "$context.requestId" not in template
        assert "$context.extendedRequestId" in template


def test_stage_patch_operations_converge_throttling_and_access_logs() -> None:
    desired = {
        "methodSettings": {"*/*": {"throttlingRateLimit": 50.0, "throttlingBurstLimit": 100}},
        "accessLogSettings": {"destinationArn": "arn:aws:logs:us-east-1:1:log-group:g", "format": "{}"},
    }
    # API Gateway REST API Reference, UpdateStage: /*/*/throttling/rateLimit, /accessLogSettings/*.
    assert patch_operations(desired, {}) == [
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "50.0"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "100"},
        {
            "op": "replace",
            "path": "/accessLogSettings/destinationArn",
            "value": desired["accessLogSettings"]["destinationArn"],
        },
        {"op": "replace", "path": "/accessLogSettings/format", "value": "{}"},
    ]
    assert patch_operations(desired, desired) == []
    drifted = {**desired, "methodSettings": {"*/*": {"throttlingRateLimit": 50.0, "throttlingBurstLimit": 5}}}
    assert patch_operations(desired, drifted) == [
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "100"}
    ]


def test_bad_flags_are_one_line_and_exit_2() -> None:
    result = run_cli("up", "--local", "--name", "flag-stack", "--cors-origin", "ftp://x")
    assert result.returncode == 2
    assert result.stderr.startswith("asyncapi: error: --cors-origin:") and result.stderr.count("\n") == 1
    result = run_cli("up", "--local", "--name", "flag-stack", "--throttle-rate", "0")
    assert result.returncode == 2 and "--throttle-rate" in result.stderr


def _ctx(**changes: object):  # noqa: ANN202
    from asyncapi_cli.engine import Context
    from asyncapi_cli.names import StackNames

    from .conftest import ACCOUNT, no_sleep_pacer

    return Context(
        clients=None,  # type: ignore[arg-type]
        names=StackNames("data-stack"),
        settings=dataclasses.replace(StackSettings(), **changes),
        region="us-east-1",
        account=ACCOUNT,
        partition="aws",
        pacer=no_sleep_pacer(),
    )


def test_recorder_role_is_least_privilege_on_this_stack_only() -> None:
    # handlers/dead_letter_recorder.py calls dynamodb UpdateItem and sqs SendMessage (to the DLQ); its
    # mapping polls the inbox (Lambda Developer Guide, "Using Lambda with Amazon SQS": execution role
    # needs ReceiveMessage, DeleteMessage, GetQueueAttributes).
    units = {u.key: u for u in stack_units("data-stack")}
    policy = units["recorder_role"].attributes["Policies"]["asyncapi-least-privilege"]
    by_resource = {r: s["Action"] for s in policy["Statement"] for r in s["Resource"]}
    account = "arn:aws:{}:us-east-1:" + ACCOUNT
    assert by_resource == {
        account.format("dynamodb") + ":table/data-stack-jobs": ["dynamodb:UpdateItem"],
        account.format("sqs") + ":data-stack-dlq": ["sqs:SendMessage"],
        account.format("sqs") + ":data-stack-dlq-inbox": [
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
        account.format("logs") + ":log-group:/aws/lambda/data-stack-dl-recorder:*": [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
    }
    assert units["recorder_mapping"].attributes["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
