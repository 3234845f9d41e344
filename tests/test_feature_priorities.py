"""Job priorities: the /submit templates choose the queue from a fixed pair; anything else is 400.

Templates are rendered with the embedded gateway's Velocity engine (asyncapi_cli/local/gateway/vtl.py) and a
$context as API Gateway provides it; the rendered form is then sent, signed as API Gateway sends it,
to a moto server's SQS root (the integration URI `sqs:path//`), where it must land in the right queue.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from asyncapi_cli.features import FeatureTarget, priorities
from asyncapi_cli.local.gateway.vtl import render
from asyncapi_cli.local.gateway.vtl_variables import InputVariable
from asyncapi_cli.names import StackNames
from asyncapi_cli.resources.routes import normalize_live_method
from tests import feature_support as fs

TARGET = FeatureTarget(StackNames("p"), "us-east-1", "123456789012")
MAIN_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/p-main-queue"
HIGH_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/p-high-queue"
# An extendedRequestId as API Gateway makes them: base64-like, with '+', '/' and '='.
EXTENDED_ID = "Yq2m+VG/S2IAMFh4Q="
BODY = '{"text": "a&b+c%d=e ✓", "n": [1, 2.5]}'


def context() -> dict[str, Any]:
    return {
        "requestId": "client-chosen-id",  # X-Amzn-RequestId can set this one; it must not be the job id
        "extendedRequestId": EXTENDED_ID,
        "requestTimeEpoch": 1764241200000,
        "requestOverride": {"header": {}, "path": {}, "querystring": {}},
        "responseOverride": {"header": {}, "status": None},
    }


def params(query: dict[str, str] | None = None, header: dict[str, str] | None = None) -> dict[str, Any]:
    return {"path": {}, "querystring": dict(query or {}), "header": dict(header or {})}


def submit(query: dict[str, str] | None = None, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    method = priorities.submit_method(
        TARGET,
        main_queue_url=kwargs.get("main", MAIN_URL),
        high_queue_url=kwargs.get("high", HIGH_URL),
        api_role_arn="arn:aws:iam::123456789012:role/p-api-gateway-role",
        validator="asyncapi-body",
        model="JobRequest",
    )
    ctx = context()
    template = method["integration"]["requestTemplates"]["application/json"]
    rendered = render(
        template, input_variable=InputVariable(BODY, params(query, kwargs.get("header"))), context=ctx
    )
    return rendered, ctx


def respond(
    code: str, query: dict[str, str] | None, ctx: dict[str, Any], sqs_body: str = "<ok/>"
) -> dict[str, Any]:
    """The integration response API Gateway selects for `code`, rendered: (status, headers, body)."""
    method = priorities.submit_method(
        TARGET,
        main_queue_url=MAIN_URL,
        high_queue_url=HIGH_URL,
        api_role_arn="arn:aws:iam::123456789012:role/p-api-gateway-role",
        validator="asyncapi-body",
        model="JobRequest",
    )
    responses = method["integrationResponses"]
    chosen = next(
        (
            c
            for c, r in responses.items()
            if r["selectionPattern"] and re.fullmatch(r["selectionPattern"], code)
        ),
        next(c for c, r in responses.items() if r["selectionPattern"] is None),
    )
    template = responses[chosen]["responseTemplates"]["application/json"]
    # In an integration response template, $input is the integration's answer but $input.params()
    # are still the METHOD request's parameters (LocalStack, AWS-validated: tests/aws/services/
    # apigateway/test_apigateway_basic.py::TestIntegrations::test_mock_integration_response).
    body = render(template, input_variable=InputVariable(sqs_body, params(query)), context=ctx)
    override = ctx["responseOverride"]
    return {
        "status": int(override["status"] or chosen),
        "headers": dict(override["header"]),
        "body": json.loads(body),
    }


@pytest.mark.parametrize(
    ("query", "queue", "priority"),
    [
        ({}, MAIN_URL, "normal"),
        ({"priority": ""}, MAIN_URL, "normal"),
        ({"priority": "normal"}, MAIN_URL, "normal"),
        ({"priority": "high"}, HIGH_URL, "high"),
    ],
)
def test_request_template_chooses_the_queue(query: dict[str, str], queue: str, priority: str) -> None:
    rendered, _ = submit(query)
    assert "\n" not in rendered and rendered == rendered.strip()
    fields = fs.form(rendered)
    assert fields["Action"] == "SendMessage"
    assert fields["QueueUrl"] == queue
    assert fields["MessageBody"] == BODY  # the client's JSON, untouched
    attributes = fs.message_attributes(fields)
    assert attributes["priority"] == {"DataType": "String", "StringValue": priority}
    assert attributes["jobId"] == {"DataType": "String", "StringValue": "Yq2m-VG_S2IAMFh4Q"}
    assert attributes["submittedAt"] == {"DataType": "Number", "StringValue": "1764241200000"}
    # The job id is API Gateway's extendedRequestId made URL-safe: a valid job id for the processor.
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,128}", attributes["jobId"]["StringValue"])


@pytest.mark.parametrize(
    "value",
    ["HIGH", "urgent", "high ", "low", MAIN_URL, "p-high-queue", "high&QueueUrl=https://evil", "$context"],
)
def test_any_other_priority_sends_nothing_and_answers_400(value: str) -> None:
    rendered, ctx = submit({"priority": value})
    assert fs.form(rendered) == {"Action": "RefusedInvalidPriority"}  # no queue, no body: nothing sent
    assert ctx["responseOverride"]["status"] is None
    # Whatever SQS answers to that (AWS: 400 InvalidAction; moto: 500), the client gets a clear 400.
    for code in ("400", "500", "503", "200"):
        answer = respond(code, {"priority": value}, context())
        assert answer["status"] == 400
        assert answer["body"] == {"message": priorities.INVALID_PRIORITY_MESSAGE}
        assert "Location" not in answer["headers"]


def test_only_the_query_string_counts_and_the_urls_are_fixed() -> None:
    rendered, _ = submit({}, header={"priority": "high"})  # a header of that name is not the parameter
    assert fs.form(rendered)["QueueUrl"] == MAIN_URL
    with pytest.raises(ValueError):
        submit({}, high='https://sqs.example/x"#set($a=1)')
    method = priorities.submit_method(
        TARGET, main_queue_url=MAIN_URL, high_queue_url=HIGH_URL, api_role_arn="r", validator="v", model="m"
    )
    template = method["integration"]["requestTemplates"]["application/json"]
    # Exactly two queue URLs occur in the template, both literal: no client text can form another.
    assert sorted(set(re.findall(r"https://sqs\.[^\"']+", template))) == [HIGH_URL, MAIN_URL]
    assert method["integration"]["uri"] == "arn:aws:apigateway:us-east-1:sqs:path//"
    assert method["requestParameters"] == {"method.request.querystring.priority": False}
    (statement,) = priorities.api_role_statements(TARGET)
    assert statement["Action"] == ["sqs:SendMessage"]
    assert statement["Resource"] == [
        "arn:aws:sqs:us-east-1:123456789012:p-main-queue",
        "arn:aws:sqs:us-east-1:123456789012:p-high-queue",
    ]
    # The method is in routes.py's normalized shape (what ApiRoutes diffs live methods against), but
    # for apiKeyRequired, which secure_api.secure_routes sets on every method of the stack.
    assert set(method) | {"apiKeyRequired"} == set(normalize_live_method({}, {}))
    assert set(method["integration"]) == set(normalize_live_method({}, {})["integration"])


@pytest.mark.parametrize(("query", "priority"), [({}, "normal"), ({"priority": "high"}, "high")])
def test_accepted_answer_names_job_and_priority(query: dict[str, str], priority: str) -> None:
    _, ctx = submit(query)
    answer = respond("200", query, ctx)
    assert answer["status"] == 202
    assert answer["body"] == {
        "jobId": "Yq2m-VG_S2IAMFh4Q",
        "status": "queued",
        "priority": priority,
        "statusUrl": "status/Yq2m-VG_S2IAMFh4Q",
    }
    assert answer["headers"] == {"Location": "status/Yq2m-VG_S2IAMFh4Q"}
    assert respond("503", query, context())["status"] == 503
    failed = respond("403", query, context())
    assert failed["status"] == 500 and "could not be queued" in failed["body"]["message"]


@pytest.fixture
def moto_sqs(moto_server: str) -> Iterator[tuple[str, Any]]:
    yield moto_server, boto3.client("sqs", endpoint_url=moto_server)


def send_as_api_gateway(endpoint: str, form_body: str) -> int:
    """POST the rendered form to the SQS endpoint's root, signed with SigV4 as API Gateway does."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = endpoint.rstrip("/") + "//"  # arn:...:sqs:path// -> the service root
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    request = AWSRequest(method="POST", url=url, data=form_body.encode(), headers=headers)
    SigV4Auth(Credentials("testing", "testing"), "sqs", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(
        url, data=form_body.encode(), method="POST", headers=dict(request.headers)
    )
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_rendered_form_reaches_the_chosen_queue(moto_sqs: tuple[str, Any]) -> None:
    endpoint, sqs = moto_sqs
    main = sqs.create_queue(QueueName="p-main-queue")["QueueUrl"]
    high = sqs.create_queue(QueueName="p-high-queue")["QueueUrl"]
    for query in ({"priority": "high"}, {}):
        rendered, _ = submit(query, main=main, high=high)
        assert send_as_api_gateway(endpoint, rendered) == 200
    assert send_as_api_gateway(endpoint, submit({"priority": "bogus"}, main=main, high=high)[0]) >= 400

    def drain(url: str) -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MaxNumberOfMessages=10)
        return answer.get("Messages", [])

    (high_message,) = drain(high)
    (main_message,) = drain(main)
    assert high_message["Body"] == BODY and main_message["Body"] == BODY
    assert high_message["MessageAttributes"]["priority"]["StringValue"] == "high"
    assert main_message["MessageAttributes"]["priority"]["StringValue"] == "normal"


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fs.extract_handlers(tmp_path_factory.mktemp("lambda-task-root"))


