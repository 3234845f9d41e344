"""Batch jobs: one message, items run together, partial outcomes, reruns of failed items only.

The POST /batches request template is rendered with the embedded gateway's Velocity engine; its form
is sent with SendMessage to in-process moto and the received message goes to the processor from the
deployment zip, exactly as the SQS event source would hand it over.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import jsonschema
import pytest

from asyncapi_cli.api_definition import JOB_SCHEMA
from asyncapi_cli.features import FeatureTarget, batches
from asyncapi_cli.local.gateway.vtl import render
from asyncapi_cli.local.gateway.vtl_variables import InputVariable
from asyncapi_cli.names import StackNames
from asyncapi_cli.resources.routes import normalize_live_method
from tests import feature_support as fs

TARGET = FeatureTarget(StackNames("b"), "us-east-1", "123456789012")
EXTENDED_ID = "Ab+c/De=="
BATCH_ID = "Ab-c_De"


def context() -> dict[str, Any]:
    return {
        "requestId": "client-chosen",
        "extendedRequestId": EXTENDED_ID,
        "requestTimeEpoch": 1764241200000,
        "requestOverride": {"header": {}, "path": {}, "querystring": {}},
        "responseOverride": {"header": {}, "status": None},
    }


def render_batch(jobs: list[Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(the rendered SQS form, the 202 body) for a POST /batches of `jobs`, through one $context."""
    body = json.dumps({"jobs": jobs}, ensure_ascii=False)
    ctx = context()
    method = batches.post_method(TARGET, api_role_arn="arn:aws:iam::123456789012:role/r", validator="v")
    template = method["integration"]["requestTemplates"]["application/json"]
    rendered = render(template, input_variable=InputVariable(body), context=ctx)
    accepted = method["integrationResponses"]["202"]["responseTemplates"]["application/json"]
    # $input in an integration response is SQS's (XML) answer, not the request: the template may not use it.
    answer = render(accepted, input_variable=InputVariable("<SendMessageResponse/>"), context=ctx)
    return fs.form(rendered), {"body": json.loads(answer), "headers": ctx["responseOverride"]["header"]}


@pytest.mark.parametrize("count", [1, 3, 100])
def test_templates_send_one_message_and_answer_every_job_id(count: int) -> None:
    jobs = [{"n": n, "text": "a&b=c ✓"} for n in range(count)]
    fields, answer = render_batch(jobs)
    assert json.loads(fields["MessageBody"]) == {"jobs": jobs}
    attributes = fs.message_attributes(fields)
    assert attributes["kind"] == {"DataType": "String", "StringValue": "batch"}
    assert attributes["batchId"] == {"DataType": "String", "StringValue": BATCH_ID}
    assert "jobId" not in attributes
    assert answer["body"] == {
        "batchId": BATCH_ID,
        "jobIds": [f"{BATCH_ID}-{n}" for n in range(count)],
        "status": "queued",
        "statusUrl": f"batches/{BATCH_ID}",
    }
    assert answer["headers"] == {"Location": f"batches/{BATCH_ID}"}


def test_model_accepts_1_to_100_objects_only() -> None:
    schema = batches.batch_schema(JOB_SCHEMA)
    jsonschema.validate({"jobs": [{}]}, schema)
    jsonschema.validate({"jobs": [{"n": n} for n in range(100)]}, schema)
    for bad in [
        {"jobs": []},
        {"jobs": [{}] * 101},
        {"jobs": [{}, 5]},
        {"jobs": [[]]},
        {"jobs": {}},
        {},
        [],
        {"jobs": [{}], "extra": 1},
    ]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    get = batches.get_method(
        TARGET, status_function_arn="arn:aws:lambda:us-east-1:123456789012:function:b-status"
    )
    post = batches.post_method(TARGET, api_role_arn="r", validator="v")
    # routes.py's normalized shape, but for apiKeyRequired, which secure_api.secure_routes sets on
    # every method of the stack.
    shape = set(normalize_live_method({}, {})) - {"apiKeyRequired"}
    assert set(get) == shape == set(post)
    assert batches.invoke_permission_source_arn(TARGET, "abc") == (
        "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/batches/*"
    )


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
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "2")
    yield modules
    fs.forget_handlers()


