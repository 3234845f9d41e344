"""Priorities, batches and webhooks end to end on the embedded AWS, through the CLI: one stack with all three
features, shared by the cases (they use separate jobs and do not interfere), then `down`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import manager

from .conftest import run_cli
from .feature_support import serve_receiver

# Its tests share module-scoped fixtures that start servers: one pytest-xdist worker runs them all
# (`--dist loadgroup`), so the fixtures start once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_feature_e2e")

NAME = "feat-e2e"
# Slow normal jobs behind a normal processor held to two at a time (batch size 1, the mapping's
# MaximumConcurrency 2, its minimum): the backlog needs at least BACKLOG / 2 * SLOW_SECONDS to clear.
BACKLOG = 10
SLOW_SECONDS = 4
PRIORITY_CONFIG = "[processor]\nbatch_size = 1\nmax_concurrency = 2\n"


class Stack:
    def __init__(self, home: Path, name: str) -> None:
        self.name = name
        self.state = home / f"{name}.json"
        self.env = {
            "ASYNCAPI_HOME": str(home),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self.outputs: dict[str, Any] = {}
        self.info: dict[str, Any] = {}

    def cli(self, *args: str, timeout: float = 300) -> Any:
        return run_cli(*args, "--state", str(self.state), env=self.env, timeout=timeout)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.info["endpoint"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One embedded AWS for the module's stacks; stopped at the end."""
    path = tmp_path_factory.mktemp("feat-e2e-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASYNCAPI_HOME", str(path))  # manager.* in this process finds the same embedded AWS
        try:
            yield path
        finally:
            manager.stop()


def _deploy(home: Path, name: str, features: str, *extra: str) -> Iterator[Stack]:
    deployed = Stack(home, name)
    result = deployed.cli("up", "--local", "--name", name, "--with", features, *extra, "--json")
    assert result.returncode == 0, result.stderr
    deployed.outputs = json.loads(result.stdout)["outputs"]
    deployed.info = manager.running_info() or {}
    try:
        yield deployed
    finally:
        if deployed.state.exists():
            deployed.cli("down", "--yes")


@pytest.fixture(scope="module")
def stack(home: Path) -> Iterator[Stack]:
    """Webhooks and batches (they share the base /submit and the main queue without interfering)."""
    yield from _deploy(home, NAME, "webhooks,batches")