@pytest.fixture
def handlers(
    code: Path, mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, ModuleType]]:
    modules = fs.import_handlers(code, monkeypatch, "job_processor", "status_checker")
    fs.create_table_and_bucket()
    monkeypatch.setenv("JOBS_TABLE_NAME", fs.TABLE)
    monkeypatch.setenv("RESULTS_BUCKET_NAME", fs.BUCKET)
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "3")
    yield modules
    fs.forget_handlers()


def test_processor_records_priority_and_status_shows_it(handlers: dict[str, ModuleType]) -> None:
    records = [
        fs.job_record("p-high", {"v": 1}, message_id="a", extra={"priority": "high"}),
        fs.job_record("p-normal", {"v": 2}, message_id="b", extra={"priority": "normal"}),
        fs.job_record("p-none", {"v": 3}, message_id="c"),  # the feature off: no attribute
        fs.job_record("p-odd", {"v": 4}, message_id="d", extra={"priority": "$weird"}),
    ]
    assert handlers["job_processor"].lambda_handler({"Records": records})["batchItemFailures"] == []
    for job_id, expected in [("p-high", "high"), ("p-normal", "normal"), ("p-none", None), ("p-odd", None)]:
        assert fs.item(job_id)["status"] == "completed"
        assert fs.item(job_id).get("priority") == expected
        event = fs.proxy_event("/status/{jobId}", f"/status/{job_id}", {"jobId": job_id})
        body = json.loads(handlers["status_checker"].lambda_handler(event, None)["body"])
        assert body.get("priority") == expected


def test_high_processor_spec_is_the_processor_with_reserved_concurrency() -> None:
    environment = {"JOBS_TABLE_NAME": "p-jobs", "RESULTS_BUCKET_NAME": "p-results", "MAX_RECEIVE_COUNT": "3"}
    spec = priorities.high_processor_function(TARGET, memory=512, timeout=300, environment=environment)
    assert spec["name"] == "p-high-processor" and spec["handler"] == "job_processor.lambda_handler"
    assert (
        spec["environment"] == environment
        and spec["reserved_concurrency"] == priorities.HIGH_RESERVED_CONCURRENCY
    )
    dlq, queue = priorities.queues(TARGET, visibility_timeout=1805, max_receive_count=3)
    assert (dlq["name"], queue["name"]) == ("p-high-dlq", "p-high-queue")
    assert json.loads(queue["attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:p-high-dlq",
        "maxReceiveCount": 3,
    }
    assert queue["attributes"]["VisibilityTimeout"] == "1805"
    assert queue["attributes"]["SqsManagedSseEnabled"] == "true"
