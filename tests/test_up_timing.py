"""`up` under AWS-like timing: role-propagation retries, waiters, what starts first, and
the calls a new stack skips. Clock and sleep are injected: nothing here really waits."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from asyncapi_cli.errors import AwsError
from asyncapi_cli.graph import critical_first, up_edges
from asyncapi_cli.ownership import STATE_TAG, state_owner
from asyncapi_cli.retry import Pacer, retry_call, wait_until

from .conftest import deploy
from .stack_units import expected_inventory, live_inventory, stack_units

NAME = "timing-stack"
# The message Lambda answers CreateFunction with while a new role has not propagated (IAM is eventually
# consistent: IAM user guide, "Changes that I make are not always immediately visible"; the message as
# LocalStack records it from AWS, provider.py create_function).
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


class Clock:
    """A manual clock: sleeps and calls move it; every sleep and call start is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.calls: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def pacer(self, seed: int = 13) -> Pacer:
        return Pacer(sleep=self.sleep, clock=lambda: self.now, rng=random.Random(seed))


class RoleError(Exception):
    pass


def _create_function(clock: Clock, *, takes: float, usable_at: float) -> Callable[[], str]:
    """CreateFunction as the model has it: the attempt takes `takes` seconds and fails while the role is
    not yet usable when Lambda decides (at the attempt's end)."""

    def attempt() -> str:
        clock.calls.append(clock.now)
        clock.now += takes
        if clock.now < usable_at:
            raise RoleError(ROLE_NOT_ASSUMABLE)
        return "created"

    return attempt


def _retry(clock: Clock, attempt: Callable[[], str], timeout: float = 120.0) -> str:
    return retry_call(
        attempt,
        retry_if=lambda exc: isinstance(exc, RoleError),
        pacer=clock.pacer(),
        what="creating a function",
        timeout=timeout,
        base=0.5,
        cap=1.25,
        settling=True,
    )


def test_a_slow_failing_attempt_is_retried_almost_at_once() -> None:
    # Each failed CreateFunction itself took 1.5 s: the next one starts 50-150 ms later, so the attempt
    # that succeeds is answered at most about one attempt's duration after the role became usable.
    clock = Clock()
    assert _retry(clock, _create_function(clock, takes=1.5, usable_at=8.0)) == "created"
    assert clock.sleeps and all(0.05 <= pause <= 0.15 for pause in clock.sleeps)
    assert clock.now - 8.0 <= 1.5 + 0.15
    assert len(clock.calls) <= 7  # 8 s of propagation: about one attempt every 1.6 s, not a burst


def test_a_fast_failing_attempt_is_retried_on_a_waiters_cadence() -> None:
    # A conflict answered at once (a function mid-update) is retried about every 0.25-1.25 s from each
    # attempt's start (equal jitter, growing to the cap), never in a tight loop.
    clock = Clock()
    assert _retry(clock, _create_function(clock, takes=0.1, usable_at=6.0)) == "created"
    gaps = [later - earlier for earlier, later in zip(clock.calls, clock.calls[1:], strict=False)]
    assert min(gaps) >= 0.25
    assert max(gaps) <= 1.25
    assert len(clock.calls) <= 12


def test_settling_retries_are_bounded_by_their_timeout() -> None:
    clock = Clock()
    with pytest.raises(AwsError, match="gave up on creating a function"):
        _retry(clock, _create_function(clock, takes=1.5, usable_at=1e9), timeout=20.0)
    assert clock.now <= 20.0 + 1.5


@pytest.mark.parametrize("ready_at", [3.0, 3.3, 5.9])
def test_a_short_wait_is_polled_every_half_second_from_each_polls_start(ready_at: float) -> None:
    # A function Pending, a mapping Creating: a few seconds (Lambda developer guide, "Lambda function
    # states"; EventSourceMappingConfiguration). Each poll itself takes 0.1 s.
    clock = Clock()

    def probe() -> bool:
        clock.calls.append(clock.now)
        clock.now += 0.1
        return clock.now >= ready_at

    assert wait_until(probe, pacer=clock.pacer(), what="x", base=0.5, steady_for=10.0, seen_not_ready=True)
    # The create call's answer said "not ready": the first poll waits one interval.
    assert 0.4 <= clock.calls[0] <= 0.6
    gaps = [later - earlier for earlier, later in zip(clock.calls, clock.calls[1:], strict=False)]
    assert all(0.4 <= gap <= 0.6 + 1e-9 for gap in gaps)
    assert clock.now - ready_at <= 0.6 + 0.1  # noticed within one interval and one poll
    assert len(clock.calls) <= ready_at / 0.4 + 1


def test_a_long_wait_grows_to_about_a_second() -> None:
    clock = Clock()
    ready_at = 40.0
    assert wait_until(lambda: clock.now >= ready_at, pacer=clock.pacer(), what="x", base=0.5, steady_for=10.0)
    late = [s for s, at in zip(clock.sleeps, _cumulative(clock.sleeps), strict=False) if at > 12.0]
    assert late and max(late) <= 1.0 and min(late) >= 0.5
    assert clock.now - ready_at <= 1.0


def _cumulative(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        out.append(total)
        total += value
    return out


def test_the_longest_chains_start_first() -> None:
    # A role's propagation, then CreateFunction and Pending, then the mapping's Creating: the roles
    # Lambda assumes start `up`'s longest chain, so they make the first clients and calls.
    units = stack_units("graph-stack")
    chain = critical_first(units, up_edges(units))
    roots = sorted((k for k, waits in up_edges(units).items() if not waits), key=lambda k: -chain[k])
    assert set(roots[:2]) == {"processor_role", "recorder_role"}
    assert roots.index("status_role") < roots.index("table") < roots.index("bucket")
    assert chain["processor_role"] >= 8.0 + 4.5 + 4.0


class Counting:
    """Counts the operations every client makes (a botocore hook)."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._before)

    def _before(self, model: Any, **_: Any) -> None:
        self.operations.append(f"{model.service_model.service_name}.{model.name}")


def test_a_new_stack_creates_roles_without_looking_first_and_owns_its_queue_at_once(
    mocked_aws: None,
) -> None:
    calls = Counting()
    stack = deploy(NAME, hooks=[calls])
    assert "iam.GetRole" not in calls.operations
    assert calls.operations.count("iam.CreateRole") >= 4  # the Lambda roles, the API role (and more)
    # The main queue was created with the ownership tags: no lookup and no TagQueue afterwards.
    assert "sqs.TagQueue" not in calls.operations
    assert "sqs.ListQueueTags" not in calls.operations
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{NAME}-main-queue")["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"][STATE_TAG] == state_owner(stack.store.path)


def test_a_role_left_by_a_crash_is_adopted_after_create_meets_it(mocked_aws: None) -> None:
    # `up` died after CreateRole, before the main queue and before recording anything: the next `up`
    # sees no state and no main queue, creates first, meets EntityAlreadyExists (IAM API reference,
    # CreateRole, Errors) and converges the role it found (its inline policy put again).
    iam = boto3.client("iam")
    iam.create_role(RoleName=f"{NAME}-lambda-role", AssumeRolePolicyDocument="{}")
    stack = deploy(NAME)
    assert stack.store.state.resources["processor_role"]["name"] == f"{NAME}-lambda-role"
    assert iam.list_role_policies(RoleName=f"{NAME}-lambda-role")["PolicyNames"]
    assert live_inventory(NAME) == expected_inventory(NAME)
