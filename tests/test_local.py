"""The embedded local AWS, end to end through the real CLI: the deployed stack really runs."""

from __future__ import annotations

import json
import os
import signal
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

SPECIAL = {
    "text": "a&b+c%d=e?f#g \"quoted\" 'single' \\ back",
    "unicode": "naïve café ✓ 日本",
    "list": [1, 2.5],
}


@pytest.fixture
def local_stack() -> Iterator[dict[str, Any]]:
    result = run_cli("up", "--local", "--name", "local-stack", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    info = manager.running_info()
    assert info is not None
    yield {"report": report, "info": info, "outputs": report["outputs"]}
    manager.stop()


def client(service: str, info: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def post(
    url: str, body: bytes, content_type: str = "application/json", method: str = "POST"
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_job_round_trip_keeps_payload_exact(local_stack: dict[str, Any], tmp_path: Path) -> None:
    payload_file = tmp_path / "payload.json"
    payload_file.write_text(json.dumps(SPECIAL, ensure_ascii=False), encoding="utf-8")
    result = run_cli("test-job", "--payload", f"@{payload_file}", "--json", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    job = report["job"]
    assert job["status"] == "completed"
    assert [h["status"] for h in job["history"]][0] == "queued"
    assert job["history"][-1]["status"] == "completed"
    assert report["result"]["result"]["input"] == SPECIAL
    # Straight from S3, byte for byte the payload's JSON value.
    s3 = client("s3", local_stack["info"])
    body = s3.get_object(Bucket="local-stack-results", Key=f"results/{job['jobId']}.json")["Body"].read()
    assert json.loads(body.decode("utf-8"))["result"]["input"] == SPECIAL
    record = job["record"]
    assert record["attempts"] == 1 and record["result"].endswith(f"/results/{job['jobId']}.json")


def test_submit_answers_202_with_location(local_stack: dict[str, Any]) -> None:
    url = local_stack["outputs"]["submit_url"]
    request = urllib.request.Request(
        url, data=b'{"a": 1}', method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        location = response.headers["Location"]
        body = json.loads(response.read())
    assert body["status"] == "queued" and location == f"status/{body['jobId']}"


def test_failures_and_poison_reach_the_dlq_while_the_rest_completes(local_stack: dict[str, Any]) -> None:
    info, outputs = local_stack["info"], local_stack["outputs"]
    sqs = client("sqs", info)
    main_url, dlq_url = outputs["main_queue_url"], outputs["dlq_url"]
    # One burst: valid jobs, a poison message and a job without id land in the same batch window.
    entries = [
        {
            "Id": f"ok{i}",
            "MessageBody": json.dumps({"i": i}),
            "MessageAttributes": {"jobId": {"DataType": "String", "StringValue": f"direct-{i}"}},
        }
        for i in range(5)
    ]
    entries.append({"Id": "poison", "MessageBody": "{this is not json"})
    entries.append({"Id": "noid", "MessageBody": json.dumps({"orphan": True})})
    sent = sqs.send_message_batch(QueueUrl=main_url, Entries=entries)
    poison_ids = {s["MessageId"] for s in sent["Successful"] if s["Id"] in ("poison", "noid")}
    failing = run_cli(
        "test-job", "--payload", '{"fail": true, "failMessage": "nope"}', "--json", "--timeout", "90"
    )
    assert failing.returncode == 1, failing.stderr
    job = json.loads(failing.stdout)["job"]
    assert job["status"] == "failed"
    assert job["record"]["attempts"] == 3
    assert job["record"]["error"] == "JobFailed: nope"
    statuses = [h["status"] for h in job["history"]]
    assert "retrying" in statuses and statuses[-1] == "failed"

    table = client("dynamodb", info)
    for i in range(5):
        item = table.get_item(TableName="local-stack-jobs", Key={"jobId": {"S": f"direct-{i}"}})["Item"]
        assert item["status"]["S"] == "completed"

    # main queue -(3 receives)-> dead-letter inbox -> recorder -> DLQ: the recorder re-sends each message,
    # so a DLQ message is a new one that names the original in its deadLetterRecorded attribute.
    seen: dict[str, dict[str, Any]] = {}

    def original_id(message: dict[str, Any]) -> str | None:
        return message.get("MessageAttributes", {}).get("deadLetterRecorded", {}).get("StringValue")

    def job_of(message: dict[str, Any]) -> str | None:
        return message.get("MessageAttributes", {}).get("jobId", {}).get("StringValue")

    def dlq_messages() -> list[dict[str, Any]] | None:
        # Short polls sample servers: gather across polls until every expected message was seen.
        for message in sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", []):
            seen[message["MessageId"]] = message
        messages = list(seen.values())
        originals = {original_id(m) for m in messages}
        done = poison_ids <= originals and any(job_of(m) == job["jobId"] for m in messages)
        return messages if done else None

    in_dlq = wait_for(dlq_messages, timeout=60)
    by_job = {job_of(m): m for m in in_dlq}
    assert job["jobId"] in by_job
    # Each message was forwarded once, as a new message that names its original.
    assert all(original_id(m) and original_id(m) != m["MessageId"] for m in in_dlq)
    assert len({original_id(m) for m in in_dlq}) == len(in_dlq)
    # The original was dead-lettered after exactly maxReceiveCount (3) receives: the processor's 3
    # attempts (asserted above); the job keeps the processor's error (the recorder leaves a final job).
    item = table.get_item(TableName="local-stack-jobs", Key={"jobId": {"S": job["jobId"]}})["Item"]
    assert item["status"]["S"] == "failed" and item["error"]["S"] == "JobFailed: nope"
    assert wait_for(lambda: queue_depth(sqs, main_url) == 0, timeout=30)


def test_invalid_bodies_are_rejected_and_nothing_is_queued(local_stack: dict[str, Any]) -> None:
    info, outputs = local_stack["info"], local_stack["outputs"]
    lam, sqs = client("lambda", info), client("sqs", info)
    main_arn = sqs.get_queue_attributes(QueueUrl=outputs["main_queue_url"], AttributeNames=["QueueArn"])
    (mapping,) = lam.list_event_source_mappings(EventSourceArn=main_arn["Attributes"]["QueueArn"])[
        "EventSourceMappings"
    ]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)  # keep what is queued in place
    # Wait until the embedded AWS reports no poller left on the mapping (status.json, written every 2 s;
    # a stopped poller counts until its last receive has ended), so nothing more is received.
    status_file = Path(info["log"]).parent / "status.json"

    def unpolled() -> bool:
        try:
            mappings = json.loads(status_file.read_text()).get("mappings", {})
            written = json.loads(status_file.read_text()).get("at", 0)
        except (OSError, ValueError):
            return False
        return written > disabled_at and mappings.get(mapping["UUID"], {}).get("pollers", 0) == 0

    disabled_at = time.time()
    assert wait_for(unpolled, timeout=30)
    submit = outputs["submit_url"]
    assert post(submit, b"this is not json") == (400, {"message": "Invalid request body"})
    assert post(submit, b"[1, 2, 3]")[0] == 400
    assert post(submit, b'"a string"')[0] == 400
    assert post(submit, b"")[0] == 400
    assert post(submit, b'{"a": 1}', content_type="text/plain")[0] == 415
    assert queue_depth(sqs, outputs["main_queue_url"]) == 0
    assert post(submit, b'{"a": 1}')[0] == 202
    assert queue_depth(sqs, outputs["main_queue_url"]) == 1  # the check above could have seen a message


def test_unknown_routes_answer_like_api_gateway(local_stack: dict[str, Any]) -> None:
    base = local_stack["outputs"]["api_url"]
    assert post(f"{base}/nope", b"", method="GET") == (403, {"message": "Missing Authentication Token"})
    assert post(f"{base}/status", b"", method="GET")[0] == 403
    # AWS answers a known path with another method like an unknown path (LocalStack snapshot
    # test_apigateway_common.py::TestApigatewayRouting::test_routing_not_found "wrong-method").
    assert post(f"{base}/submit", b"", method="DELETE") == (403, {"message": "Missing Authentication Token"})
    assert post(f"{base}/status/a%20b", b"", method="GET")[0] == 400
    unknown = post(f"{base}/status/never-submitted", b"", method="GET")
    assert unknown[0] == 404 and unknown[1]["status"] == "unknown"


def test_test_job_times_out_with_exit_2(local_stack: dict[str, Any]) -> None:
    result = run_cli("test-job", "--payload", '{"seconds": 3}', "--timeout", "1")
    assert result.returncode == 2
    assert "after the timeout" in result.stderr and "Traceback" not in result.stderr


def test_many_jobs_report_throughput_and_latency(local_stack: dict[str, Any]) -> None:
    result = run_cli("test-job", "--count", "20", "--concurrency", "5", "--json", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["submitted"], report["completed"], report["failed"], report["errors"]) == (20, 20, 0, 0)
    latency = report["latency_seconds"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert report["throughput_per_second"] > 0
    # The local limits and what ran: warm environments of the processor, pollers of its mapping.
    status = wait_for(
        lambda: (s := json.loads(run_cli("local", "status", "--json").stdout)["limits"]).get("mappings") and s
    )
    assert status["accountConcurrencyLimit"] >= 1
    processor = next(f for name, f in status["functions"].items() if name.endswith("-job-processor"))
    assert processor["warm"] + processor["busy"] >= 1
    assert all(m["pollers"] >= 1 for m in status["mappings"].values())
    text = run_cli("local", "status").stdout
    assert "account concurrency limit" in text and "pollers" in text


def leftovers(info: dict[str, Any]) -> list[str]:
    left: list[str] = []
    left += client("sqs", info).list_queues().get("QueueUrls", [])
    left += [f["FunctionName"] for f in client("lambda", info).list_functions()["Functions"]]
    left += [m["UUID"] for m in client("lambda", info).list_event_source_mappings()["EventSourceMappings"]]
    left += [a["id"] for a in client("apigateway", info).get_rest_apis()["items"]]
    # The account's API Gateway CloudWatch role is an account-wide setting that `down` never undoes
    # (other APIs may log through it; see secure_api.py): the one thing expected to stay.
    kept = {"asyncapi-apigateway-cloudwatch-logs"}
    left += [r["RoleName"] for r in client("iam", info).list_roles()["Roles"] if r["RoleName"] not in kept]
    left += client("dynamodb", info).list_tables()["TableNames"]
    left += [b["Name"] for b in client("s3", info).list_buckets()["Buckets"]]
    left += [g["logGroupName"] for g in client("logs", info).describe_log_groups()["logGroups"]]
    return left


def running_in_group(pgid: int) -> list[str]:
    """Processes of the group that have not exited (Linux /proc: state is the field after the name)."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        state, _ppid, group = text[text.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state != "Z":
            running.append(text[: text.rindex(")") + 1])
    return running


def test_down_empties_the_embedded_aws_and_stop_leaves_no_process(local_stack: dict[str, Any]) -> None:
    info = local_stack["info"]
    assert run_cli("test-job", "--timeout", "60").returncode == 0  # warm Lambda workers exist now
    down = run_cli("down", "--yes")
    assert down.returncode == 0, down.stderr
    assert leftovers(info) == []
    assert not Path(".asyncapi/local-stack.json").exists()
    stop = run_cli("local", "stop")
    assert stop.returncode == 0 and "stopped" in stop.stdout
    # The server and every worker of its process group have exited (a zombie left for init to reap
    # has exited too: the container's init may take seconds to get to it).
    assert running_in_group(info["pid"]) == []
    assert manager.running_info() is None
    assert run_cli("local", "status").stdout.strip() == "not running"


def test_down_after_the_embedded_aws_stopped_forgets_the_stack(local_stack: dict[str, Any]) -> None:
    manager.stop()
    result = run_cli("down", "--yes")
    assert result.returncode == 0, result.stderr
    assert "went with it" in result.stdout
    assert not Path(".asyncapi/local-stack.json").exists()


def test_up_local_restarts_a_stopped_embedded_aws_and_redeploys(local_stack: dict[str, Any]) -> None:
    os.killpg(local_stack["info"]["pid"], signal.SIGKILL)
    wait_for(lambda: manager.running_info() is None, timeout=10)
    result = run_cli("up", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {r["action"] for r in report["resources"]} == {"created"}
    assert run_cli("test-job", "--timeout", "60").returncode == 0


def test_demo_runs_the_whole_lifecycle() -> None:
    # Cold, as a user runs it: a new interpreter for the CLI, which starts the embedded AWS as one too
    # (manager.launch_server_process; the other tests' CLI runs fork it from a warm zygote).
    result = run_cli("demo", "--json", timeout=240, fresh=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["successful job"]["exact_result"] is True
    assert steps["failing job"]["status"] == "failed" and steps["failing job"]["attempts"] == 3
    assert steps["failing job"]["in_dlq"] is True
    # Submitted, retried at the processor's backoff (2 s, then 4 s), failed, in the DLQ: within 20 s.
    assert steps["failing job"]["seconds"] <= 20
    assert "down" in steps
    assert manager.running_info() is None  # the demo stops what it started
