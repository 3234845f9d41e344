"""Webhooks: the processor enqueues one delivery, the notifier signs, retries and records it.

Handlers run from the deployment zip against in-process moto; deliveries go to a real HTTP receiver
on 127.0.0.1. The SQS event source is played by the test: receive, hand the record to the notifier,
delete it on success, as Lambda's mapping does with ReportBatchItemFailures.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from asyncapi_cli import webhook_receiver
from asyncapi_cli.features import FeatureTarget, webhooks
from asyncapi_cli.names import StackNames
from tests import feature_support as fs
from tests.feature_support import Receiver

TARGET = FeatureTarget(StackNames("f"), "us-east-1", "123456789012")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with fs.serve_receiver() as state:
        yield state


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fs.extract_handlers(tmp_path_factory.mktemp("lambda-task-root"))


@dataclass
class Env:
    modules: dict[str, ModuleType]
    queue_url: str
    queue_arn: str
    dlq_url: str
    secret: str

    def deps(self, **overrides: Any) -> Any:
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            if service not in clients:
                clients[service] = boto3.client(service)
            return clients[service]

        return self.modules["webhook_notifier"].Deps(clients=client, **overrides)


@pytest.fixture
def env(code: Path, mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    modules = fs.import_handlers(
        code, monkeypatch, "job_processor", "status_checker", "webhook_notifier", "webhook_http"
    )
    fs.create_table_and_bucket()
    sqs = boto3.client("sqs")
    # The queues exactly as features/webhooks.py specifies them (redrive after MAX_ATTEMPTS receives).
    urls = {}
    for spec in webhooks.queues(TARGET):
        urls[spec["key"]] = sqs.create_queue(QueueName=spec["name"], Attributes=spec["attributes"])[
            "QueueUrl"
        ]
    secret = webhooks.generate_secret()
    arn = boto3.client("secretsmanager").create_secret(
        **webhooks.create_secret_request(TARGET, {"asyncapi:stack": "f"}, secret)
    )["ARN"]
    monkeypatch.setenv("JOBS_TABLE_NAME", fs.TABLE)
    monkeypatch.setenv("RESULTS_BUCKET_NAME", fs.BUCKET)
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "3")
    for name, value in webhooks.notifier_environment(
        TARGET, queue_url=urls["webhooks_queue"], secret_arn=arn, local=True
    ).items():
        if name not in ("JOBS_TABLE_NAME", "RESULTS_BUCKET_NAME"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("WEBHOOK_BACKOFF_SCALE", "0")  # redeliver at once; the backoff has its own tests
    yield Env(
        modules,
        urls["webhooks_queue"],
        TARGET.queue_arn(webhooks.queue_name(TARGET)),
        urls["webhooks_dlq"],
        secret,
    )
    fs.forget_handlers()


def verifier() -> Any:
    """The receiver's verification code (asyncapi_cli/webhook_receiver.py, the README's snippet), executed
    from its source as a reader would paste it: standard library only, nothing else in scope."""
    namespace: dict[str, Any] = {}
    exec(Path(webhook_receiver.__file__).read_text(), namespace)  # noqa: S102 - our own example
    return namespace["verify_delivery"]


def run_job(env: Env, job_id: str, payload: dict[str, Any], receive_count: int = 1) -> list[dict[str, str]]:
    record = fs.job_record(job_id, payload, receive_count=receive_count)
    return env.modules["job_processor"].lambda_handler({"Records": [record]})["batchItemFailures"]


def notify_once(env: Env, deps: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """One turn of the SQS mapping: receive, invoke, delete what succeeded."""
    message = fs.receive_one(env.queue_url)
    record = fs.lambda_record(message, env.queue_arn)
    failures = env.modules["webhook_notifier"].handle({"Records": [record]}, deps)["batchItemFailures"]
    if not failures:
        boto3.client("sqs").delete_message(QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return record, failures


def status_of(env: Env, job_id: str) -> dict[str, Any]:
    event = fs.proxy_event("/status/{jobId}", f"/status/{job_id}", {"jobId": job_id})
    return json.loads(env.modules["status_checker"].lambda_handler(event, None)["body"])


def test_fails_twice_then_accepts_one_signed_delivery_with_one_id(env: Env, receiver: Receiver) -> None:
    receiver.answers = [500, 503]
    assert run_job(env, "wh-1", {"callbackUrl": receiver.url, "v": 1}) == []
    # A redelivery of the finished job's message must not enqueue a second delivery.
    assert run_job(env, "wh-1", {"callbackUrl": receiver.url, "v": 1}, receive_count=2) == []
    assert fs.queue_depth(env.queue_url) == 1
    assert status_of(env, "wh-1")["webhook"] == {"status": "pending", "attempts": 0}

    deps = env.deps()
    for attempt in (1, 2, 3):
        record, failures = notify_once(env, deps)
        assert record["attributes"]["ApproximateReceiveCount"] == str(attempt)
        assert failures == ([] if attempt == 3 else [{"itemIdentifier": record["messageId"]}])
        assert len(receiver.requests) == attempt

    verify = verifier()
    seen: set[str] = set()
    ids = {r["headers"]["x-asyncapi-delivery"] for r in receiver.requests}
    assert len(ids) == 1  # the same delivery id on all three attempts
    assert [r["status"] for r in receiver.requests] == [500, 503, 200]  # exactly one accepted
    for request in receiver.requests:
        headers = request["headers"]
        assert request["path"] == "/hooks/jobs?tenant=a%26b"
        assert headers["content-type"] == "application/json"
        assert headers["x-asyncapi-event"] == "job.completed"
        assert verify(
            env.secret, headers, request["body"], seen=set(), now=int(headers["x-asyncapi-timestamp"])
        )
        assert not verify(
            "another-secret", headers, request["body"], seen=set(), now=int(headers["x-asyncapi-timestamp"])
        )
        assert not verify(
            env.secret, headers, request["body"] + b" ", seen=set(), now=int(headers["x-asyncapi-timestamp"])
        )
        # A replay outside the 5-minute tolerance is refused.
        assert not verify(
            env.secret, headers, request["body"], seen=set(), now=int(headers["x-asyncapi-timestamp"]) + 301
        )
        # Replayed under a new delivery id (to pass the seen-ids check), or with a fresh timestamp: the
        # signature covers both, so neither verifies.
        new_id = {**headers, "x-asyncapi-delivery": "00000000-0000-4000-8000-000000000000"}
        assert not verify(
            env.secret, new_id, request["body"], seen=set(), now=int(headers["x-asyncapi-timestamp"])
        )
        fresh = {**headers, "x-asyncapi-timestamp": str(int(headers["x-asyncapi-timestamp"]) + 3600)}
        assert not verify(
            env.secret, fresh, request["body"], seen=set(), now=int(fresh["x-asyncapi-timestamp"])
        )
    last = receiver.requests[-1]
    assert verify(
        env.secret, last["headers"], last["body"], seen=seen, now=int(last["headers"]["x-asyncapi-timestamp"])
    )
    # Dedupe by delivery id: the same delivery again is not processed twice.
    assert not verify(
        env.secret, last["headers"], last["body"], seen=seen, now=int(last["headers"]["x-asyncapi-timestamp"])
    )

    body = json.loads(last["body"])
    assert set(body) == {"jobId", "status", "completedAt", "resultUrl"}
    assert body["jobId"] == "wh-1" and body["status"] == "completed"
    assert body["completedAt"] == fs.item("wh-1")["completedAt"]
    result_url = urllib.parse.urlsplit(body["resultUrl"])
    assert result_url.path.endswith(f"/{fs.BUCKET}/results/wh-1.json") or (
        result_url.netloc.startswith(fs.BUCKET) and result_url.path == "/results/wh-1.json"
    )
    assert "X-Amz-Signature=" in result_url.query or "Signature=" in result_url.query

    assert status_of(env, "wh-1")["webhook"] == {"status": "delivered", "attempts": 3, "lastStatusCode": 200}
    assert fs.queue_depth(env.queue_url) == 0
    # A stray duplicate of the delivered message is skipped without a request.
    boto3.client("sqs").send_message(QueueUrl=env.queue_url, MessageBody=record["body"])
    _, failures = notify_once(env, deps)
    assert failures == [] and len(receiver.requests) == 3


def test_failed_job_announces_failure_with_its_error(env: Env, receiver: Receiver) -> None:
    payload = {"callbackUrl": receiver.url, "fail": True, "failMessage": "bad input <x>"}
    assert run_job(env, "wh-f", payload, receive_count=1) != []
    assert fs.queue_depth(env.queue_url) == 0  # retrying is not final: nothing to announce yet
    assert run_job(env, "wh-f", payload, receive_count=3) != []  # the last allowed receive: failed
    _, failures = notify_once(env, env.deps())
    assert failures == []
    (request,) = receiver.requests
    assert request["headers"]["x-asyncapi-event"] == "job.failed"
    body = json.loads(request["body"])
    assert set(body) == {"jobId", "status", "failedAt", "error"}
    assert body["status"] == "failed" and "bad input <x>" in body["error"]
    assert body["failedAt"] == fs.item("wh-f")["completedAt"]


def test_eight_failed_attempts_end_failed_and_dead_lettered(env: Env, receiver: Receiver) -> None:
    receiver.answers = [503] * 8
    run_job(env, "wh-8", {"callbackUrl": receiver.url})
    deps = env.deps()
    for attempt in range(1, 9):
        record, failures = notify_once(env, deps)
        assert failures and record["attributes"]["ApproximateReceiveCount"] == str(attempt)
        expected = "failed" if attempt == 8 else "pending"
        assert status_of(env, "wh-8")["webhook"] == {
            "status": expected,
            "attempts": attempt,
            "lastStatusCode": 503,
        }
    # SQS's redrive (maxReceiveCount 8, from features/webhooks.py) moves it on the next receive.
    answer = boto3.client("sqs").receive_message(QueueUrl=env.queue_url, WaitTimeSeconds=0)
    assert not answer.get("Messages")
    assert fs.queue_depth(env.dlq_url) == 1
    assert len(receiver.requests) == 8


def test_backoff_delays_the_next_attempt(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = env.modules["webhook_notifier"]
    # Full jitter: uniform(0, 60 s x 2^(n-1)); with the top of the range every time the caps add up to
    # 7,620 s over the 7 waits (about an hour on average), and a scale shrinks them.
    caps = [notifier.backoff_delay(n, uniform=lambda low, high: high) for n in range(1, 8)]
    assert caps == [60, 120, 240, 480, 960, 1920, 3840]
    assert notifier.backoff_delay(3, uniform=lambda low, high: 0.0) == 0
    local = float(webhooks.LOCAL_BACKOFF_SCALE)
    assert [notifier.backoff_delay(n, scale=local, uniform=lambda lo, hi: hi) for n in range(1, 8)] == [
        1,
        2,
        4,
        8,
        16,
        32,
        64,
    ]
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high / 2

    monkeypatch.setenv("WEBHOOK_BACKOFF_SCALE", "1")
    receiver.answers = [500]
    run_job(env, "wh-b", {"callbackUrl": receiver.url})
    _, failures = notify_once(env, env.deps(uniform=uniform))
    assert failures and drawn == [(0.0, 60.0)]
    # ChangeMessageVisibility(30 s) really happened: the message is not visible again yet.
    answer = boto3.client("sqs").receive_message(QueueUrl=env.queue_url, WaitTimeSeconds=0)
    assert not answer.get("Messages") and fs.queue_depth(env.queue_url) == 1


def test_redirect_is_not_followed_and_counts_as_failure(env: Env, receiver: Receiver) -> None:
    receiver.answers = [302]
    run_job(env, "wh-r", {"callbackUrl": receiver.url})
    _, failures = notify_once(env, env.deps())
    assert failures
    assert [r["path"] for r in receiver.requests] == ["/hooks/jobs?tenant=a%26b"]  # /elsewhere never asked
    assert status_of(env, "wh-r")["webhook"]["lastStatusCode"] == 302


def test_no_answer_within_the_timeout_is_a_failed_attempt(env: Env) -> None:
    http = env.modules["webhook_http"]
    silent = socket.socket()  # accepts connections (backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        run_job(env, "wh-t", {"callbackUrl": url})
        deps = env.deps(send=lambda target, body, headers: http.post(target, body, headers, timeout=0.3))
        _, failures = notify_once(env, deps)
    finally:
        silent.close()
    assert failures
    webhook = fs.item("wh-t")["webhook"]
    assert webhook["status"] == "pending" and webhook["lastError"] == "TimeoutError"


def test_refused_delivery_is_recorded_and_never_sent(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASYNCAPI_ALLOW_LOOPBACK_CALLBACKS")  # as on AWS
    port = urllib.parse.urlsplit(receiver.url).port
    run_job(env, "wh-s", {"callbackUrl": f"https://hooks.example.test:{port}/hook"})
    # The host resolves to the receiver on loopback: a DNS answer must not reach internal services.
    deps = env.deps(resolve=lambda host, port: ["127.0.0.1"])
    _, failures = notify_once(env, deps)
    assert failures == [] and receiver.requests == []
    webhook = fs.item("wh-s")["webhook"]
    assert webhook["status"] == "refused" and "loopback" in webhook["reason"]
    assert status_of(env, "wh-s")["webhook"] == {"status": "refused", "attempts": 1}


def test_connects_to_the_checked_address_with_the_original_host(env: Env, receiver: Receiver) -> None:
    port = urllib.parse.urlsplit(receiver.url).port
    run_job(env, "wh-d", {"callbackUrl": f"http://localhost:{port}/hook"})
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])  # a rebinding DNS: a second lookup would differ
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    _, failures = notify_once(env, env.deps(resolve=resolve))
    assert failures == [] and calls == ["localhost"]  # resolved once; that answer was used
    (request,) = receiver.requests
    assert request["headers"]["host"] == f"localhost:{port}"


def test_no_webhook_without_callback_or_with_the_feature_off(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_job(env, "wh-n", {"v": 1}) == []
    assert "webhook" not in fs.item("wh-n")
    monkeypatch.delenv("WEBHOOK_QUEUE_URL")
    assert run_job(env, "wh-o", {"callbackUrl": receiver.url}) == []
    assert "webhook" not in fs.item("wh-o")
    assert fs.queue_depth(env.queue_url) == 0


def test_secret_helpers_and_request_model(env: Env) -> None:
    import jsonschema

    client = boto3.client("secretsmanager")
    arn = client.list_secrets()["SecretList"][0]["ARN"]
    assert webhooks.read_secret(client, arn) == env.secret
    assert webhooks.read_secret(client, webhooks.secret_name(TARGET)) == env.secret
    assert re.fullmatch(r"[0-9a-f]{64}", env.secret)
    base = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}
    on_aws = webhooks.job_schema(base, local=False)
    local = webhooks.job_schema(base, local=True)
    jsonschema.validate({"callbackUrl": "https://hooks.example.com/x?y=1", "n": 1}, on_aws)
    jsonschema.validate({"callbackUrl": "http://127.0.0.1:8080/hook"}, local)
    jsonschema.validate({"callbackUrl": "http://localhost/hook"}, local)
    for bad, schema in [
        ({"callbackUrl": "http://127.0.0.1:8080/hook"}, on_aws),
        ({"callbackUrl": "http://example.com/hook"}, local),
        ({"callbackUrl": "http://127.0.0.1.evil.test/hook"}, local),
        ({"callbackUrl": 5}, on_aws),
        ({"callbackUrl": "https://" + "a" * 2041}, on_aws),
    ]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    policy = webhooks.notifier_policy(TARGET)
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert "*" not in resources and all(":f-" in r or "/f-" in r or "asyncapi/f/" in r for r in resources)
    assert arn.startswith(webhooks.secret_arn_pattern(TARGET)[: -len("??????")])


def test_enqueue_from_the_record_alone_for_other_writers(env: Env, receiver: Receiver) -> None:
    """The dead-letter recorder (or a table-stream consumer) announces a final job without its message."""
    from webhook_outbox import ensure_enqueued  # type: ignore[import-not-found]

    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    # A job the processor claimed (callbackUrl recorded), then failed by someone else.
    run_job(env, "wh-x", {"callbackUrl": receiver.url, "fail": True}, receive_count=1)
    assert fs.item("wh-x")["callbackUrl"] == receiver.url
    dynamodb.update_item(
        TableName=fs.TABLE,
        Key={"jobId": {"S": "wh-x"}},
        UpdateExpression="SET #s = :failed, completedAt = :t, #e = :e",
        ExpressionAttributeNames={"#s": "status", "#e": "error"},
        ExpressionAttributeValues={
            ":failed": {"S": "failed"},
            ":t": {"S": "2026-11-27T18:00:00.000Z"},
            ":e": {"S": "dead-lettered"},
        },
    )
    for _ in range(2):  # at least once, from any number of writers: one delivery
        assert ensure_enqueued(dynamodb, sqs, fs.TABLE, "wh-x")
    # A job dead-lettered before any claim: its record has no URL; the recorder passes the message's.
    dynamodb.put_item(
        TableName=fs.TABLE,
        Item={
            "jobId": {"S": "wh-y"},
            "status": {"S": "failed"},
            "completedAt": {"S": "2026-11-27T18:00:01.000Z"},
        },
    )
    assert ensure_enqueued(dynamodb, sqs, fs.TABLE, "wh-y")  # no URL known: nothing
    assert "webhook" not in fs.item("wh-y")
    assert ensure_enqueued(dynamodb, sqs, fs.TABLE, "wh-y", callback_url=receiver.url)
    assert fs.queue_depth(env.queue_url) == 2
    deps = env.deps()
    for _ in range(2):
        assert notify_once(env, deps)[1] == []
    bodies = sorted((json.loads(r["body"]) for r in receiver.requests), key=lambda b: b["jobId"])
    assert bodies == [
        {
            "jobId": "wh-x",
            "status": "failed",
            "failedAt": "2026-11-27T18:00:00.000Z",
            "error": "dead-lettered",
        },
        {"jobId": "wh-y", "status": "failed", "failedAt": "2026-11-27T18:00:01.000Z"},
    ]
