"""The Lambda handlers, imported from the deployment zip exactly as Lambda loads them, against moto."""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from asyncapi_cli.package import build_zip

TABLE = "h-jobs"
BUCKET = "h-results"
SPECIAL = {"text": "a&b+c%d=e?f#g \"quoted\" 'single' \\ back", "unicode": "naïve café ✓ 日本", "n": [1, 2.5]}


@pytest.fixture(scope="module")
def lambda_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambda-task-root")
    with zipfile.ZipFile(__import__("io").BytesIO(build_zip().zip_bytes)) as archive:
        archive.extractall(root)
    return root


@pytest.fixture
def handlers(lambda_code: Path, mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    monkeypatch.syspath_prepend(str(lambda_code))
    # job_errors knows its package root: the one of this module's zip, not another test module's.
    for name in ("job_processor", "status_checker", "jobwork", "job_errors"):
        sys.modules.pop(name, None)
    modules = {name: importlib.import_module(name) for name in ("job_processor", "status_checker")}
    for module in modules.values():
        assert Path(module.__file__).parent == lambda_code  # loaded from the zip's contents
    monkeypatch.setenv("JOBS_TABLE_NAME", TABLE)
    monkeypatch.setenv("RESULTS_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "3")
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    yield modules
    for name in ("job_processor", "status_checker", "jobwork", "job_errors"):
        sys.modules.pop(name, None)


def record(
    job_id: str | None,
    payload: Any = None,
    *,
    body: str | None = None,
    receive_count: int = 1,
    message_id: str | None = None,
) -> dict[str, Any]:
    """An SQS event record as Lambda delivers it for a message sent by the /submit integration."""
    attributes = {}
    if job_id is not None:
        attributes["jobId"] = {
            "stringValue": job_id,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    attributes["submittedAt"] = {
        "stringValue": "1764241200000",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Number",
    }
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body if body is not None else json.dumps(payload, ensure_ascii=False),
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1764241200500",
            "SenderId": "AIDA",
            "ApproximateFirstReceiveTimestamp": "1764241200600",
        },
        "messageAttributes": attributes,
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:h-main-queue",
        "awsRegion": "us-east-1",
    }


def item(job_id: str) -> dict[str, Any] | None:
    found = boto3.resource("dynamodb").Table(TABLE).get_item(Key={"jobId": job_id}, ConsistentRead=True)
    return found.get("Item")


def result_object(job_id: str) -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"results/{job_id}.json")["Body"].read()
    return json.loads(body.decode("utf-8"))


def process(handlers: dict[str, ModuleType], *records: dict[str, Any]) -> list[str]:
    response = handlers["job_processor"].lambda_handler({"Records": list(records)}, None)
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_success_records_timestamps_and_exact_result(handlers: dict[str, ModuleType]) -> None:
    assert process(handlers, record("job-1", SPECIAL)) == []
    stored = item("job-1")
    assert stored["status"] == "completed"
    assert stored["createdAt"] == "2025-11-27T11:00:00.000Z"  # from the submittedAt attribute
    for field in ("startedAt", "updatedAt", "completedAt"):
        assert stored[field].endswith("Z")
    assert stored["attempts"] == 1
    assert stored["result"] == f"s3://{BUCKET}/results/job-1.json"
    assert "error" not in stored
    document = result_object("job-1")
    assert document["jobId"] == "job-1"
    assert document["result"]["input"] == SPECIAL  # the payload survived untouched


def test_envelope_form_is_accepted(handlers: dict[str, ModuleType]) -> None:
    envelope = {"jobId": "env-1", "data": {"x": 1}, "submittedAt": 1764241200000}
    assert process(handlers, record(None, envelope)) == []
    assert item("env-1")["status"] == "completed"
    assert result_object("env-1")["result"]["input"] == {"x": 1}


def test_redelivery_of_completed_job_changes_nothing(handlers: dict[str, ModuleType]) -> None:
    process(handlers, record("job-2", {"v": 1}))
    before = item("job-2")
    before_result = result_object("job-2")
    # Same job id, a payload that would fail if the work ran again: it must not run.
    assert process(handlers, record("job-2", {"fail": True}, receive_count=2)) == []
    assert item("job-2") == before
    assert result_object("job-2") == before_result


