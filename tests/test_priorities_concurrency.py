"""Priorities' reserved concurrency: checked against the account before `up` changes anything, and the high
queue's mapping bounded by it.

AWS behaviour modelled here: GetAccountSettings answers AccountLimit.ConcurrentExecutions and
.UnreservedConcurrentExecutions (botocore's lambda service model, GetAccountSettingsResponse/AccountLimit);
Lambda keeps at least 100 unreserved ("Configuring reserved concurrency", Lambda developer guide; moto's
PutFunctionConcurrency raises the same "minimum value of [100]" error under MOTO_LAMBDA_CONCURRENCY_QUOTA);
new accounts may have a limit of 10. moto has no GetAccountSettings (it answers 404 "Not yet implemented"),
so the answer is given through botocore's before-call event, in the service model's shape.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from asyncapi_cli import ops
from asyncapi_cli.aws import is_mutating
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.errors import InputError

from .conftest import stack_options

NAME = "prio-conc"
HIGH = f"{NAME}-high-processor"


class Account:
    """GetAccountSettings as AWS answers it, for an account with `limit` concurrent executions of which
    `unreserved` are unreserved; counts the mutating calls that reached moto."""

    def __init__(self, limit: int, unreserved: int) -> None:
        self.limit, self.unreserved = limit, unreserved
        self.mutating: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, client: Any) -> None:
        if client.meta.service_model.service_name == "lambda":
            client.meta.events.register_first("before-call.lambda.GetAccountSettings", self._settings)
        client.meta.events.register("after-call.*.*", self._count)

    def _settings(self, **_: Any) -> Any:
        limits = {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": self.limit,
            "UnreservedConcurrentExecutions": self.unreserved,
        }
        answer = {"AccountLimit": limits, "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0}}
        return AWSResponse("https://lambda.invalid/", 200, {}, None), answer

    def _count(self, model: Any, **_: Any) -> None:
        if is_mutating(model.name):
            with self._lock:
                self.mutating.append(model.name)


def _up(account: Account, **overrides: Any) -> list[Any]:
    options = stack_options(
        NAME, features=frozenset({"priorities"}), hooks=[account], overrides=dict(overrides)
    )
    return ops.up(ops.open_stack(options, creating=True), SilentReporter())


def test_a_new_accounts_limit_is_refused_in_one_line_before_any_change(mocked_aws: None) -> None:
    account = Account(limit=10, unreserved=10)
    with pytest.raises(InputError) as refused:
        _up(account)
    message = str(refused.value)
    assert "\n" not in message and "5 for prio-conc-high-processor" in message
    assert "would leave 5" in message and "Service Quotas" in message and "without priorities" in message
    assert account.mutating == []  # nothing was created
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []


def test_the_processors_own_reservation_counts_too(mocked_aws: None) -> None:
    account = Account(limit=1000, unreserved=110)
    with pytest.raises(InputError, match="would leave 95"):
        _up(account, reserved_concurrency=10)  # 10 + 5 out of 110: 95 left
    assert account.mutating == []


def test_enough_unreserved_goes_ahead_and_the_high_mapping_is_bounded(mocked_aws: None) -> None:
    _up(Account(limit=1000, unreserved=1000))
    lam = boto3.client("lambda")
    reserved = lam.get_function_concurrency(FunctionName=HIGH)["ReservedConcurrentExecutions"]
    (mapping,) = [m for m in lam.list_event_source_mappings(FunctionName=HIGH)["EventSourceMappings"]]
    # A mapping ignores reserved concurrency; bounded at or below it, a burst is not throttled into
    # maxReceiveCount ("Configuring maximum concurrency for Amazon SQS event sources").
    assert 2 <= mapping["ScalingConfig"]["MaximumConcurrency"] <= reserved == 5


def test_the_stacks_own_reservation_is_not_counted_twice(mocked_aws: None) -> None:
    """Rerunning on a stack that already holds its 5: 104 unreserved leave 104, not 99."""
    _up(Account(limit=1000, unreserved=1000))
    again = _up(Account(limit=1000, unreserved=104))
    assert {o.key for o in again if o.action != "exists"} == set()
