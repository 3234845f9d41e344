"""Day two without the embedded AWS: bad input, ownership, drift exit codes, output safety, EPIPE."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from asyncapi_cli import cli, ops
from asyncapi_cli.dayops.live import brief_change
from asyncapi_cli.engine import Change, Outcome
from asyncapi_cli.local import manager
from asyncapi_cli.output import Output

from .conftest import REPO, deploy, run_cli
from .test_cli import one_line_error

MARKUP = "broke [/] and [bold]not bold[/bold] [red]x"


# ---- bad --state paths: exit 2, one line, before the embedded AWS starts --------------------------


@pytest.mark.parametrize(
    "state, fragment",
    [
        ("/proc/nope/x.json", "is not writable"),
        ("/sys/x.json", "is not writable"),
        ("file.txt/x.json", "file.txt is not a directory"),
        ("a-dir", "is not a regular file"),
    ],
)
@pytest.mark.parametrize("command", [["up", "--local"], ["test-job"], ["jobs"], ["dlq", "list"], ["logs"]])
def test_bad_state_paths_are_bad_input(state: str, fragment: str, command: list[str]) -> None:
    Path("file.txt").write_text("not a folder\n")
    Path("a-dir").mkdir()
    one_line_error(run_cli(*command, "--state", state), 2, fragment)
    assert manager.running_info() is None  # refused before the embedded AWS was started


@pytest.mark.parametrize(
    "command", [["up", "--local"], ["test-job"], ["status"], ["jobs"], ["down", "--yes"]]
)
def test_a_non_utf8_state_file_is_bad_input_and_kept(command: list[str]) -> None:
    state = Path("latin1.json")
    content = '{"tool": "asyncapi", "name": "caf\xe9"}'.encode("latin-1")
    state.write_bytes(content)
    one_line_error(run_cli(*command, "--state", str(state)), 2, "is not UTF-8 text")
    assert state.read_bytes() == content
    assert manager.running_info() is None


# ---- numbers the user types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["jobs", "--limit", "0"], "--limit must be at least 1"),
        (["logs", "--since", "ten minutes"], "--since 'ten minutes'"),
        (["logs", "--since", "0m"], "--since '0m'"),
        (["logs", "--job", "a b"], "invalid job id"),
        (["dlq", "redrive"], "exactly one of --job ID or --all"),
        (["dlq", "redrive", "--job", "x", "--all"], "exactly one of --job ID or --all"),
    ],
)
def test_day_two_bad_input(args: list[str], fragment: str) -> None:
    one_line_error(run_cli(*args), 2, fragment)


# ---- network errors are endpoint errors (3), not bad input (2) --------------------------------------


def test_test_job_network_error_exits_3(moto_server: str) -> None:
    assert run_cli("up", "--endpoint-url", moto_server, "--name", "net-stack").returncode == 0
    path = Path(".asyncapi/net-stack.json")
    state = json.loads(path.read_text())
    state["outputs"]["submit_url"] = "http://127.0.0.1:9/restapis/x/prod/_user_request_/submit"  # closed port
    path.write_text(json.dumps(state))
    one_line_error(run_cli("test-job", "--timeout", "5"), 3, "cannot reach http://127.0.0.1:9/")


# ---- two `up` of one name from two folders -----------------------------------------------------------


def test_up_of_a_name_owned_by_another_state_file_is_refused(moto_server: str, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    env = {"PWD": str(first)}
    up = subprocess.run(
        [sys.executable, "-m", "asyncapi_cli", "up", "--endpoint-url", moto_server, "--name", "shared-name"],
        cwd=first,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert up.returncode == 0, up.stderr
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="shared-name-main-queue")["QueueUrl"]
    before = sqs.list_queue_tags(QueueUrl=url)["Tags"]
    other = subprocess.run(
        [sys.executable, "-m", "asyncapi_cli", "up", "--endpoint-url", moto_server, "--name", "shared-name"],
        cwd=second,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    one_line_error(other, 2, "belongs to the state file", str(first / ".asyncapi" / "shared-name.json"))
    assert not (second / ".asyncapi" / "shared-name.json").exists()  # nothing recorded, nothing changed
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == before
    # The owner itself converges as before (same state file, same hash).
    again = subprocess.run(
        [sys.executable, "-m", "asyncapi_cli", "up", "--endpoint-url", moto_server, "--json"],
        cwd=first,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["aws_calls"]["mutating"] == 0


# ---- status: live figures, brief drift, --exit-code -----------------------------------------------------


def test_status_exit_code_and_brief_drift_lines(moto_server: str) -> None:
    assert run_cli("up", "--endpoint-url", moto_server, "--name", "drift-stack").returncode == 0
    clean = run_cli("status", "--exit-code", "--json")
    assert clean.returncode == 0, clean.stderr
    live = json.loads(clean.stdout)["live"]
    assert live["main_queue"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert live["dlq"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert live["mapping_state"] == "Enabled"
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    main = sqs.get_queue_url(QueueName="drift-stack-main-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=main, MessageBody="{}", DelaySeconds=60)
    sqs.send_message(QueueUrl=main, MessageBody="{}")
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=main, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    redrive["maxReceiveCount"] = 7
    sqs.set_queue_attributes(QueueUrl=main, Attributes={"RedrivePolicy": json.dumps(redrive)})
    drifted = run_cli("status", "--exit-code")
    # 5, not terraform's 2: here 2 already means bad input (README, "Exit codes").
    assert drifted.returncode == 5, drifted.stderr
    line = next(row for row in drifted.stdout.splitlines() if row.startswith("drifted\t"))
    assert "maxReceiveCount: 7 -> 3" in line and "deadLetterTargetArn" not in line
    assert "main queue\t1 visible / 0 in flight / 1 delayed" in drifted.stdout
    assert run_cli("status").returncode == 0  # without --exit-code drift is not an error


def test_brief_change_shows_only_differing_settings() -> None:
    live = {
        "Version": "2012-10-17",
        "Statement": [{"Action": ["sqs:SendMessage", "sqs:*"], "Resource": "a" * 300}],
    }
    desired = {"Version": "2012-10-17", "Statement": [{"Action": ["sqs:SendMessage"], "Resource": "a" * 300}]}
    text = brief_change(Change("policy", json.dumps(live), desired))
    assert text == 'policy.Statement[0].Action: ["sqs:SendMessage", "sqs:*"] -> ["sqs:SendMessage"]'
    assert brief_change(Change("Timeout", 3, 300)) == "Timeout: 3 -> 300"
    long = brief_change(Change("Template", "x" * 500, "y"))
    assert len(long) < 100 and long.endswith("-> y")


# ---- output never parses data as markup; the table keeps its columns ------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_data_is_printed_as_written(tty: bool) -> None:
    stream = Terminal() if tty else io.StringIO()
    out = Output(stream=stream)
    assert out.rich is tty
    out.info(MARKUP)
    out.line("job ", (MARKUP, "bold"), " ", ("failed", "red"))
    out.table(MARKUP, ["a", "b"], [[MARKUP, "[/]"]])
    out.finished(Outcome("routes", "api routes", "[/]weird", "deleted with rest_api"))
    text = stream.getvalue()
    assert text.count(MARKUP) == 4 if not tty else MARKUP in text
    assert "[/]weird (with rest_api)" in text


def test_deleted_with_parent_keeps_the_columns() -> None:
    stream = io.StringIO()
    out = Output(stream=stream)
    out.finished(Outcome("routes", "api routes", "n-api", "deleted with rest_api", elapsed=0.1))
    out.finished(Outcome("stage", "stage", "prod", "deleted", elapsed=0.1))
    first, second = stream.getvalue().splitlines()
    assert first.index("api routes") == second.index("stage")  # same column
    assert first.split()[0] == "deleted" and "(with rest_api)" in first


def test_up_lists_each_resource_once(moto_server: str) -> None:
    result = run_cli("up", "--endpoint-url", moto_server, "--name", "once-stack", "--json")
    assert result.returncode == 0, result.stderr
    count = len(json.loads(result.stdout)["resources"])
    plain = run_cli("up", "--endpoint-url", moto_server, "--name", "once-stack")
    assert plain.returncode == 0, plain.stderr
    shown = [line.split()[1:3] for line in plain.stdout.splitlines() if line.split()[:1] == ["exists"]]
    assert len(shown) == count and len({tuple(s) for s in shown}) == count, plain.stdout
    assert f"{count} resources: {count} exists" in plain.stdout


# ---- EPIPE: `asyncapi ... | head` ends quietly ----------------------------------------------------------


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_a_closed_stdout_pipe_ends_quietly(moto_server: str, unbuffered: str) -> None:
    assert run_cli("up", "--endpoint-url", moto_server, "--name", "pipe-stack").returncode == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head) is gone before we write: every write is EPIPE
    try:
        result = subprocess.run(
            [sys.executable, "-m", "asyncapi_cli", "status"],
            env={
                **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
                "PYTHONUNBUFFERED": unbuffered,
            },
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


# ---- Ctrl-C says what is true for each command ----------------------------------------------------------


@pytest.mark.parametrize(
    "command, interrupted, message",
    [
        (
            ["down", "--yes"],
            "down",
            "interrupted; everything deleted so far is recorded: run 'asyncapi down' again",
        ),
        (
            ["up"],
            "up",
            "interrupted; everything created so far is recorded: run 'asyncapi up' again to resume",
        ),
        (["status"], "plan", "interrupted; nothing was changed"),
    ],
)
def test_interrupt_messages(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch, command: list[str], interrupted: str, message: str
) -> None:
    deploy("ctrl-c-stack")

    def ctrl_c(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ops, interrupted, ctrl_c)  # Ctrl-C arrives in the middle of the work
    result = CliRunner().invoke(cli.main, command)
    assert result.exit_code == 130
    assert f"asyncapi: error: {message}" in result.output


def test_readme_documents_the_new_exit_codes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "| 5 |" in readme and "| 141 |" in readme


def test_jobwork_fails_until_the_flag_exists() -> None:
    import importlib
    import sys as _sys

    _sys.path.insert(0, str(REPO / "handlers"))
    try:
        jobwork = importlib.import_module("jobwork")
    finally:
        _sys.path.remove(str(REPO / "handlers"))
    flags: set[str] = set()
    payload = {"failUntilFlag": "fix-1", "x": 1}
    with pytest.raises(jobwork.JobFailed, match="waiting for flag fix-1: not set yet"):
        jobwork.run_job(payload, flag_exists=flags.__contains__)
    flags.add("fix-1")
    assert jobwork.run_job(payload, flag_exists=flags.__contains__)["input"] == payload


def test_logs_filter_to_a_job_and_follow_until_ctrl_c(moto_server: str) -> None:
    import signal
    import time

    assert run_cli("up", "--endpoint-url", moto_server, "--name", "log-stack").returncode == 0
    logs = boto3.client("logs", endpoint_url=moto_server, region_name="us-east-1")
    group = "/aws/lambda/log-stack-job-processor"
    logs.create_log_stream(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc")

    def put(*lines: dict[str, object] | str) -> None:
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=group,
            logStreamName="2026/01/01/[$LATEST]abc",
            logEvents=[
                {"timestamp": now, "message": line if isinstance(line, str) else json.dumps(line)}
                for line in lines
            ],
        )

    put(
        "START RequestId: r1 Version: $LATEST",
        {"level": "INFO", "event": "job-started", "jobId": "job-a", "attempt": 1, "time": "t"},
        {"level": "ERROR", "event": "job-error", "jobId": "job-b", "error": "[/] boom", "time": "t"},
        {"level": "INFO", "event": "job-completed", "jobId": "job-a", "outcome": "completed", "time": "t"},
    )
    shown = run_cli("logs", "--job", "job-a", "--json")
    assert shown.returncode == 0, shown.stderr
    events = json.loads(shown.stdout)["events"]
    assert [e["message"] for e in events] == ["job-started attempt=1", 'job-completed outcome="completed"']
    assert {e["jobId"] for e in events} == {"job-a"} and events[0]["level"] == "INFO"
    everything = run_cli("logs", "processor", "--since", "5m")
    assert everything.returncode == 0, everything.stderr
    assert "START RequestId: r1" in everything.stdout
    assert 'ERROR job-b job-error error="[/] boom"' in everything.stdout  # data printed as written
    one_line_error(run_cli("logs", "nope"), 2, "unknown function 'nope'")

    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a user's shell
    follower = subprocess.Popen(
        [sys.executable, "-m", "asyncapi_cli", "logs", "--job", "job-c", "--follow"],
        env=buffered,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        bufsize=1,
    )
    try:
        put({"level": "INFO", "event": "job-started", "jobId": "job-c", "time": "t"})
        first = follower.stdout.readline()  # type: ignore[union-attr]
        assert "job-c job-started" in first
        put({"level": "INFO", "event": "job-completed", "jobId": "job-c", "time": "t"})
        assert "job-c job-completed" in follower.stdout.readline()  # type: ignore[union-attr]
    finally:
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=60)
    assert follower.returncode == 130
    assert err.strip() == "asyncapi: error: stopped following the logs"
    assert "job-a" not in out


@pytest.mark.parametrize("job_id", ["-DSDOJTWW0lF2P0", "-hSDOJTWW0lF2P0"])
def test_jobs_show_takes_a_job_id_that_starts_with_a_dash(mocked_aws: None, job_id: str) -> None:
    """Job ids are API Gateway's extendedRequestId made URL-safe (api_definition.JOB_ID_VTL): one in 64
    starts with "-" (seen in a test run: "-DSDOJTWW0lF2P0"). It is a job id, not an unknown option, and
    one starting "-h" is not the help option (seen in CI: `jobs show -h…` printed the help, exit 0)."""
    deploy("dash-stack")
    boto3.client("dynamodb").put_item(
        TableName="dash-stack-jobs", Item={"jobId": {"S": job_id}, "status": {"S": "queued"}}
    )
    shown = CliRunner().invoke(cli.main, ["jobs", "show", job_id, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["record"] == {"jobId": job_id, "status": "queued"}
    # An option the command does not have is still refused, not looked up as a job.
    wrong = CliRunner().invoke(cli.main, ["jobs", "show", job_id, "--jsn"])
    assert wrong.exit_code == 2 and "--jsn" in wrong.output
