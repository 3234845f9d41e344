"""Faults: throttling and transient errors, queue names held after a delete, and hard kills."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter

from .conftest import REPO, no_sleep_pacer, run_cli, stack_options
from .faults import Flaky, _Body
from .test_cli import stack_leftovers
from .test_converge import COMPLETE, EMPTY, live_inventory

pytestmark = pytest.mark.usefixtures("server_env")


@pytest.fixture
def server_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # Let the helpers in test_converge (plain boto3 clients) inspect the moto server.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def test_up_and_down_get_through_random_throttling_and_resets(moto_server: str) -> None:
    flaky = Flaky(rate=0.15, seed=11)
    stack = ops.open_stack(stack_options("flaky-stack", hooks=[flaky]), creating=True)
    ops.up(stack, SilentReporter())
    assert flaky.injected >= 5, flaky.kinds
    assert set(flaky.kinds) == {"throttle", "unavailable", "reset"}
    # Every injected fault cost exactly one retry, and the run reports them.
    assert ops.summary(stack)["aws_calls"]["retries"] == flaky.injected
    assert live_inventory("flaky-stack") == COMPLETE

    down_faults = Flaky(rate=0.15, seed=12)
    stack = ops.open_stack(stack_options("flaky-stack", hooks=[down_faults]), creating=False)
    ops.down(stack, SilentReporter())
    assert down_faults.injected >= 3
    assert stack.clients.counter.retries == down_faults.injected
    assert live_inventory("flaky-stack") == EMPTY


def test_cli_reports_retries(moto_server: str) -> None:
    result = run_cli("up", "--name", "count-stack", "--endpoint-url", moto_server, "--json")
    summary = json.loads(result.stdout)["aws_calls"]
    assert summary["retries"] == 0 and summary["engine_retries"] == 0
    assert summary["calls"] > summary["mutating"] > 0


class QueueNameHeld:
    """SQS's answer to CreateQueue within 60 s of deleting a queue of that name."""

    def __init__(self, pacer: Any, hold_until: float) -> None:
        self.pacer = pacer
        self.hold_until = hold_until
        self.refused = 0

    def __call__(self, client: Any) -> None:
        if client.meta.service_model.service_name == "sqs":
            client.meta.events.register_first("before-send.sqs.CreateQueue", self._refuse)

    def _refuse(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        if self.pacer.clock() >= self.hold_until:
            return None
        self.refused += 1
        body = json.dumps(
            {
                "__type": "com.amazonaws.sqs#QueueDeletedRecently",
                "message": "You must wait 60 seconds after deleting a queue before you can create "
                "another with the same name.",
            }
        ).encode()
        headers = {"x-amzn-query-error": "AWS.SimpleQueueService.QueueDeletedRecently;Sender"}
        return AWSResponse(request.url, 400, headers, _Body(body))


def test_up_right_after_down_waits_for_held_queue_names(moto_server: str) -> None:
    pacer = no_sleep_pacer()
    held = QueueNameHeld(pacer, hold_until=60.0)
    stack = ops.open_stack(stack_options("held-stack", hooks=[held], pacer=pacer), creating=True)
    ops.up(stack, SilentReporter())
    assert held.refused >= 2
    assert pacer.clock() >= 60.0  # it waited (on the injected clock) instead of failing
    assert stack.ctx.retries >= held.refused
    assert live_inventory("held-stack") == COMPLETE


def _fault_run(k: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "tests" / "fault_runner.py"), str(k), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _reset(url: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()


def _count_mutating(url: str, *args: str) -> int:
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["aws_calls"]["mutating"])


def test_sigkill_after_every_mutating_call_of_up_then_up_resumes(moto_server: str) -> None:
    total = _count_mutating(moto_server, "up", "--name", "kill-stack", "--endpoint-url", moto_server)
    assert total > 30
    failures = []
    for k in range(1, total + 1):
        _reset(moto_server)
        for path in Path(".asyncapi").glob("*"):
            path.unlink()
        killed = _fault_run(k, "up", "--name", "kill-stack", "--endpoint-url", moto_server)
        assert killed.returncode == -9, (k, killed.stderr)
        resumed = run_cli("up", "--json")  # no flags: the target and name come from the state file
        if resumed.returncode != 0:
            failures.append((k, resumed.stderr))
            continue
        inventory = live_inventory("kill-stack")
        if inventory != COMPLETE:
            failures.append((k, inventory))
        state = json.loads(Path(".asyncapi/kill-stack.json").read_text())
        apis = boto3.client("apigateway").get_rest_apis()["items"]
        if [a["id"] for a in apis] != [state["resources"]["rest_api"]["id"]]:
            failures.append((k, "state does not match the live API"))
    assert failures == []


def test_sigkill_after_every_mutating_call_of_down_then_down_resumes(moto_server: str) -> None:
    _count_mutating(moto_server, "up", "--name", "kill-stack", "--endpoint-url", moto_server)
    total = _count_mutating(moto_server, "down", "--yes")
    assert total > 10
    failures = []
    for k in range(1, total + 1):
        _reset(moto_server)
        assert run_cli("up", "--name", "kill-stack", "--endpoint-url", moto_server).returncode == 0
        killed = _fault_run(k, "down", "--yes")
        assert killed.returncode == -9, (k, killed.stderr)
        resumed = run_cli("down", "--yes")
        if resumed.returncode != 0:
            failures.append((k, resumed.stderr))
        left = stack_leftovers(moto_server, "kill-stack")
        if left:
            failures.append((k, left))
    assert failures == []