@pytest.fixture(scope="module")
def priority_stack(home: Path) -> Iterator[Stack]:
    config = home / "priorities.toml"
    config.write_text(PRIORITY_CONFIG)
    yield from _deploy(home, f"{NAME}-prio", "priorities", "--config", str(config))


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for(predicate: Any, timeout: float = 90.0, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_webhook_retried_twice_then_delivered_once_with_a_valid_signature(stack: Stack) -> None:
    secret_run = stack.cli("webhook-secret", "--json")
    assert secret_run.returncode == 0, secret_run.stderr
    secret = json.loads(secret_run.stdout)["secret"]
    with serve_receiver() as receiver:
        receiver.answers = [500, 503]  # then 200
        job = stack.cli("test-job", "--payload", json.dumps({"callbackUrl": receiver.url}), "--json")
        assert job.returncode == 0, job.stderr
        job_id = json.loads(job.stdout)["job"]["jobId"]
        status_url = f"{stack.outputs['api_url']}/status/{job_id}"

        def delivered() -> Any:
            code, body = http("GET", status_url)
            webhook = (body or {}).get("webhook") or {}
            return body if code == 200 and webhook.get("status") == "delivered" else None

        record = wait_for(delivered)
        assert record["webhook"] == {"status": "delivered", "attempts": 3, "lastStatusCode": 200}
        sqs = stack.client("sqs")
        queue_url = sqs.get_queue_url(QueueName=f"{NAME}-webhooks")["QueueUrl"]
        wait_for(lambda: _depth(sqs, queue_url) == 0)  # nothing left to deliver
        requests = list(receiver.requests)
    assert [r["status"] for r in requests] == [500, 503, 200]
    assert len({r["headers"]["x-asyncapi-delivery"] for r in requests}) == 1
    for request in requests:
        headers, body = request["headers"], request["body"]
        timestamp = headers["x-asyncapi-timestamp"]
        signed = f"{timestamp}.{headers['x-asyncapi-delivery']}.".encode() + body  # id and time signed too
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-asyncapi-signature"], f"sha256={expected}")
        assert abs(time.time() - int(timestamp)) < 300
        assert headers["x-asyncapi-event"] == "job.completed"
        assert headers["content-type"] == "application/json"
        document = json.loads(body)
        assert document["jobId"] == job_id and document["status"] == "completed"
        assert "completedAt" in document and "resultUrl" in document


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_high_priority_jobs_overtake_a_backlog_of_slow_normal_jobs(priority_stack: Stack) -> None:
    stack = priority_stack
    submit = f"{stack.outputs['api_url']}/submit"
    backlog = []
    for _ in range(BACKLOG):
        code, body = http("POST", submit, {"seconds": SLOW_SECONDS})
        assert code == 202 and body["priority"] == "normal", body
        backlog.append(body["jobId"])
    job = stack.cli("test-job", "--priority", "high", "--count", "2", "--concurrency", "2", "--json")
    assert job.returncode == 0, job.stderr
    assert json.loads(job.stdout)["completed"] == 2
    # Both high jobs are done while normal jobs submitted before them still wait in the backlog.
    statuses = [http("GET", f"{stack.outputs['api_url']}/status/{job_id}")[1] for job_id in backlog]
    finished = [s for s in statuses if s and s.get("status") == "completed"]
    assert len(finished) < BACKLOG, "the high-priority jobs waited behind the whole backlog"
    assert all(s.get("priority") in (None, "normal") for s in statuses if s)
    # An invalid priority is refused before anything is queued.
    code, body = http("POST", f"{submit}?priority=urgent", {"a": 1})
    assert code == 400, body
    wait_for(
        lambda: all(
            http("GET", f"{stack.outputs['api_url']}/status/{j}")[1].get("status") == "completed"
            for j in backlog
        ),
        timeout=120,
        interval=1.0,
    )


def test_a_batch_with_a_failing_item_ends_partial(stack: Stack) -> None:
    items = [{"n": 0}, {"n": 1, "fail": True, "failMessage": "item one fails"}, {"n": 2}]
    run = stack.cli("test-job", "--batch", "3", "--payload", json.dumps(items), "--json", "--timeout", "120")
    assert run.returncode == 1, run.stderr  # not every job completed
    batch = json.loads(run.stdout)["batch"]
    assert batch["status"] == "partial"
    assert (batch["total"], batch["completed"], batch["failed"]) == (3, 2, 1)
    by_id = {job["jobId"]: job["status"] for job in batch["jobs"]}
    assert by_id == {
        f"{batch['batchId']}-0": "completed",
        f"{batch['batchId']}-1": "failed",
        f"{batch['batchId']}-2": "completed",
    }
    code, item = http("GET", f"{stack.outputs['api_url']}/status/{batch['batchId']}-1")
    assert code == 200 and item["batchId"] == batch["batchId"] and item["status"] == "failed"
    code, _ = http("GET", f"{stack.outputs['api_url']}/batches/no-such-batch")
    assert code == 404


def test_down_leaves_nothing(stack: Stack) -> None:
    down = stack.cli("down", "--yes", "--json")
    assert down.returncode == 0, down.stderr
    mine = f"{NAME}-"  # the other stack of this module (feat-e2e-prio-...) has a longer prefix
    other = f"{NAME}-prio-"

    def ours(names: list[str]) -> list[str]:
        return [n for n in names if n.startswith(mine) and not n.startswith(other)]

    lam = stack.client("lambda")
    assert ours([u.rsplit("/", 1)[1] for u in stack.client("sqs").list_queues().get("QueueUrls", [])]) == []
    assert ours([f["FunctionName"] for f in lam.list_functions()["Functions"]]) == []
    assert (
        ours(
            [
                m["FunctionArn"].rsplit(":", 1)[1]
                for m in lam.list_event_source_mappings()["EventSourceMappings"]
            ]
        )
        == []
    )
    secrets = stack.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if s["Name"].startswith(f"asyncapi/{NAME}/")] == []
    assert ours([a["name"] + "-" for a in stack.client("apigateway").get_rest_apis()["items"]]) == []
    assert ours(stack.client("dynamodb").list_tables()["TableNames"]) == []
    assert ours([b["Name"] for b in stack.client("s3").list_buckets()["Buckets"]]) == []
    assert ours([r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]]) == []
    groups = stack.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{mine}")["logGroups"]
    assert [
        g["logGroupName"] for g in groups if not g["logGroupName"].startswith(f"/aws/lambda/{other}")
    ] == []
    assert not stack.state.exists()