def queued_batch(jobs: list[Any]) -> tuple[str, str]:
    """Render POST /batches, send the form with SendMessage (moto), return (queue url, queue arn)."""
    fields, _ = render_batch(jobs)
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="b-main-queue")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url, MessageBody=fields["MessageBody"], MessageAttributes=fs.message_attributes(fields)
    )
    return url, "arn:aws:sqs:us-east-1:123456789012:b-main-queue"


def deliver(handlers: dict[str, ModuleType], url: str, arn: str) -> list[dict[str, str]]:
    """One turn of the SQS mapping for the batch message; it comes back at once when reported failed."""
    message = fs.receive_one(url)
    record = fs.lambda_record(message, arn)
    failures = handlers["job_processor"].lambda_handler({"Records": [record]})["batchItemFailures"]
    sqs = boto3.client("sqs")
    if failures:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    else:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return failures


def get(handlers: dict[str, ModuleType], resource: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
    response = handlers["status_checker"].lambda_handler(fs.proxy_event(resource, path, params), None)
    return response["statusCode"], json.loads(response["body"])


def batch_status(handlers: dict[str, ModuleType], batch_id: str = BATCH_ID) -> tuple[int, Any]:
    return get(handlers, "/batches/{batchId}", f"/batches/{batch_id}", {"batchId": batch_id})


def test_failing_item_ends_partial_and_a_retry_reruns_only_it(handlers: dict[str, ModuleType]) -> None:
    jobs = [{"v": 0}, {"fail": True, "failMessage": "item 1 is bad"}, {"v": 2, "seconds": 0}]
    url, arn = queued_batch(jobs)
    assert batch_status(handlers)[0] == 404  # waiting in SQS: not known yet

    assert deliver(handlers, url, arn) != []  # item 1 failed: the batch message comes back
    code, view = batch_status(handlers)
    assert code == 200 and view["status"] == "processing"
    assert (view["total"], view["completed"], view["failed"]) == (3, 2, 0)
    assert view["jobs"] == [
        {"jobId": f"{BATCH_ID}-0", "status": "completed"},
        {"jobId": f"{BATCH_ID}-1", "status": "retrying"},
        {"jobId": f"{BATCH_ID}-2", "status": "completed"},
    ]
    assert "resultUrl" not in view
    before = {n: fs.item(f"{BATCH_ID}-{n}") for n in (0, 2)}
    results_before = {n: fs.s3_json(f"results/{BATCH_ID}-{n}.json") for n in (0, 2)}

    assert deliver(handlers, url, arn) == []  # the last allowed receive: the batch is final
    assert fs.queue_depth(url) == 0
    for n in (0, 2):  # not rerun: records and results untouched
        assert fs.item(f"{BATCH_ID}-{n}") == before[n]
        assert fs.s3_json(f"results/{BATCH_ID}-{n}.json") == results_before[n]
    failed = fs.item(f"{BATCH_ID}-1")
    assert failed["status"] == "failed" and failed["attempts"] == 2 and "item 1 is bad" in failed["error"]

    code, view = batch_status(handlers)
    assert code == 200 and view["status"] == "partial"
    assert (view["total"], view["completed"], view["failed"]) == (3, 2, 1)
    assert [job["status"] for job in view["jobs"]] == ["completed", "failed", "completed"]
    url_parts = urllib.parse.urlsplit(view["resultUrl"])
    assert url_parts.path.endswith(f"results/batches/{BATCH_ID}.json") and "Signature" in url_parts.query

    combined = fs.s3_json(f"results/batches/{BATCH_ID}.json")
    assert (combined["batchId"], combined["status"], combined["completed"], combined["failed"]) == (
        BATCH_ID,
        "partial",
        2,
        1,
    )
    assert combined["jobs"][0]["result"]["input"] == {"v": 0}
    assert combined["jobs"][2]["result"]["input"] == {"v": 2, "seconds": 0}
    assert combined["jobs"][1]["status"] == "failed" and "item 1 is bad" in combined["jobs"][1]["error"]
    assert "result" not in combined["jobs"][1]

    # Each item answers on GET /status/{jobId} with its batchId.
    code, job = get(handlers, "/status/{jobId}", f"/status/{BATCH_ID}-0", {"jobId": f"{BATCH_ID}-0"})
    assert code == 200 and job["batchId"] == BATCH_ID and job["status"] == "completed"
    # The batch record never surfaces as a job: its key is not a valid job id.
    code, _ = get(handlers, "/status/{jobId}", f"/status/batch#{BATCH_ID}", {"jobId": f"batch#{BATCH_ID}"})
    assert code == 400


def test_all_items_complete_in_one_delivery(handlers: dict[str, ModuleType]) -> None:
    url, arn = queued_batch([{"n": n} for n in range(12)])
    assert deliver(handlers, url, arn) == []
    code, view = batch_status(handlers)
    assert code == 200 and view["status"] == "completed" and view["completed"] == 12
    # A duplicate delivery of a finished batch changes nothing.
    record_before = fs.item(f"batch#{BATCH_ID}")
    boto3.client("sqs").send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"jobs": [{"n": n} for n in range(12)]}),
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "batch"},
            "batchId": {"DataType": "String", "StringValue": BATCH_ID},
        },
    )
    assert deliver(handlers, url, arn) == []
    assert fs.item(f"batch#{BATCH_ID}") == record_before


