"""The stack-level secure defaults, end to end on the embedded AWS (its gateway enforces API
Gateway's behaviour; each case cites the AWS source for what it asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import manager
from asyncapi_cli.state import default_state_path

from .conftest import run_cli

NAME = "sec-stack"
ORIGIN = "https://app.example"


def call(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, answer_headers = response.read(), response.status, dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        raw, status, answer_headers = exc.read(), exc.code, dict(exc.headers.items())
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode()
    return status, parsed, {k.lower(): v for k, v in answer_headers.items()}


def wait_for(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)  # polling a condition, bounded by the deadline
    raise AssertionError("condition not met in time")


def client(service: str, info: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def secure_stack() -> Iterator[dict[str, Any]]:
    result = run_cli("up", "--local", "--name", NAME, "--auth", "api-key", "--cors-origin", ORIGIN, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    info = manager.running_info()
    assert info is not None
    key = run_cli("api-key", "--json")
    assert key.returncode == 0, key.stderr
    yield {"outputs": report["outputs"], "info": info, "key": json.loads(key.stdout)["apiKey"]}
    manager.stop()


def _final(url: str, key: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        status, body, _ = call("GET", url, headers={"x-api-key": key})
        return body if status == 200 and body.get("status") in ("completed", "failed") else None

    return dict(wait_for(done))


def test_secure_stack_end_to_end(secure_stack: dict[str, Any]) -> None:
    outputs, key, info = secure_stack["outputs"], secure_stack["key"], secure_stack["info"]
    submit, api = outputs["submit_url"], outputs["api_url"]
    state = json.loads(default_state_path(NAME).read_text())
    # The key's value is never written to the state file (only its id).
    assert key not in json.dumps(state) and state["resources"]["api_key"]["id"]

    # --- API keys: AWS docs "Choose an API key source" / LocalStack snapshot
    # test_api_key_required_for_methods: no key or a wrong key -> 403 {"message": "Forbidden"}.
    status, body, headers = call("POST", submit, {"n": 1})
    assert (status, body) == (403, {"message": "Forbidden"})
    # CORS on API Gateway's own errors: the DEFAULT_4XX gateway response carries the origin.
    assert headers.get("access-control-allow-origin") == ORIGIN
    assert call("POST", submit, {"n": 1}, {"x-api-key": "not-the-key-0123456789"})[0] == 403

    # --- Unforgeable job ids: AWS docs "$context variables for data models,
    # authorizers, mapping templates, and access logging": requestId "Clients can override this
    # request ID" with X-Amzn-RequestId; extendedRequestId cannot be set by a client.
    status, first, headers = call("POST", submit, {"n": 1}, {"x-api-key": key})
    assert status == 202, first
    assert headers.get("access-control-allow-origin") == ORIGIN  # static integration response header
    forged = {"x-api-key": key, "X-Amzn-RequestId": first["jobId"]}
    status, second, _ = call("POST", submit, {"n": 2}, forged)
    assert status == 202
    assert second["jobId"] != first["jobId"]
    one = _final(f"{api}/status/{first['jobId']}", key)
    two = _final(f"{api}/status/{second['jobId']}", key)
    assert (one["status"], two["status"]) == ("completed", "completed")
    # Each job has its own result, fetched with the presigned resultUrl (no AWS credentials).
    for record, sent in ((one, {"n": 1}), (two, {"n": 2})):
        with urllib.request.urlopen(record["resultUrl"], timeout=30) as response:
            document = json.loads(response.read())
        assert document["jobId"] == record["jobId"] and document["result"]["input"] == sent

    # --- CORS preflight: a MOCK integration answers OPTIONS with the Access-Control-Allow-* headers
    # (AWS docs "Enable CORS for a REST API resource"), without an API key.
    status, _, headers = call("OPTIONS", submit, headers={"Origin": ORIGIN})
    assert status == 200
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-methods"] == "POST,OPTIONS"
    assert "x-api-key" in headers["access-control-allow-headers"]
    assert headers["access-control-max-age"] == "600"
    # The status Lambda echoes an allowed Origin only.
    status_url = f"{api}/status/{first['jobId']}"
    _, _, allowed = call("GET", status_url, headers={"x-api-key": key, "Origin": ORIGIN})
    _, _, other = call("GET", status_url, headers={"x-api-key": key, "Origin": "https://evil.example"})
    assert allowed["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in other

    # --- test-job sends the key by itself.
    assert run_cli("test-job", "--timeout", "60").returncode == 0

    # --- The curl line `up` prints works as printed: its x-api-key header takes the key from
    # `asyncapi api-key` when it runs, and the key itself is never printed.
    again = run_cli("up", "--local", "--name", NAME, "--auth", "api-key", "--cors-origin", ORIGIN)
    assert again.returncode == 0, again.stderr
    (curl,) = [line.strip() for line in again.stdout.splitlines() if line.strip().startswith("curl ")]
    assert f'-H "x-api-key: $(asyncapi api-key --name {NAME})"' in curl and key not in again.stdout
    shell = f'asyncapi() {{ "{sys.executable}" -m asyncapi_cli "$@"; }}\n{curl}'
    answer = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0 and answer.stdout.startswith("HTTP/1.1 202"), answer.stdout + answer.stderr

    # --- Dead-lettered: a poison message with a job id fails 3 receives (the
    # processor reports it failed without a record) and is dead-lettered; the recorder marks the job
    # failed/dead-lettered and the message stays in the DLQ for inspection.
    sqs = client("sqs", info)
    sqs.send_message(
        QueueUrl=outputs["main_queue_url"],
        MessageBody="not json {",
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": "poison-job-1"}},
    )
    record = _final(f"{api}/status/poison-job-1", key)
    assert (record["status"], record["reason"]) == ("failed", "dead-lettered")

    def in_dlq() -> bool:
        messages = sqs.receive_message(
            QueueUrl=outputs["dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        ).get("Messages", [])
        return any(m["Body"] == "not json {" for m in messages)

    assert wait_for(in_dlq, timeout=30)

    # --- Access logs: JSON lines in /aws/apigateway/<name>-access (AWS docs "Set up CloudWatch logging
    # for REST APIs in API Gateway"), one per request, with the forged request id visible as such.
    logs = client("logs", info)

    def lines() -> list[dict[str, Any]]:
        events = logs.filter_log_events(logGroupName=f"/aws/apigateway/{NAME}-access").get("events", [])
        return [json.loads(e["message"]) for e in events]

    found = wait_for(lambda: [line for line in lines() if line["requestId"] == first["jobId"]])
    assert {"extendedRequestId", "ip", "httpMethod", "resourcePath", "status"} <= set(found[0])
    assert key not in json.dumps(lines())

    # --- Throttling: a tiny configured burst answers 429 beyond it (AWS docs "Throttle requests to your
    # REST APIs": token bucket; 429 Too Many Requests). A second `up` converges the stage's settings.
    again = run_cli(
        "up", "--auth", "api-key", "--cors-origin", ORIGIN, "--throttle-rate", "1", "--throttle-burst", "2"
    )
    assert again.returncode == 0, again.stderr
    stage = client("apigateway", info).get_stage(
        restApiId=state["resources"]["rest_api"]["id"], stageName="prod"
    )
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 2
    # Eight requests at once against a bucket of 2 refilled at 1/s: most are refused, none queued.
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: call("GET", status_url, headers={"x-api-key": key})[0], range(8)))
    assert set(codes) <= {200, 429} and codes.count(429) >= 4, codes
