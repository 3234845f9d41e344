"""Faults: throttling and transient errors, queue names held after a delete, and hard kills."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter

from .cli_forkserver import ForkServer
from .conftest import cli_forks, no_sleep_pacer, run_cli, stack_options
from .faults import Flaky, _Body
from .test_cli import stack_leftovers
from .test_converge import COMPLETE, DOWN_CALLS, EMPTY, UP_CALLS, live_inventory

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


@pytest.fixture
def forks() -> ForkServer:
    return cli_forks()


def _mutating_calls(forks: ForkServer, *args: str) -> int:
    result = forks.run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["aws_calls"]["mutating"])


def test_the_cli_makes_the_mutating_calls_the_matrices_count(moto_server: str, forks: ForkServer) -> None:
    """The SIGKILL matrices are parametrized by the counts test_converge checks in-process: the CLI against a
    server must make exactly as many, or a kill point would go untested."""
    assert _mutating_calls(forks, "up", "--name", "kill-stack", "--endpoint-url", moto_server) == UP_CALLS
    assert _mutating_calls(forks, "down", "--yes") == DOWN_CALLS
    assert UP_CALLS > 30 and DOWN_CALLS > 10


# One case per kill point, so that pytest-xdist spreads the matrices over its workers; the CLI runs
# as its own process, forked from a zygote that has already imported it (tests/cli_forkserver.py).
@pytest.mark.parametrize("k", range(1, UP_CALLS + 1))
def test_sigkill_after_a_mutating_call_of_up_then_up_resumes(
    moto_server: str, forks: ForkServer, k: int
) -> None:
    killed = forks.run("up", "--name", "kill-stack", "--endpoint-url", moto_server, kill_after=k)
    assert killed.returncode == -9, (k, killed.stderr)
    resumed = forks.run("up", "--json")  # no flags: the target and name come from the state file
    assert resumed.returncode == 0, (k, resumed.stderr)
    assert live_inventory("kill-stack") == COMPLETE, k
    state = json.loads(Path(".asyncapi/kill-stack.json").read_text())
    apis = boto3.client("apigateway").get_rest_apis()["items"]
    live_ids = [a["id"] for a in apis]
    assert live_ids == [state["resources"]["rest_api"]["id"]], "state does not match the live API"


@pytest.mark.parametrize("k", range(1, DOWN_CALLS + 1))
def test_sigkill_after_a_mutating_call_of_down_then_down_resumes(
    moto_server: str, forks: ForkServer, k: int
) -> None:
    assert forks.run("up", "--name", "kill-stack", "--endpoint-url", moto_server).returncode == 0
    killed = forks.run("down", "--yes", kill_after=k)
    assert killed.returncode == -9, (k, killed.stderr)
    resumed = forks.run("down", "--yes")
    assert resumed.returncode == 0, (k, resumed.stderr)
    assert stack_leftovers(moto_server, "kill-stack") == [], k