def test_every_item_failing_ends_failed(handlers: dict[str, ModuleType]) -> None:
    url, arn = queued_batch([{"fail": True}, {"fail": True}])
    assert deliver(handlers, url, arn) != []
    assert deliver(handlers, url, arn) == []
    code, view = batch_status(handlers)
    assert view["status"] == "failed" and view["failed"] == 2 and "resultUrl" in view


def test_poison_batch_writes_nothing_and_goes_back(handlers: dict[str, ModuleType]) -> None:
    bad = [
        {"body": "not json", "batchId": BATCH_ID},
        {"body": json.dumps({"jobs": []}), "batchId": BATCH_ID},
        {"body": json.dumps({"jobs": [{}]}), "batchId": "bad#id"},
    ]
    for n, case in enumerate(bad):
        record = fs.job_record("unused", {}, message_id=f"poison-{n}")
        record["body"] = case["body"]
        record["messageAttributes"] = {
            "kind": fs.attribute("batch"),
            "batchId": fs.attribute(case["batchId"]),
        }
        failures = handlers["job_processor"].lambda_handler({"Records": [record]})["batchItemFailures"]
        assert failures == [{"itemIdentifier": f"poison-{n}"}]
    assert boto3.client("dynamodb").scan(TableName=fs.TABLE)["Count"] == 0


def test_batch_status_answers_400_and_404(handlers: dict[str, ModuleType]) -> None:
    code, body = batch_status(handlers, "nope")
    assert code == 404 and body["status"] == "unknown"
    code, body = get(handlers, "/batches/{batchId}", "/batches/x", {"batchId": "a/b"})
    assert code == 400 and "Invalid batch id" in body["message"]


def test_processor_and_status_statements_are_scoped() -> None:
    for statements in (batches.processor_statements(TARGET), batches.status_statements(TARGET)):
        for statement in statements:
            for resource in statement["Resource"]:
                assert resource in (
                    "arn:aws:dynamodb:us-east-1:123456789012:table/b-jobs",
                    "arn:aws:s3:::b-results/results/*",
                    "arn:aws:s3:::b-results/results/batches/*",
                )


def test_accepted_answer_never_fails_once_the_batch_is_queued() -> None:
    """Without the item count (a gateway that drops $context.requestOverride) the 202 still renders."""
    method = batches.post_method(TARGET, api_role_arn="r", validator="v")
    accepted = method["integrationResponses"]["202"]["responseTemplates"]["application/json"]
    ctx = context()
    del ctx["requestOverride"]
    body = json.loads(render(accepted, input_variable=InputVariable("<SendMessageResponse/>"), context=ctx))
    assert body == {"batchId": BATCH_ID, "status": "queued", "statusUrl": f"batches/{BATCH_ID}"}
