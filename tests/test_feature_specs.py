"""Deploy-side data of the scheduling and WebSocket features: names within AWS's limits, handlers that
exist in the Lambda zip, and policies scoped to the stack's own resources (no wildcard resources)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from asyncapi_cli.features import FeatureTarget, scheduling, websocket
from asyncapi_cli.names import MAX_NAME_LENGTH, StackNames
from asyncapi_cli.package import build_zip

LONGEST = FeatureTarget(names=StackNames("a" * MAX_NAME_LENGTH), region="eu-west-1", account="123456789012")
API_ID = "abc123"


def functions() -> list[dict[str, Any]]:
    return [
        scheduling.schedules_function(LONGEST),
        websocket.websocket_function(LONGEST),
        websocket.pusher_function(LONGEST),
    ]


def policies() -> list[dict[str, Any]]:
    return [
        scheduling.schedules_policy(LONGEST),
        scheduling.scheduler_role_policy(LONGEST),
        websocket.websocket_policy(LONGEST, API_ID),
        websocket.pusher_policy(LONGEST, API_ID),
    ]


def test_names_fit_aws_limits_for_the_longest_stack_name() -> None:
    for function in functions():
        assert len(function["name"]) <= 64  # Lambda function names
        assert len(function["role"]) <= 64  # IAM role names
    assert len(scheduling.scheduler_role_name(LONGEST)) <= 64
    assert len(scheduling.group_name(LONGEST)) <= 64  # schedule group names: 1-64
    assert len(websocket.connections_table_name(LONGEST)) <= 255


def test_handlers_are_in_the_lambda_zip() -> None:
    names = set(zipfile.ZipFile(io.BytesIO(build_zip().zip_bytes)).namelist())
    for function in functions():
        assert f"{function['handler'].split('.')[0]}.py" in names


# Actions that support no resource-level permission (Service Authorization Reference, "Actions, resources,
# and condition keys for Amazon DynamoDB" and "... for Amazon EventBridge Scheduler": ListStreams and
# ListSchedules have no resource type, so only "*" grants them).
RESOURCELESS_ACTIONS = {"dynamodb:ListStreams", "scheduler:ListSchedules"}


def test_list_streams_is_granted_on_every_resource_in_a_statement_of_its_own() -> None:
    statements = websocket.pusher_policy(LONGEST, API_ID)["Statement"]
    granting = [s for s in statements if "dynamodb:ListStreams" in s["Action"]]
    assert granting == [{"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": ["*"]}]
    (stream_reads,) = [s for s in statements if "dynamodb:GetRecords" in s["Action"]]
    assert stream_reads["Resource"] == [f"{LONGEST.table_arn}/stream/*"]


@pytest.mark.parametrize("document", policies(), ids=["schedules", "scheduler", "websocket", "pusher"])
def test_policies_are_scoped_to_the_stacks_resources(document: dict[str, Any]) -> None:
    for statement in document["Statement"]:
        if statement["Resource"] == ["*"]:
            # Only actions with no resource type, each in a statement of its own, may name "*".
            assert set(statement["Action"]) <= RESOURCELESS_ACTIONS, statement
            continue
        for resource in statement["Resource"]:
            fields = resource.split(":", 5)
            assert "*" not in "".join(fields[:5]), resource  # no wildcard service, region or account
            assert not fields[5].startswith("*"), resource  # no wildcard resource type or name
            assert LONGEST.project in resource or f":{API_ID}/" in resource, resource
        assert not any(action.endswith(":*") for action in statement["Action"])


def test_scheduler_role_sends_to_the_main_queue_and_the_schedules_dlq_only() -> None:
    # The DLQ too: Scheduler sends undeliverable runs there with the execution role ("Configuring a
    # dead-letter queue for EventBridge Scheduler").
    dlq = LONGEST.queue_arn(scheduling.dlq_name(LONGEST))
    assert scheduling.scheduler_role_policy(LONGEST)["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [scheduling.main_queue_arn(LONGEST), dlq],
        }
    ]
    trust = scheduling.scheduler_trust_policy(LONGEST)["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    # Both confused-deputy keys, the source being the stack's schedule group (EventBridge Scheduler user
    # guide, "Confused deputy prevention").
    assert trust["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": "123456789012",
            "aws:SourceArn": "arn:aws:scheduler:eu-west-1:123456789012:schedule-group/"
            + f"{LONGEST.project}-schedules",
        }
    }
    pass_role = [
        s for s in scheduling.schedules_policy(LONGEST)["Statement"] if s["Action"] == ["iam:PassRole"]
    ]
    assert pass_role[0]["Resource"] == [scheduling.scheduler_role_arn(LONGEST)]


def test_websocket_urls() -> None:
    assert websocket.url(LONGEST, API_ID) == "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    china = FeatureTarget(
        names=LONGEST.names, region="cn-north-1", account="123456789012", partition="aws-cn"
    )
    assert websocket.url(china, API_ID) == "wss://abc123.execute-api.cn-north-1.amazonaws.com.cn/prod"
    assert websocket.url(LONGEST, API_ID, "ws://127.0.0.1:5000") == "ws://127.0.0.1:5000/abc123/prod"
