"""Caps that hold with no authentication: active schedules per stack, and POST /batches' job rate.

An open API at the default 50 requests/s could otherwise leave ~180,000 `rate(1 minute)` schedules per
hour of POST /schedules (each running forever), and POST /batches would multiply the stage's cap by the
batch size (100). Sources: EventBridge Scheduler API reference (ListSchedules, GroupName filter); API
Gateway developer guide, "Throttle requests to your REST APIs" (method-level throttling replaces the
stage's default for that method); LocalStack's AWS-validated snapshot of a method's own settings
(tests/aws/services/apigateway/test_apigateway_common.snapshot.json, TestStages::test_create_update_stages:
patch path /test/GET/throttling/burstLimit, read back under the key "test/GET").
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli import config, ops
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.errors import InputError

from .conftest import deploy, stack_options
from .test_scheduling import GROUP, call, iso, lambda_code, stack  # noqa: F401

NAME = "caps"


def test_post_schedules_beyond_the_cap_answers_409_and_creates_nothing(
    stack: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAX_ACTIVE_SCHEDULES", "2")
    api = stack["schedules_api"]
    every = {"job": {"n": 1}, "expression": "rate(1 minute)"}
    first = [call(api, "POST", body=every) for _ in range(2)]
    assert [status for status, _ in first] == [201, 201]
    status, refused = call(api, "POST", body=every)
    assert status == 409 and "2 active schedules" in refused["message"]
    assert "scheduling.max_active" in refused["message"]
    scheduler = boto3.client("scheduler")
    assert len(scheduler.list_schedules(GroupName=GROUP)["Schedules"]) == 2  # nothing created
    # A one-time schedule counts too, and deleting one makes room again.
    at = iso(datetime.now(timezone.utc) + timedelta(hours=1))
    assert call(api, "POST", body={"job": {"n": 2}, "runAt": at})[0] == 409
    assert call(api, "DELETE", first[0][1]["scheduleId"])[0] == 204
    assert call(api, "POST", body={"job": {"n": 2}, "runAt": at})[0] == 201


def test_the_cap_comes_from_asyncapi_toml(mocked_aws: None, tmp_path: Path) -> None:
    path = tmp_path / "asyncapi.toml"
    path.write_text("[scheduling]\nmax_active = 7\n")
    assert config.load(path).settings(local=False).max_active_schedules == 7
    path.write_text("[scheduling]\nmax_active = 0\n")
    with pytest.raises(InputError, match="max_active"):
        config.load(path)
    opened = deploy(NAME, features=frozenset({"scheduling"}), overrides={"max_active_schedules": 7})
    function = boto3.client("lambda").get_function_configuration(FunctionName=f"{NAME}-schedules-api")
    assert function["Environment"]["Variables"]["MAX_ACTIVE_SCHEDULES"] == "7"
    assert opened.state.resources["schedules_dlq"]["url"]


def test_post_batches_has_its_own_throttle_at_the_stages_job_rate(mocked_aws: None) -> None:
    overrides = {"throttle_rate_limit": 50.0, "throttle_burst_limit": 100}
    deployed = deploy(NAME, features=frozenset({"batches"}), overrides=overrides)
    api_id = deployed.state.resources["rest_api"]["id"]
    settings = boto3.client("apigateway").get_stage(restApiId=api_id, stageName="prod")["methodSettings"]
    # 100 jobs a request: 0.5 requests/s is 50 jobs/s, burst 1 request (100 jobs), as /submit's 50/s, 100.
    assert settings["batches/POST"]["throttlingRateLimit"] == 0.5
    assert settings["batches/POST"]["throttlingBurstLimit"] == 1
    assert settings["*/*"]["throttlingRateLimit"] == 50.0
    again = ops.up(
        ops.open_stack(
            stack_options(NAME, features=frozenset({"batches"}), overrides=overrides), creating=False
        ),
        SilentReporter(),
    )
    assert {o.key for o in again if o.action != "exists"} == set()
