"""Secure defaults in the handlers: no AWS error text on the job, pre-signed results, the dead-letter
recorder.

The handlers are imported from the deployment zip, as Lambda loads them (fixtures of test_handlers).
"""

from __future__ import annotations

import importlib
import json
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest

from tests.test_handlers import (  # noqa: F401 - fixtures
    BUCKET,
    TABLE,
    handlers,
    item,
    lambda_code,
    process,
    record,
    status,
)

INBOX = "h-dead-letter-inbox"
DLQ = "h-dlq"


# --- Defect 9: raw AWS error text never reaches the job record or GET /status ----------------------


def test_aws_error_text_stays_in_the_log(
    handlers: dict[str, ModuleType],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # PutObject to a bucket that does not exist: an AWS error whose text names AWS resources.
    monkeypatch.setenv("RESULTS_BUCKET_NAME", "no-such-results-bucket")
    message = record("leak-1", {"v": 1})
    context = SimpleNamespace(aws_request_id="req-9f1")
    response = handlers["job_processor"].lambda_handler({"Records": [message]}, context)
    assert response["batchItemFailures"] == [{"itemIdentifier": message["messageId"]}]
    stored = item("leak-1")
    assert stored["status"] == "retrying"
    assert stored["error"] == "internal error (request id req-9f1)"
    code, _, body = status(handlers, "leak-1")
    assert code == 200 and body["error"] == "internal error (request id req-9f1)"
    assert "NoSuchBucket" not in json.dumps(body) and "no-such-results-bucket" not in json.dumps(body)
    log = capsys.readouterr().out
    error_line = next(json.loads(x) for x in log.splitlines() if '"job-error"' in x)
    assert "NoSuchBucket" in error_line["error"] and error_line["requestId"] == "req-9f1"


def test_the_jobs_own_error_is_kept_verbatim(handlers: dict[str, ModuleType]) -> None:  # noqa: F811
    message = record("own-1", {"fail": True, "failMessage": "input row 7 is empty"}, receive_count=3)
    assert process(handlers, message) == [message["messageId"]]
    assert item("own-1")["error"] == "JobFailed: input row 7 is empty"


# --- Results without AWS credentials: resultUrl ---------------------------------------------------


def test_completed_status_carries_a_presigned_https_url(handlers: dict[str, ModuleType]) -> None:  # noqa: F811
    process(handlers, record("url-1", {"k": "v"}))
    code, _, body = status(handlers, "url-1")
    assert code == 200 and body["status"] == "completed"
    url = urllib.parse.urlsplit(body["resultUrl"])
    query = dict(urllib.parse.parse_qsl(url.query))
    # AWS: SigV4 query-string authentication (S3 API Reference, "Authenticating Requests: Using Query
    # Parameters"): HTTPS, X-Amz-Algorithm AWS4-HMAC-SHA256, X-Amz-Expires in seconds.
    assert url.scheme == "https"
    assert url.path.endswith("results/url-1.json")
    assert BUCKET in url.netloc + url.path
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "900"
    assert "X-Amz-Signature" in query


def test_pending_and_failed_jobs_have_no_result_url(handlers: dict[str, ModuleType]) -> None:  # noqa: F811
    process(handlers, record("nourl", {"fail": True}))
    _, _, body = status(handlers, "nourl")
    assert body["status"] == "retrying" and "resultUrl" not in body
    # A record pointing anywhere but results/<its id>.json is never signed.
    boto3.resource("dynamodb").Table(TABLE).put_item(
        Item={"jobId": "odd", "status": "completed", "result": f"s3://{BUCKET}/results/other.json"}
    )
    _, _, body = status(handlers, "odd")
    assert "resultUrl" not in body


@pytest.fixture
def server_handlers(
    lambda_code: Path,  # noqa: F811
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, ModuleType]:
    """The handlers talking to a moto server on 127.0.0.1 through AWS_ENDPOINT_URL, as in the embedded AWS."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("JOBS_TABLE_NAME", TABLE)
    monkeypatch.setenv("RESULTS_BUCKET_NAME", BUCKET)
    monkeypatch.syspath_prepend(str(lambda_code))
    for name in ("job_processor", "status_checker", "jobwork"):
        sys.modules.pop(name, None)
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    yield {name: importlib.import_module(name) for name in ("job_processor", "status_checker")}
    for name in ("job_processor", "status_checker", "jobwork"):
        sys.modules.pop(name, None)


def test_result_url_fetches_the_result_from_the_endpoint_s3_without_credentials(
    server_handlers: dict[str, ModuleType], moto_server: str
) -> None:
    payload = {"text": "a&b ✓", "n": [1, 2.5]}
    process(server_handlers, record("srv-1", payload))
    _, _, body = status(server_handlers, "srv-1")
    assert body["resultUrl"].startswith(moto_server + "/")
    # A plain HTTP GET, no AWS credentials: the signature in the URL is the authorization.
    with urllib.request.urlopen(body["resultUrl"], timeout=10) as answer:
        document = json.loads(answer.read().decode("utf-8"))
    assert document["jobId"] == "srv-1" and document["result"]["input"] == payload


# --- Defect 11: the dead-letter recorder ----------------------------------------------------------


@pytest.fixture
def recorder(
    handlers: dict[str, ModuleType],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> SimpleNamespace:
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    inbox_url = sqs.create_queue(QueueName=INBOX)["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq_url)
    sys.modules.pop("dead_letter_recorder", None)
    module = importlib.import_module("dead_letter_recorder")
    yield SimpleNamespace(module=module, sqs=sqs, dlq_url=dlq_url, inbox_url=inbox_url, handlers=handlers)
    sys.modules.pop("dead_letter_recorder", None)


def inbox_record(job_id: str | None, payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    message = record(job_id, payload, **kwargs)
    message["eventSourceARN"] = f"arn:aws:sqs:us-east-1:123456789012:{INBOX}"
    message["attributes"]["DeadLetterQueueSourceArn"] = "arn:aws:sqs:us-east-1:123456789012:h-main-queue"
    return message


def kept_messages(rec: SimpleNamespace) -> list[dict[str, Any]]:
    # Peek without consuming (VisibilityTimeout 0), as `dlq list` does.
    answer = rec.sqs.receive_message(
        QueueUrl=rec.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    )
    return answer.get("Messages", [])


def run_recorder(rec: SimpleNamespace, *records: dict[str, Any]) -> list[str]:
    response = rec.module.lambda_handler({"Records": list(records)}, None)
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_a_job_that_never_ran_ends_failed_dead_lettered(recorder: SimpleNamespace) -> None:
    message = inbox_record("never-ran", {"x": "a&b ✓"})
    assert run_recorder(recorder, message) == []
    stored = item("never-ran")
    assert (stored["status"], stored["reason"]) == ("failed", "dead-lettered")
    assert stored["deadLetterMessageId"] == message["messageId"]
    assert stored["createdAt"] == "2025-11-27T11:00:00.000Z" and "completedAt" in stored
    code, headers, body = status(recorder.handlers, "never-ran")
    assert (code, body["status"], body["reason"]) == (200, "failed", "dead-lettered")
    assert "Retry-After" not in headers  # final: clients stop polling
    # The message is kept for inspection: same body and attributes, marked as recorded.
    (kept,) = kept_messages(recorder)
    assert kept["Body"] == message["body"]
    attributes = kept["MessageAttributes"]
    assert attributes["jobId"]["StringValue"] == "never-ran"
    assert attributes["submittedAt"] == {"StringValue": "1764241200000", "DataType": "Number"}
    assert attributes["deadLetterRecorded"]["StringValue"] == message["messageId"]
    assert attributes["deadLetterSourceArn"]["StringValue"].endswith(":h-main-queue")


def test_a_retrying_job_is_marked_and_a_finished_one_is_left_alone(recorder: SimpleNamespace) -> None:
    handlers_ = recorder.handlers
    process(handlers_, record("was-retrying", {"fail": True}))
    process(handlers_, record("was-done", {"ok": 1}))
    done_before = item("was-done")
    assert run_recorder(recorder, inbox_record("was-retrying"), inbox_record("was-done")) == []
    assert (item("was-retrying")["status"], item("was-retrying")["reason"]) == ("failed", "dead-lettered")
    assert item("was-done") == done_before  # conditional: a completed job stays completed
    assert len(kept_messages(recorder)) == 2


def test_poison_and_already_recorded_messages_are_kept_not_recorded(
    recorder: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    poison = inbox_record(None, body="not json at all")
    again = inbox_record("again-1", {"x": 1})
    again["messageAttributes"]["deadLetterRecorded"] = {"stringValue": "first-id", "dataType": "String"}
    assert run_recorder(recorder, poison, again) == []
    assert item("again-1") is None  # recorded on its first pass, not again
    kept = kept_messages(recorder)
    assert sorted(m["Body"] for m in kept) == sorted([poison["body"], again["body"]])
    marks = {m["MessageAttributes"].get("jobId", {}).get("StringValue"): m for m in kept}
    assert marks["again-1"]["MessageAttributes"]["deadLetterRecorded"]["StringValue"] == "first-id"
    assert any('"poison-dead-letter"' in line for line in capsys.readouterr().out.splitlines())


def test_the_recorder_never_forwards_into_the_queue_it_consumes(recorder: SimpleNamespace) -> None:
    looping = inbox_record("loop-1", {"x": 1})
    looping["eventSourceARN"] = f"arn:aws:sqs:us-east-1:123456789012:{DLQ}"
    assert run_recorder(recorder, looping) == [looping["messageId"]]
    assert kept_messages(recorder) == []


def test_a_failed_forward_is_retried_not_lost(
    recorder: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = recorder.dlq_url.rsplit("/", 1)[0] + "/no-such-queue"
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", gone)
    message = inbox_record("retry-me", {"x": 1})
    # Reported failed: the inbox redelivers it (and its redrive policy bounds that), never deletes it.
    assert run_recorder(recorder, message) == [message["messageId"]]


def test_through_real_queues_each_message_is_handled_once(recorder: SimpleNamespace) -> None:
    """The inbox as the event source mapping drives it: receive, invoke, delete what succeeded."""
    sqs = recorder.sqs
    sqs.send_message(
        QueueUrl=recorder.inbox_url,
        MessageBody=json.dumps({"p": 1}),
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": "e2e-1"}},
    )
    received = sqs.receive_message(
        QueueUrl=recorder.inbox_url, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    event_records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
                for k, v in m["MessageAttributes"].items()
            },
            "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{INBOX}",
        }
        for m in received
    ]
    failed = run_recorder(recorder, *event_records)
    for m, r in zip(received, event_records, strict=True):
        if r["messageId"] not in failed:
            sqs.delete_message(QueueUrl=recorder.inbox_url, ReceiptHandle=m["ReceiptHandle"])
    attributes = sqs.get_queue_attributes(QueueUrl=recorder.inbox_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert [json.loads(m["Body"]) for m in kept_messages(recorder)] == [{"p": 1}]
    assert item("e2e-1")["reason"] == "dead-lettered"


def test_a_dead_lettered_job_gets_its_one_webhook(
    recorder: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Webhooks with the dead-letter recorder: a job that ends failed by dead-lettering is final like
    # any other, so a job that asked for a callback gets its job.failed delivery, once, with the same
    # delivery id.
    webhooks_url = recorder.sqs.create_queue(QueueName="h-webhooks")["QueueUrl"]
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", webhooks_url)
    hooked = inbox_record("dl-hook", {"callbackUrl": "https://example.com/hook", "n": 1})
    plain = inbox_record("dl-plain", {"n": 2})
    assert run_recorder(recorder, hooked, plain) == []
    assert run_recorder(recorder, hooked) == []  # a redelivery to the recorder enqueues nothing more
    answer = recorder.sqs.receive_message(QueueUrl=webhooks_url, MaxNumberOfMessages=10)
    (delivery,) = answer.get("Messages", [])
    assert json.loads(delivery["Body"])["jobId"] == "dl-hook"
    assert item("dl-hook")["webhook"]["status"] == "pending"
    assert "webhook" not in item("dl-plain")