def test_a_late_twin_of_a_job_that_failed_keeps_its_message_for_the_dlq(
    handlers: dict[str, ModuleType],
) -> None:
    """Attempt 2 ran past its visibility timeout; attempt 3 (the last) failed the job meanwhile. The
    late twin must not be acknowledged: that would delete the message SQS moves to the DLQ after
    maxReceiveCount receives (SQS Developer Guide, "Using dead-letter queues"), and `dlq redrive` with it."""
    message = str(uuid.uuid4())
    last = record("twin-1", {"fail": True}, receive_count=3, message_id=message)
    assert process(handlers, last) == [message]
    assert item("twin-1")["status"] == "failed"
    late = record("twin-1", {"fail": True}, receive_count=2, message_id=message)
    assert process(handlers, late) == [message]  # reported failed: not deleted
    assert item("twin-1")["status"] == "failed" and item("twin-1")["attempts"] == 3  # the record unchanged


def test_two_racing_deliveries_leave_one_consistent_record(handlers: dict[str, ModuleType]) -> None:
    start = threading.Barrier(2)
    outcomes: list[list[str]] = []

    def deliver(count: int) -> None:
        start.wait()
        outcomes.append(
            process(handlers, record("race-1", {"seconds": 0.2, "v": "same"}, receive_count=count))
        )

    threads = [threading.Thread(target=deliver, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [[], []]
    stored = item("race-1")
    assert stored["status"] == "completed" and "error" not in stored
    assert result_object("race-1")["result"]["input"] == {"seconds": 0.2, "v": "same"}
    objects = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="results/race-1")["KeyCount"]
    assert objects == 1


def test_failing_job_retries_then_fails_on_last_receive(handlers: dict[str, ModuleType]) -> None:
    payload = {"fail": True, "failMessage": "boom & bust"}
    for attempt in (1, 2):
        message = record("fail-1", payload, receive_count=attempt)
        assert process(handlers, message) == [message["messageId"]]
        stored = item("fail-1")
        assert stored["status"] == "retrying"
        assert stored["attempts"] == attempt
        assert stored["error"] == "JobFailed: boom & bust"
        assert "completedAt" not in stored
    last = record("fail-1", payload, receive_count=3)
    assert process(handlers, last) == [last["messageId"]]  # returned so that SQS moves it to the DLQ
    stored = item("fail-1")
    assert stored["status"] == "failed"
    assert stored["attempts"] == 3
    assert stored["error"] == "JobFailed: boom & bust"
    assert "completedAt" in stored
    # A fourth delivery (before redrive) does not resurrect it, nor delete the message on its way to the
    # DLQ: it is reported failed again, and the record stays as it is.
    fourth = record("fail-1", payload, receive_count=4)
    assert process(handlers, fourth) == [fourth["messageId"]]
    assert item("fail-1") == stored


def test_poison_messages_fail_alone_and_write_nothing(
    handlers: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    good = [record(f"ok-{i}", {"i": i}) for i in range(3)]
    not_json = record("poison-1", body="this is {not json")
    no_id = record(None, {"no": "id"})
    bad_id = record("../../etc/passwd", {"x": 1})
    empty = record("poison-2", body="")
    batch = [good[0], not_json, good[1], no_id, bad_id, empty, good[2]]
    failed = process(handlers, *batch)
    assert sorted(failed) == sorted(m["messageId"] for m in (not_json, no_id, bad_id, empty))
    for i in range(3):
        assert item(f"ok-{i}")["status"] == "completed"
    assert item("poison-1") is None and item("poison-2") is None and item("../../etc/passwd") is None
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    poison = [line for line in logs if line["event"] == "poison-message"]
    assert {line["messageId"] for line in poison} == set(failed)
    assert any("not JSON" in line["error"] and "Expecting value" in line["error"] for line in poison)


def test_batch_of_ten_with_one_failure(handlers: dict[str, ModuleType]) -> None:
    batch = [record(f"b-{i}", {"i": i, "fail": i == 6}) for i in range(10)]
    assert process(handlers, *batch) == [batch[6]["messageId"]]
    statuses = {i: item(f"b-{i}")["status"] for i in range(10)}
    assert statuses == {i: ("retrying" if i == 6 else "completed") for i in range(10)}


def test_batch_records_run_concurrently(handlers: dict[str, ModuleType]) -> None:
    batch = [record(f"slow-{i}", {"seconds": 0.4, "i": i}) for i in range(10)]
    assert process(handlers, *batch) == []
    starts = sorted(item(f"slow-{i}")["startedAt"] for i in range(10))
    first, last = (time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) for s in (starts[0], starts[-1]))
    # Sequential processing would start the last job >= 3.6 s after the first.
    assert last - first < 2


def test_structured_logs_carry_job_attempt_outcome(
    handlers: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    process(handlers, record("log-1", {"a": 1}, receive_count=2))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    completed = next(line for line in lines if line["event"] == "job-completed")
    assert completed["jobId"] == "log-1" and completed["attempt"] == 2 and completed["outcome"] == "completed"


def proxy_event(job_id: str | None) -> dict[str, Any]:
    return {
        "resource": "/status/{jobId}",
        "path": f"/status/{job_id}",
        "httpMethod": "GET",
        "headers": {},
        "pathParameters": None if job_id is None else {"jobId": job_id},
        "requestContext": {"requestId": "req-123", "stage": "prod"},
        "body": None,
        "isBase64Encoded": False,
    }


def status(handlers: dict[str, ModuleType], job_id: str | None) -> tuple[int, dict[str, str], dict[str, Any]]:
    response = handlers["status_checker"].lambda_handler(proxy_event(job_id), None)
    return response["statusCode"], response["headers"], json.loads(response["body"])


@pytest.mark.parametrize("bad", [None, "", "a b", "../x", "x" * 129, "id;drop", "ü"])
def test_status_rejects_malformed_ids(handlers: dict[str, ModuleType], bad: str | None) -> None:
    code, headers, body = status(handlers, bad)
    assert code == 400 and "Invalid job id" in body["message"]
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_status_unknown_job_is_404_not_queued(handlers: dict[str, ModuleType]) -> None:
    code, headers, body = status(handlers, "never-submitted")
    assert code == 404
    assert body["status"] == "unknown" and "not started yet" in body["message"]
    assert headers["Retry-After"] == "1"


def test_status_for_every_state(handlers: dict[str, ModuleType]) -> None:
    table = boto3.resource("dynamodb").Table(TABLE)
    table.put_item(
        Item={"jobId": "p", "status": "processing", "attempts": 1, "createdAt": "c", "startedAt": "s"}
    )
    table.put_item(Item={"jobId": "r", "status": "retrying", "attempts": 2, "error": "E: x"})
    table.put_item(Item={"jobId": "bare", "status": "processing"})  # missing attributes never raise
    process(handlers, record("done", {"k": "v"}))
    for attempt in (1, 2, 3):
        process(handlers, record("dead", {"fail": True}, receive_count=attempt))

    code, headers, body = status(handlers, "p")
    assert (code, body["status"], body["attempts"], headers["Retry-After"]) == (200, "processing", 1, "1")
    code, headers, body = status(handlers, "r")
    assert (body["status"], body["error"], headers["Retry-After"]) == ("retrying", "E: x", "1")
    code, headers, body = status(handlers, "bare")
    assert code == 200 and body == {"jobId": "bare", "status": "processing"}
    code, headers, body = status(handlers, "done")
    assert code == 200 and body["status"] == "completed" and "Retry-After" not in headers
    assert body["result"] == f"s3://{BUCKET}/results/done.json"
    assert {"createdAt", "startedAt", "updatedAt", "completedAt", "attempts"} <= set(body)
    code, headers, body = status(handlers, "dead")
    assert (body["status"], body["attempts"], body["error"]) == (
        "failed",
        3,
        "JobFailed: the job asked to fail",
    )


def test_status_500_leaks_nothing(
    handlers: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBS_TABLE_NAME", "no-such-table")
    code, _, body = status(handlers, "anything")
    assert code == 500
    assert body == {"message": "Internal server error", "requestId": "req-123"}
    assert "ResourceNotFound" in capsys.readouterr().out  # the detail is in the log only
