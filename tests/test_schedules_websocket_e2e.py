"""Scheduling and websocket end to end on the embedded AWS, through the CLI: one stack with both
(`up --local --with scheduling,websocket`), shared by the cases; the last case runs `down` and checks
that nothing of the stack is left.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli.clients.watch import WebSocketClient
from asyncapi_cli.local import manager
from asyncapi_cli.resources.apigw_account import ROLE_NAME

from .conftest import run_cli

# Its tests share module-scoped fixtures that start servers: one pytest-xdist worker runs them all
# (`--dist loadgroup`), so the fixtures start once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_schedules_websocket_e2e")

NAME = "f11-e2e"


def wait_for(probe: Any, timeout: float = 30.0) -> Any:
    """Poll a condition (bounded); never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else None


class Stack:
    def __init__(self, home: Path) -> None:
        self.state = home / f"{NAME}.json"
        self.env = {
            "ASYNCAPI_HOME": str(home),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self.outputs: dict[str, Any] = {}
        self.endpoint = ""
        self.info: dict[str, Any] = {}

    def cli(self, *args: str, timeout: float = 300) -> Any:
        return run_cli(*args, "--state", str(self.state), env=self.env, timeout=timeout)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("f11-e2e-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASYNCAPI_HOME", str(home))  # manager.* here finds the same embedded AWS
        deployed = Stack(home)
        try:
            result = deployed.cli("up", "--local", "--name", NAME, "--with", "scheduling,websocket", "--json")
            assert result.returncode == 0, result.stderr
            deployed.outputs = json.loads(result.stdout)["outputs"]
            deployed.info = manager.running_info() or {}
            deployed.endpoint = deployed.info["endpoint"]
            yield deployed
        finally:
            if deployed.state.exists():
                deployed.cli("down", "--yes")
            manager.stop()


def test_up_outputs_the_websocket_url_of_the_embedded_aws(stack: Stack) -> None:
    info = stack.info
    api_id = stack.client("apigatewayv2").get_apis()["Items"][0]["ApiId"]
    assert stack.outputs["websocket_url"] == f"{info['websocket']}/{api_id}/prod"


def test_one_time_schedule_runs_once_within_a_second_of_its_time(stack: Stack) -> None:
    api = stack.outputs["api_url"]
    # A first call starts the schedules function (seconds, cold): the run time must not pass meanwhile.
    assert http("GET", f"{api}/schedules/warm-up")[0] == 404
    run_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
    status, created = http(
        "POST", f"{api}/schedules", {"job": {"n": 1}, "runAt": run_at.isoformat().replace("+00:00", "Z")}
    )
    assert status == 201, created
    schedule_id = created["scheduleId"]

    def finished() -> dict[str, Any] | None:
        _, described = http("GET", f"{api}/schedules/{schedule_id}")
        runs = described.get("runs") or []
        return described if runs and all(r.get("status") == "completed" for r in runs) else None

    described = wait_for(finished, timeout=30)
    (run,) = described["runs"]
    status, job = http("GET", f"{api}/status/{run['jobId']}")
    assert status == 200 and job["scheduleId"] == schedule_id
    created_at = datetime.fromisoformat(job["createdAt"].replace("Z", "+00:00"))
    assert timedelta(0) <= created_at - run_at < timedelta(seconds=1)
    # Done: EventBridge Scheduler deletes a one-time schedule after its run (ActionAfterCompletion DELETE).
    group = stack.client("scheduler").list_schedules(GroupName=f"{NAME}-schedules")["Schedules"]
    assert schedule_id not in {s["Name"] for s in group}
    assert described["runCount"] == 1 and described["nextRunAt"] is None


def test_rate_schedule_runs_n_times_then_stops_after_delete(stack: Stack) -> None:
    # rate(1 minute) runs at once and then every minute: two runs take a minute.
    result = stack.cli(
        "test-job",
        "--every",
        "rate(1 minute)",
        "--runs",
        "2",
        "--timeout",
        "100",
        "--payload",
        '{"r": 1}',
        "--json",
        timeout=150,
    )
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)["schedule"]
    schedule_id = described["scheduleId"]
    assert described["runCount"] == 2 and {r["status"] for r in described["runs"]} == {"completed"}
    # The CLI deleted it: gone from the group, deleted in the API, and no run started after.
    group = stack.client("scheduler").list_schedules(GroupName=f"{NAME}-schedules")["Schedules"]
    assert schedule_id not in {s["Name"] for s in group}
    status, after = http("GET", f"{stack.outputs['api_url']}/schedules/{schedule_id}")
    assert status == 200 and after["state"] == "deleted" and after["nextRunAt"] is None
    assert after["runCount"] == 2


