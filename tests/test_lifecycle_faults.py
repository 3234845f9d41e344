"""SIGKILL matrices for a stack with every feature and option: a flagged `up` killed right after its
first call that creates one kind of resource, then a plain `up` (no flags: the configuration was
recorded before the first change) resumes it to the whole stack, with no duplicates; a `down` killed
right after its first deletion of each kind, then `down` again, leaves nothing.

A sample of kill points, one per resource kind, chosen by operation (deterministic whatever order the
engine's threads take): the exhaustive matrices over every mutating call of the base stack are
test_faults.py's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli_forkserver import ForkServer
from .conftest import cli_forks
from .test_lifecycle_record import EVERYTHING, named

NAME = "kill-all"
STATE = Path(f".asyncapi/{NAME}.json")
# The first call that creates each kind of resource a stack with everything on has.
UP_KILL_POINTS = (
    "sqs.CreateQueue",
    "s3.CreateBucket",
    "iam.CreateRole",
    "logs.CreateLogGroup",
    "dynamodb.CreateTable",
    "lambda.CreateFunction",
    "lambda.AddPermission",
    "lambda.CreateEventSourceMapping",
    "apigateway.CreateRestApi",
    "apigateway.PutMethod",
    "apigateway.CreateDeployment",
    "apigateway.PutGatewayResponse",
    "apigateway.CreateApiKey",
    "apigateway.CreateUsagePlan",
    "secretsmanager.CreateSecret",
    "scheduler.CreateScheduleGroup",
    "apigatewayv2.CreateApi",
    "apigatewayv2.CreateRoute",
    "apigatewayv2.CreateStage",
    "sns.CreateTopic",
    "sns.Subscribe",
    "cloudwatch.PutMetricAlarm",
    "cloudwatch.PutDashboard",
)
# The first call that deletes each kind.
DOWN_KILL_POINTS = (
    "sqs.DeleteQueue",
    "s3.DeleteBucket",
    "iam.DeleteRole",
    "logs.DeleteLogGroup",
    "dynamodb.DeleteTable",
    "lambda.DeleteFunction",
    "lambda.DeleteEventSourceMapping",
    "apigateway.DeleteRestApi",
    "apigateway.DeleteApiKey",
    "apigateway.DeleteUsagePlan",
    "secretsmanager.DeleteSecret",
    "scheduler.DeleteScheduleGroup",
    "apigatewayv2.DeleteApi",
    "sns.DeleteTopic",
    "cloudwatch.DeleteAlarms",
    "cloudwatch.DeleteDashboards",
)
ONE_EACH = (
    "rest_apis", "api_keys", "usage_plans", "websocket_apis", "secrets", "schedule_groups", "buckets",
    "topics", "subscriptions", "dashboards",
)  # fmt: skip


@pytest.fixture
def forks() -> ForkServer:
    return cli_forks()


@pytest.fixture(autouse=True)
def alarm_subscriber(aws_env: None) -> None:
    """An alarm subscription too (asyncapi.toml's only way to one): its kill points are the matrix's."""
    Path("asyncapi.toml").write_text('[alarms]\nnotify = ["email:ops@example.com"]\n', encoding="utf-8")


@pytest.mark.parametrize("operation", UP_KILL_POINTS)
def test_sigkill_in_a_flagged_up_then_a_plain_up_resumes_everything(
    moto_server: str, forks: ForkServer, operation: str
) -> None:
    killed = forks.run("up", "--endpoint-url", moto_server, "--name", NAME, *EVERYTHING, kill_after=operation)
    assert killed.returncode == -9, (operation, killed.stderr)
    resumed = forks.run("up")
    assert resumed.returncode == 0, (operation, resumed.stderr)
    planned = json.loads(forks.run("plan", "--json").stdout)
    # Nothing missing, nothing extra (the CORS preflights may still read back as an update: see
    # test_lifecycle_record.CORS_PREFLIGHT).
    assert {r["action"] for r in planned["resources"]} <= {"exists", "update"}, operation
    live = named(NAME, moto_server)
    assert {kind: len(live[kind]) for kind in ONE_EACH} == dict.fromkeys(ONE_EACH, 1), (operation, live)
    state = json.loads(STATE.read_text())
    assert state["resources"]["api_key"]["id"] and state["resources"]["ws_api"]["id"]


@pytest.mark.parametrize("operation", DOWN_KILL_POINTS)
def test_sigkill_in_down_of_every_feature_then_down_resumes(
    moto_server: str, forks: ForkServer, operation: str
) -> None:
    up = forks.run("up", "--endpoint-url", moto_server, "--name", NAME, *EVERYTHING)
    assert up.returncode == 0, up.stderr
    killed = forks.run("down", "--yes", kill_after=operation)
    assert killed.returncode == -9, (operation, killed.stderr)
    resumed = forks.run("down", "--yes")
    assert resumed.returncode == 0, (operation, resumed.stderr)
    live = named(NAME, moto_server)
    assert live == {kind: [] for kind in live}, operation
    assert not STATE.exists()
