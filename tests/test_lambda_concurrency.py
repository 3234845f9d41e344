"""Reserved concurrency is a carve-out, as on AWS ("Configuring reserved concurrency",
docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html): a function with reserved concurrency
N can run N environments however many the others hold, never more; the others share the unreserved rest.
Throttling an Invoke beyond it: 429 TooManyRequestsException, Reason
ReservedFunctionConcurrentInvocationLimitExceeded (LocalStack's AWS-recorded snapshot
test_lambda_concurrency_block).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from asyncapi_cli.local.lambda_.runtime import LambdaRuntime
from asyncapi_cli.local.manager import describe_limits

from .test_fidelity_lambda import Sink, make_spec

pytestmark = pytest.mark.xdist_group("test_lambda_concurrency")

# Runs until the test creates the gate file; says it started by creating <gate>.<n>.
HELD = """
import os, time, uuid
def handler(event, context):
    open(event["gate"] + "." + uuid.uuid4().hex, "w").close()
    while not os.path.exists(event["gate"]):
        time.sleep(0.02)
    return "done"
"""


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[tuple[LambdaRuntime, dict[str, Any]]]:
    specs: dict[str, Any] = {}
    runtime = LambdaRuntime(
        "http://127.0.0.1:9", tmp_path / "code", lookup=lambda a, r, n: specs.get(n), sink=Sink(), limit=2
    )
    yield runtime, specs
    runtime.close()


def _started(gate: Path) -> int:
    return len(list(gate.parent.glob(gate.name + ".*")))


def _wait(predicate: Any, timeout: float = 60.0) -> None:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not predicate():
            assert not done.wait(0.02), "condition not reached"
    finally:
        deadline.cancel()


def test_a_reserved_function_runs_while_the_others_hold_every_shared_slot(
    runtime: tuple[LambdaRuntime, dict[str, Any]], tmp_path: Path
) -> None:
    lambda_runtime, specs = runtime
    specs["normal"] = make_spec("normal", HELD, timeout=60.0)
    specs["high"] = make_spec("high", HELD, timeout=60.0, reserved_concurrency=2)
    normal_gate, high_gate = tmp_path / "normal-gate", tmp_path / "high-gate"

    def call(name: str, gate: Path, **kwargs: Any) -> Any:
        return lambda_runtime.invoke("123456789012", "us-east-1", name, {"gate": str(gate)}, **kwargs)

    with ThreadPoolExecutor(8) as pool:
        normal = [pool.submit(call, "normal", normal_gate) for _ in range(3)]
        _wait(lambda: _started(normal_gate) == 2)  # the unreserved pool (2) is full; the third waits
        # The reserved function's two environments run now, beside them.
        high = [pool.submit(call, "high", high_gate) for _ in range(2)]
        _wait(lambda: _started(high_gate) == 2)
        # Beyond its reservation an Invoke is throttled; so is one of the full shared pool's.
        third = call("high", high_gate, wait=False)
        assert (third.error_type, third.error_message) == ("TooManyRequestsException", "Rate Exceeded.")
        assert third.document()["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        shared = call("normal", normal_gate, wait=False)
        assert shared.document()["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert _started(normal_gate) == 2  # the queued third normal invocation still waits
        status = lambda_runtime.status()
        assert (status["accountConcurrencyLimit"], status["unreservedConcurrency"]) == (4, 2)
        assert status["reservedConcurrency"] == {"us-east-1/high": 2}
        high_gate.write_text("go")
        assert [f.result().payload for f in high] == ["done", "done"]
        normal_gate.write_text("go")
        assert [f.result().payload for f in normal] == ["done"] * 3


def test_local_status_names_the_limit_the_pool_and_the_reservations() -> None:
    lines = describe_limits(
        {
            "accountConcurrencyLimit": 9,
            "unreservedConcurrency": 4,
            "reservedConcurrency": {"us-east-1/s-high-processor": 5},
            "idleSeconds": 60.0,
            "functions": {},
        }
    )
    assert lines[0] == (
        "account concurrency limit 9 (4 unreserved + reserved: us-east-1/s-high-processor 5), "
        "idle workers reclaimed after 60 s"
    )