def test_schedules_lists_the_group(stack: Stack) -> None:
    api = stack.outputs["api_url"]
    status, created = http(
        "POST",
        f"{api}/schedules",
        {"job": {"n": 2}, "expression": "cron(0 9 * * ? *)", "timezone": "Europe/Paris"},
    )
    assert status == 201
    result = stack.cli("schedules", "--json")
    assert result.returncode == 0, result.stderr
    listed = {s["scheduleId"]: s for s in json.loads(result.stdout)["schedules"]}
    assert listed[created["scheduleId"]]["expression"] == "cron(0 9 * * ? *)"
    assert listed[created["scheduleId"]]["timezone"] == "Europe/Paris"
    assert http("DELETE", f"{api}/schedules/{created['scheduleId']}")[0] == 204


def test_watch_sees_queued_processing_completed_over_the_websocket(stack: Stack) -> None:
    other = WebSocketClient(stack.outputs["websocket_url"])
    other.send_json({"action": "subscribe", "jobId": "someone-elses-job"})
    assert other.receive_json(timeout=20)["jobId"] == "someone-elses-job"
    result = stack.cli("test-job", "--watch", "--json", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["watch"] == "websocket"
    statuses = [h["status"] for h in document["job"]["history"]]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    assert (
        statuses in (["queued", "processing", "completed"], ["queued", "completed"])
        or "processing" in statuses
    )
    # The other client's next message answers its new request: nothing about the watched job came before.
    other.send_json({"action": "subscribe", "jobId": "someone-elses-job"})
    assert other.receive_json(timeout=20)["jobId"] == "someone-elses-job"
    other.close()


def test_a_stale_connection_is_cleaned_up(stack: Stack) -> None:
    ddb = stack.client("dynamodb")
    table = f"{NAME}-connections"
    gone = WebSocketClient(stack.outputs["websocket_url"])
    gone.send_json({"action": "subscribe", "jobId": "stale-job"})
    gone.receive_json(timeout=20)
    (connection_id,) = [
        item["connectionId"]["S"]
        for item in ddb.scan(TableName=table)["Items"]
        if "stale-job" in item.get("jobIds", {}).get("SS", [])
    ]
    gone.sock.close()  # dropped without a close frame: $disconnect may not run, as on AWS
    # The job changes: the pusher's PostToConnection answers GoneException and removes the connection.
    sqs = stack.client("sqs")
    sqs.send_message(
        QueueUrl=stack.outputs["main_queue_url"],
        MessageBody=json.dumps({"stale": True}),
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": "stale-job"}},
    )
    wait_for(
        lambda: "Item" not in ddb.get_item(TableName=table, Key={"connectionId": {"S": connection_id}}),
        timeout=30,
    )


def test_test_job_at_runs_the_job_once(stack: Stack) -> None:
    # +10s as the example: the schedules function's cold start under a loaded machine can take
    # seconds, and a runAt that has passed before the schedule exists never runs (EventBridge Scheduler).
    result = stack.cli("test-job", "--at", "+10s", "--payload", '{"once": true}', "--json", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)["schedule"]
    assert described["runCount"] == 1 and described["runs"][0]["status"] == "completed"
    assert described["job"] == {"once": True}


def test_websocket_off_then_watch_polls(stack: Stack) -> None:
    # --without: the recorded configuration keeps websocket on otherwise; --yes: its connections table
    # may hold items (a deletion of data is confirmed first).
    result = stack.cli("up", "--with", "scheduling", "--without", "websocket", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["websocket_url"] is None
    ddb = stack.client("dynamodb")
    assert f"{NAME}-connections" not in ddb.list_tables()["TableNames"]
    jobs = ddb.describe_table(TableName=f"{NAME}-jobs")["Table"]
    assert not (jobs.get("StreamSpecification") or {}).get("StreamEnabled")
    watched = stack.cli("test-job", "--watch", "--json", "--timeout", "60")
    assert watched.returncode == 0, watched.stderr
    document = json.loads(watched.stdout)
    assert document["watch"] == "polling" and document["final"]["status"] == "completed"


def test_down_leaves_nothing(stack: Stack) -> None:
    result = stack.cli("down", "--yes")
    assert result.returncode == 0, result.stderr
    assert stack.client("dynamodb").list_tables()["TableNames"] == []
    assert stack.client("apigatewayv2").get_apis()["Items"] == []
    assert stack.client("lambda").list_functions()["Functions"] == []
    assert stack.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    groups = stack.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    assert {g["Name"] for g in groups} <= {"default"}
    assert stack.client("scheduler").list_schedules()["Schedules"] == []
    # Only the account-level role API Gateway writes access logs with stays: `up` set it as the
    # account's cloudwatchRoleArn, an account-wide setting that `down` never undoes (other stacks may
    # rely on it; resources/apigw_account.py, secure_api.py).
    roles = {r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]}
    assert roles == {ROLE_NAME}
