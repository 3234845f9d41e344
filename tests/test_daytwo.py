"""Day two on the embedded AWS, through the real CLI: jobs, dead letters, redrive, logs, live status.

A job that fails until a flag exists (jobwork's "failUntilFlag") plays the user's bug: it fails three
times, lands in the DLQ, the user "fixes" it (puts the flag), redrives, and the job completes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from asyncapi_cli.local import manager

from .conftest import run_cli
from .test_local import client, wait_for

MARKUP_FLAG = "fix-[/]-[bold]me[/bold]"  # a job error containing markup must print as written


@pytest.fixture
def stack() -> Iterator[dict[str, Any]]:
    result = run_cli("up", "--local", "--name", "day-two", "--json")
    assert result.returncode == 0, result.stderr
    info = manager.running_info()
    assert info is not None
    yield {"info": info, "outputs": json.loads(result.stdout)["outputs"]}
    manager.stop()


def cli_json(*args: str) -> dict[str, Any]:
    result = run_cli(*args, "--json")
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def job_status(job_id: str) -> str:
    return str(cli_json("jobs", "show", job_id)["record"]["status"])


def fail_until_fixed(flag: str) -> str:
    """Submit through test-job; it ends failed (exit 1, never 70) after three receives."""
    payload = json.dumps({"task": "needs-a-fix", "failUntilFlag": flag})
    result = run_cli("test-job", "--payload", payload, "--timeout", "90")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "unexpected" not in result.stderr
    # Plain output (not a terminal): the error is shown exactly, brackets and all.
    assert f"JobFailed: waiting for flag {flag}: not set yet" in result.stdout
    return next(line.split()[-1] for line in result.stdout.splitlines() if line.strip().startswith("job "))


def set_flag(info: dict[str, Any], flag: str) -> None:
    client("dynamodb", info).put_item(
        TableName="day-two-jobs", Item={"jobId": {"S": flag}, "kind": {"S": "flag"}}
    )


def test_failed_job_found_listed_redriven_and_completed(stack: dict[str, Any]) -> None:
    job_id = fail_until_fixed(MARKUP_FLAG)

    failed = cli_json("jobs", "--status", "failed")["jobs"]
    assert [j["jobId"] for j in failed] == [job_id]
    assert failed[0]["attempts"] == 3 and "waiting for flag" in failed[0]["error"]
    shown = cli_json("jobs", "show", job_id)
    assert shown["error"] == f"JobFailed: waiting for flag {MARKUP_FLAG}: not set yet"
    assert shown["result"] is None

    # SQS moves the message to the inbox right after the third receive, the recorder forwards it to the
    # DLQ: wait for it to be there.
    def listed() -> list[dict[str, Any]]:
        rows = cli_json("dlq", "list")["messages"]
        return [r for r in rows if r["jobId"] == job_id]

    (row,) = wait_for(listed, timeout=30)
    assert row["error"] == shown["error"] and row["status"] == "failed"
    # The DLQ holds the recorder's forwarded copy (main queue -> inbox -> recorder -> DLQ): a new message,
    # received only by listings, that names the original; the three attempts are asserted above.
    assert row["originalMessageId"] and row["originalMessageId"] != row["messageId"]
    assert row["receiveCount"] >= 1 and row["sentAt"].endswith("Z")
    # Listing consumed nothing: listed again, still there.
    assert listed()

    set_flag(stack["info"], MARKUP_FLAG)  # the user fixes the cause
    redriven = cli_json("dlq", "redrive", "--job", job_id)
    assert redriven["recordRequeued"] is True and redriven["messages"] == 1
    assert wait_for(lambda: job_status(job_id) == "completed", timeout=60)
    assert listed() == []
    done = cli_json("jobs", "show", job_id)
    assert done["result"]["result"]["input"]["failUntilFlag"] == MARKUP_FLAG
    assert "error" not in done["record"] or done["record"]["status"] == "completed"

    # logs --job: that job's lines only (needs the embedded AWS to ship function output to CloudWatch Logs).
    def job_lines() -> list[dict[str, Any]] | None:
        events = cli_json("logs", "processor", "--job", job_id, "--since", "10m")["events"]
        return events if any(e["message"].startswith("job-completed") for e in events) else None

    events = wait_for(job_lines, timeout=30)
    assert {e["jobId"] for e in events} == {job_id}
    assert sum(e["message"].startswith("job-error") for e in events) == 3
    assert all(e["level"] in ("INFO", "ERROR") and e["time"].endswith("Z") for e in events)
    plain = run_cli("logs", "--job", job_id)
    assert plain.returncode == 0 and job_id in plain.stdout and "job-completed" in plain.stdout


def test_redrive_all_uses_a_message_move_task(stack: dict[str, Any]) -> None:
    # Needs SQS StartMessageMoveTask on the embedded AWS (moto has none of its own).
    first = fail_until_fixed("fix-all")
    assert wait_for(lambda: cli_json("dlq", "list")["messages"], timeout=30)
    set_flag(stack["info"], "fix-all")
    moved = cli_json("dlq", "redrive", "--all")  # StartMessageMoveTask to the main queue
    assert moved["moved"] == 1 and moved["jobs"] == [first] and moved["recordsRequeued"] == [first]
    assert wait_for(lambda: job_status(first) == "completed", timeout=60)
    assert cli_json("dlq", "list")["messages"] == []


def test_dlq_list_shows_poison_messages_and_purge_empties_it(stack: dict[str, Any]) -> None:
    sqs = client("sqs", stack["info"])
    dlq_url = stack["outputs"]["dlq_url"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody="{not json")
    sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody="{}",
        MessageAttributes={"jobId": {"DataType": "String", "StringValue": "never-recorded"}},
    )
    rows = cli_json("dlq", "list")["messages"]
    assert sorted(str(r["jobId"]) for r in rows) == ["None", "never-recorded"]
    poison = next(r for r in rows if r["jobId"] is None)
    assert poison["error"] == "poison message: no job id" and poison["receiveCount"] == 1
    assert len(cli_json("dlq", "list")["messages"]) == 2  # listing consumed nothing
    one_line = run_cli("dlq", "purge")
    assert one_line.returncode == 2 and "pass --yes" in one_line.stderr  # not interactive
    cli_json("dlq", "purge", "--yes")
    assert wait_for(lambda: cli_json("status")["live"]["dlq"]["visible"] == 0, timeout=70)


def test_status_live_figures_on_the_embedded_aws(stack: dict[str, Any]) -> None:
    lam = client("lambda", stack["info"])
    main_arn = client("sqs", stack["info"]).get_queue_attributes(
        QueueUrl=stack["outputs"]["main_queue_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    (mapping,) = lam.list_event_source_mappings(EventSourceArn=main_arn)["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled", timeout=10)
    # Nothing consumes the DLQ, so its figures are exact: a message sent there is visible at once.
    # (The main queue's pollers stop a moment after a disable, as on AWS, so it would be a race.)
    sqs = client("sqs", stack["info"])
    sqs.send_message(QueueUrl=stack["outputs"]["dlq_url"], MessageBody="{}")
    report = cli_json("status")
    live = report["live"]
    assert live["mapping_state"] == "Disabled" and live["dlq"]["visible"] >= 1
    assert live["oldest_message_age_seconds"] is None and "embedded AWS" in live["oldest_message_age_note"]
    drifted = run_cli("status", "--exit-code")
    assert drifted.returncode == 5
    assert "Enabled: False -> True" in drifted.stdout or "State" in drifted.stdout


def test_count_during_down_counts_what_happened(stack: dict[str, Any]) -> None:
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asyncapi_cli",
            "test-job",
            "--count",
            "40",
            "--concurrency",
            "2",
            "--payload",
            '{"seconds": 0.5}',
            "--timeout",
            "30",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    table = client("dynamodb", stack["info"])
    wait_for(lambda: table.scan(TableName="day-two-jobs", Select="COUNT")["Count"] >= 4, timeout=60)
    assert run_cli("down", "--yes").returncode == 0
    stdout, stderr = runner.communicate(timeout=120)
    report = json.loads(stdout)
    assert runner.returncode == 3, stderr
    assert report["requested"] == 40
    assert report["submitted"] == len(report["job_ids"]) >= 4
    assert report["submitted"] < 40 and report["refused"] + report["errors"] >= 1
    assert report["submitted"] + report["refused"] + report["errors"] == 40


def test_ctrl_c_in_count_prints_the_partial_report(stack: dict[str, Any]) -> None:
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asyncapi_cli",
            "test-job",
            "--count",
            "50",
            "--concurrency",
            "2",
            "--payload",
            '{"seconds": 1}',
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    table = client("dynamodb", stack["info"])
    wait_for(lambda: table.scan(TableName="day-two-jobs", Select="COUNT")["Count"] >= 2, timeout=60)
    runner.send_signal(signal.SIGINT)
    stdout, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 130
    report = json.loads(stdout)
    assert report["interrupted"] is True and 2 <= report["submitted"] < 50
    assert "jobs already submitted keep running" in stderr
    assert "everything created so far" not in stderr


def test_restarted_embedded_aws_says_to_run_up(stack: dict[str, Any]) -> None:
    assert run_cli("local", "stop").returncode == 0
    assert run_cli("local", "start").returncode == 0
    for command in (["test-job"], ["jobs"], ["dlq", "list"]):
        result = run_cli(*command)
        assert result.returncode == 2, result.stderr
        assert "not deployed on the running embedded AWS" in result.stderr and "asyncapi up" in result.stderr
    assert run_cli("up").returncode == 0
    assert run_cli("test-job", "--timeout", "60").returncode == 0


def test_test_job_into_a_closed_pipe_ends_quietly(stack: dict[str, Any]) -> None:
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -2` that already went away
    try:
        result = subprocess.run(
            [sys.executable, "-m", "asyncapi_cli", "test-job", "--timeout", "60"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == ""


def test_demo_keep_prints_the_exact_down_command() -> None:
    other = run_cli("up", "--local", "--name", "other-stack")
    assert other.returncode == 0, other.stderr
    try:
        result = run_cli("demo", "--keep", "--json", timeout=240)
        assert result.returncode == 0, result.stderr
        command = json.loads(result.stdout)["down_command"]
        assert command.startswith("asyncapi down --yes --name async-api-")
        down = run_cli(*command.split()[1:])
        assert down.returncode == 0, down.stderr  # works although two stacks are here
    finally:
        manager.stop()
