"""Deploy-side data of the scheduling and WebSocket features: names within AWS's limits, handlers that
exist in the Lambda zip, and policies scoped to the stack's own resources (no wildcard resources)."""

from __future__ import annotations

import io
import zipfile

import pytest

from asyncapi_cli.features import scheduling, websocket
from asyncapi_cli.features.specs import FunctionData, Target
from asyncapi_cli.names import MAX_NAME_LENGTH
from asyncapi_cli.package import build_zip

LONGEST = Target(stack="a" * MAX_NAME_LENGTH, region="eu-west-1", account="123456789012")


def functions(target: Target) -> list[FunctionData]:
    return [
        scheduling.schedules_function(target),
        websocket.websocket_function(target, "abc123"),
        websocket.pusher_function(target, "abc123"),
    ]


def test_names_fit_aws_limits_for_the_longest_stack_name() -> None:
    for function in functions(LONGEST):
        assert len(function.name) <= 64  # Lambda function names
        assert len(function.role_name) <= 64  # IAM role names
    assert len(scheduling.scheduler_role_name(LONGEST.stack)) <= 64
    assert len(scheduling.group_name(LONGEST.stack)) <= 64  # schedule group names: 1-64
    assert len(websocket.connections_table_name(LONGEST.stack)) <= 255


def test_handlers_are_in_the_lambda_zip() -> None:
    names = set(zipfile.ZipFile(io.BytesIO(build_zip().zip_bytes)).namelist())
    for function in functions(LONGEST):
        assert f"{function.handler.split('.')[0]}.py" in names


@pytest.mark.parametrize("function", functions(LONGEST), ids=lambda f: f.name[-14:])
def test_policies_are_scoped_to_the_stacks_resources(function: FunctionData) -> None:
    for statement in function.policy["Statement"]:
        for resource in statement["Resource"]:
            fields = resource.split(":", 5)
            assert "*" not in "".join(fields[:5]), resource  # no wildcard service, region or account
            assert not fields[5].startswith("*"), resource  # no wildcard resource type or name
            assert LONGEST.stack in resource or resource.startswith("arn:aws:execute-api:"), resource
    actions = {a for s in function.policy["Statement"] for a in s["Action"]}
    assert not any(a.endswith(":*") for a in actions)


def test_scheduler_role_sends_to_the_main_queue_only() -> None:
    policy = scheduling.scheduler_role_policy(LONGEST)
    assert policy["Statement"] == [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [scheduling.main_queue_arn(LONGEST)]}
    ]
    trust = scheduling.scheduler_trust_policy(LONGEST)["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_websocket_urls() -> None:
    assert websocket.url(LONGEST, "abc123") == "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    assert websocket.url(LONGEST, "abc123", "ws://127.0.0.1:5000") == "ws://127.0.0.1:5000/abc123/prod"
