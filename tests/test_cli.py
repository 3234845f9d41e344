"""The real CLI, as a separate process: end to end against a moto server, and every bad input."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from .conftest import run_cli
from .stack_units import stack_units

pytestmark = pytest.mark.usefixtures("no_instance_metadata")


@pytest.fixture
def no_instance_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never let botocore look for credentials on 169.254.169.254: tests target loopback only.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def one_line_error(result, code: int, *fragments: str) -> None:  # noqa: ANN001
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("asyncapi: error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def server_clients(url: str) -> dict[str, object]:
    return {
        s: boto3.client(s, endpoint_url=url, region_name="us-east-1")
        for s in ("sqs", "lambda", "apigateway", "iam", "dynamodb", "s3", "logs")
    }


def stack_leftovers(url: str, name: str) -> list[str]:
    c = server_clients(url)
    left = []
    left += c["sqs"].list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    left += [f["FunctionName"] for f in c["lambda"].list_functions()["Functions"]]
    left += [m["UUID"] for m in c["lambda"].list_event_source_mappings()["EventSourceMappings"]]
    left += [a["name"] for a in c["apigateway"].get_rest_apis()["items"]]
    left += [r["RoleName"] for r in c["iam"].list_roles()["Roles"] if r["RoleName"].startswith(name)]
    left += [t for t in c["dynamodb"].list_tables()["TableNames"]]
    left += [b["Name"] for b in c["s3"].list_buckets()["Buckets"]]
    left += [g["logGroupName"] for g in c["logs"].describe_log_groups()["logGroups"]]
    return left


def test_up_status_down_end_to_end_against_moto_server(moto_server: str) -> None:
    # Cold, as `python -m asyncapi_cli` (the rest of the suite forks its CLI runs from a warm zygote).
    first = run_cli("up", "--endpoint-url", moto_server, "--name", "e2e-stack", "--json", fresh=True)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert {r["action"] for r in report["resources"]} == {"created"}
    # One resource per unit stack.py builds (never counted by hand here).
    units = stack_units("e2e-stack")
    assert len(report["resources"]) == len(units)
    assert {r["key"] for r in report["resources"]} == {unit.key for unit in units}
    assert report["target"]["endpoint_url"] == moto_server
    api_url = report["outputs"]["api_url"]
    assert api_url.startswith(f"{moto_server}/restapis/") and api_url.endswith("/prod/_user_request_")

    # Later commands read the target from the state: no flags.
    again = run_cli("up", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["aws_calls"]["mutating"] == 0
    status = run_cli("status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["drifted"] is False
    plain = run_cli("status")  # no TTY: plain, tab-separated output
    assert "ok\tsqs-queue\te2e-stack-main-queue" in plain.stdout

    server_clients(moto_server)["sqs"].set_queue_attributes(
        QueueUrl=report["outputs"]["main_queue_url"], Attributes={"VisibilityTimeout": "7"}
    )
    drift = json.loads(run_cli("status", "--json").stdout)
    assert drift["drifted"] is True
    changed = next(r for r in drift["resources"] if r["key"] == "main_queue")
    assert changed["changes"] == [{"setting": "VisibilityTimeout", "live": "7", "desired": "1805"}]

    down = run_cli("down", "--yes")
    assert down.returncode == 0, down.stderr
    assert stack_leftovers(moto_server, "e2e-stack") == []
    assert not Path(".asyncapi/e2e-stack.json").exists()


def test_dry_run_changes_nothing(moto_server: str) -> None:
    result = run_cli("up", "--dry-run", "--endpoint-url", moto_server, "--name", "dry-stack", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {r["action"] for r in report["resources"]} == {"create"}
    assert report["aws_calls"]["mutating"] == 0
    assert stack_leftovers(moto_server, "dry-stack") == []


def test_help_is_fast_path_without_boto3() -> None:
    import subprocess
    import sys

    result = run_cli("--help")
    assert result.returncode == 0 and "test-job" in result.stdout
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from asyncapi_cli import cli; print('boto3' in sys.modules, 'moto' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False False"


def test_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    one_line_error(run_cli("up", "--name", "nocreds-stack"), 3, "no AWS credentials", "--local")
    assert not Path(".asyncapi").exists()


def test_unreachable_endpoint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        one_line_error(
            run_cli("up", "--name", "x-stack", "--endpoint-url", f"http://127.0.0.1:{port}"),
            3,
            "cannot reach",
        )


@pytest.fixture
def garbage_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that answers every connection with something that is not HTTP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.0 not http\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


def test_non_http_endpoint(garbage_server: str) -> None:
    one_line_error(run_cli("up", "--name", "x-stack", "--endpoint-url", garbage_server), 3)


@pytest.mark.parametrize(
    "region, message",
    [("xx-nowhere-9", "unknown region"), ("Not_A_Region", "invalid region"), ("", "invalid region")],
)
def test_bad_region(region: str, message: str) -> None:
    one_line_error(run_cli("up", "--name", "x-stack", "--region", region), 2, message)


@pytest.mark.parametrize(
    "name",
    ["UPPER-case", "-leading", "ab", "x" * 48, "xn--punycode", "under_score", "dots.in.name", "trailing-"],
)
def test_invalid_names(name: str) -> None:
    one_line_error(run_cli("up", "--name", name), 2, "invalid name")


def test_longest_valid_name_is_accepted_by_every_service(moto_server: str) -> None:
    name = "n" * 47
    result = run_cli("up", "--endpoint-url", moto_server, "--name", name, "--json")
    assert result.returncode == 0, result.stderr
    assert run_cli("down", "--yes", "--name", name).returncode == 0


VALID_STATE = {
    "schema": 1,
    "tool": "asyncapi",
    "name": "s-stack",
    "target": {
        "kind": "endpoint",
        "region": "us-east-1",
        "account": "123456789012",
        "endpoint_url": "http://127.0.0.1:1",
        "profile": None,
    },
    "resources": {},
    "outputs": {},
    "settings": {},
}


@pytest.mark.parametrize(
    "content, message",
    [
        ("{ not json", "corrupt or truncated"),
        (json.dumps(VALID_STATE)[:40], "corrupt or truncated"),
        (json.dumps({**VALID_STATE, "schema": 99}), "newer asyncapi"),
        (json.dumps({"tool": "terraform", "version": 4}), "not an asyncapi state file"),
        (json.dumps([1, 2, 3]), "not an asyncapi state file"),
        (json.dumps({**VALID_STATE, "target": "nowhere"}), "damaged"),
    ],
)
@pytest.mark.parametrize("command", [["up"], ["down", "--yes"], ["test-job"], ["status"]])
def test_bad_state_files_are_refused_and_kept(content: str, message: str, command: list[str]) -> None:
    path = Path(".asyncapi/s-stack.json")
    path.parent.mkdir()
    path.write_text(content)
    one_line_error(run_cli(*command), 2, message)
    assert path.read_text() == content


def test_state_for_another_account_region_or_endpoint(moto_server: str) -> None:
    path = Path(".asyncapi/s-stack.json")
    path.parent.mkdir()
    path.write_text(
        json.dumps(
            {
                **VALID_STATE,
                "target": {**VALID_STATE["target"], "account": "999999999999", "endpoint_url": moto_server},
            }
        )
    )
    one_line_error(run_cli("up"), 2, "belongs to account 999999999999")
    one_line_error(run_cli("up", "--region", "eu-west-1"), 2, "targets region us-east-1")
    one_line_error(run_cli("up", "--endpoint-url", "http://127.0.0.1:2"), 2, f"targets {moto_server}")
    one_line_error(run_cli("up", "--local"), 2, "not the embedded local AWS")
    one_line_error(run_cli("up", "--name", "other-stack", "--state", str(path)), 2, "not 'other-stack'")


@pytest.mark.parametrize("command", [["test-job"], ["down", "--yes"], ["status"]])
def test_commands_without_state(command: list[str]) -> None:
    one_line_error(run_cli(*command), 2, "no stack here")


def test_several_stacks_need_a_name() -> None:
    Path(".asyncapi").mkdir()
    for name in ("one-stack", "two-stack"):
        Path(f".asyncapi/{name}.json").write_text(json.dumps({**VALID_STATE, "name": name}))
    one_line_error(run_cli("status"), 2, "several stacks", "one-stack, two-stack")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--payload", "{not json"], "--payload is not valid JSON"),
        (["--payload", "[1, 2]"], "must be a JSON object"),
        (["--payload", "@does-not-exist.json"], "does-not-exist.json does not exist"),
        (["--timeout", "0"], "--timeout must be a finite number of seconds above zero"),
        (["--timeout", "-5"], "--timeout must be a finite number of seconds above zero"),
        (["--timeout", "nan"], "--timeout must be a finite number of seconds above zero"),
        (["--timeout", "inf"], "--timeout must be a finite number of seconds above zero"),
        (["--timeout", "-inf"], "--timeout must be a finite number of seconds above zero"),
        (["--count", "0"], "--count and --concurrency must be at least 1"),
    ],
)
def test_test_job_bad_input(args: list[str], message: str) -> None:
    one_line_error(run_cli("test-job", *args), 2, message)


def test_down_needs_yes_when_not_interactive(moto_server: str) -> None:
    assert run_cli("up", "--endpoint-url", moto_server, "--name", "keep-stack").returncode == 0
    one_line_error(run_cli("down"), 2, "pass --yes")
    assert Path(".asyncapi/keep-stack.json").exists()
    assert len(stack_leftovers(moto_server, "keep-stack")) > 10


def test_second_up_while_locked_is_refused(moto_server: str) -> None:
    assert run_cli("up", "--endpoint-url", moto_server, "--name", "lock-stack").returncode == 0
    path = Path(".asyncapi/lock-stack.json")
    before = path.read_text()
    with open(path.with_name(path.name + ".lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running `up` would hold it
        one_line_error(run_cli("up"), 4, "another asyncapi up/down is running")
        one_line_error(run_cli("down", "--yes"), 4, "another asyncapi up/down is running")
    assert path.read_text() == before


def test_debug_shows_the_traceback() -> None:
    Path(".asyncapi").mkdir()
    Path(".asyncapi/s-stack.json").write_text("{ broken")
    result = run_cli("--debug", "status")
    assert result.returncode != 0 and "Traceback" in result.stderr and "StateError" in result.stderr


def test_unknown_profile() -> None:
    one_line_error(run_cli("up", "--name", "p-stack", "--profile", "nobody", fresh=True), 2, "nobody")


def test_local_and_endpoint_are_exclusive() -> None:
    one_line_error(
        run_cli("up", "--name", "p-stack", "--local", "--endpoint-url", "http://127.0.0.1:1"), 2, "exclusive"
    )


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and "0.1.0" in result.stdout
    assert os.environ.get("ASYNCAPI_HOME")
