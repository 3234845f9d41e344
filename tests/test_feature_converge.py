"""Priorities, batches and webhooks converge: turning one on, off and on again creates or removes exactly its
resources; `down` removes every feature's resources too. In-process moto, through ops (as `up` runs).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.features import FEATURES

from .conftest import deploy, stack_options
from .stack_units import expected_inventory, live_inventory, stack_units

NAME = "feat-conv"
ALL = frozenset(FEATURES)


def _up(features: frozenset[str]) -> ops.Stack:
    """An `up` with exactly these features: --with them, --without the others (the state keeps
    whatever the last `up` was given otherwise)."""
    return deploy(NAME, features=features, without=ALL - features)


def _keys(features: frozenset[str]) -> set[str]:
    return {unit.key for unit in stack_units(NAME, features)}


def _api_routes() -> set[str]:
    apigw = boto3.client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{NAME}-api"]
    return {
        f"{verb} {r['path']}"
        for r in apigw.get_resources(restApiId=api["id"])["items"]
        for verb in r.get("resourceMethods") or {}
    }


def _deployment() -> str:
    apigw = boto3.client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{NAME}-api"]
    return str(apigw.get_stage(restApiId=api["id"], stageName="prod")["deploymentId"])


def _models() -> set[str]:
    apigw = boto3.client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{NAME}-api"]
    return {m["name"] for m in apigw.get_models(restApiId=api["id"])["items"]}


def _policy_text(role: str) -> str:
    iam = boto3.client("iam")
    (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return json.dumps(iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"])


@pytest.mark.parametrize("feature", FEATURES)
def test_each_feature_on_off_on_changes_exactly_its_resources(mocked_aws: None, feature: str) -> None:
    base = frozenset[str]()
    stack = _up(base)
    assert set(stack.state.resources) == _keys(base)
    assert live_inventory(NAME) == expected_inventory(NAME, base)
    base_routes = _api_routes()
    base_deployment = _deployment()

    on = _up(frozenset({feature}))
    # The stage redeploys: every feature changes what the API serves (a model, /submit or new routes).
    assert _deployment() != base_deployment
    added = _keys(frozenset({feature})) - _keys(base)
    assert added, "every feature adds units"
    assert set(on.state.resources) == _keys(base) | added
    assert live_inventory(NAME) == expected_inventory(NAME, frozenset({feature}))
    if feature == "batches":
        assert _api_routes() == base_routes | {"POST /batches", "GET /batches/{batchId}"}
        assert "BatchRequest" in _models()
    else:
        assert _api_routes() == base_routes
    # A second `up` with the same features changes nothing.
    assert _up(frozenset({feature})).clients.counter.mutating == 0

    # Off: exactly the feature's units go (plan says so first), the base's routes and roles are restored.
    unchanged = ops.plan(ops.open_stack(stack_options(NAME), creating=False))
    assert {o.action for o in unchanged} == {"exists"}  # without flags: the recorded configuration
    planned = ops.plan(ops.open_stack(stack_options(NAME, without=frozenset({feature})), creating=False))
    assert {o.key for o in planned if o.action == "delete"} == added
    off = _up(base)
    assert set(off.state.resources) == _keys(base)
    assert live_inventory(NAME) == expected_inventory(NAME, base)
    assert _api_routes() == base_routes
    assert "BatchRequest" not in _models()
    assert f"{NAME}-high-queue" not in _policy_text(f"{NAME}-api-gateway-role")
    assert "webhooks" not in _policy_text(f"{NAME}-lambda-role")

    again = _up(frozenset({feature}))
    assert set(again.state.resources) == _keys(base) | added
    assert live_inventory(NAME) == expected_inventory(NAME, frozenset({feature}))


def test_all_features_together_then_down_leaves_nothing(mocked_aws: None) -> None:
    stack = _up(ALL)
    assert live_inventory(NAME) == expected_inventory(NAME, ALL)
    lam = boto3.client("lambda")
    high = lam.get_function(FunctionName=f"{NAME}-high-processor")
    assert high["Concurrency"]["ReservedConcurrentExecutions"] == 5
    for name in (f"{NAME}-job-processor", f"{NAME}-high-processor"):
        env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        assert env["WEBHOOK_QUEUE_URL"] == stack.state.resources["webhooks_queue"]["url"]
    # Down removes all of it (features included) and the state file.
    ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    assert not any(live_inventory(NAME).values())
    assert not stack.store.path.exists()


def test_down_removes_a_recorded_feature_that_the_settings_no_longer_name(mocked_aws: None) -> None:
    _up(frozenset({"webhooks"}))
    # `down` without --with (and no [features]): the recorded webhook units still go.
    ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    assert not any(live_inventory(NAME).values())


def test_down_by_name_without_a_state_file_finds_every_features_resources(mocked_aws: None) -> None:
    _up(ALL).store.path.unlink()
    gone = ops.open_stack(stack_options(NAME), creating=False, allow_missing_state=True)
    ops.down(gone, SilentReporter())
    assert not any(live_inventory(NAME).values())


def test_the_signing_secret_is_made_once_and_never_leaves_secrets_manager(mocked_aws: None) -> None:
    stack = _up(frozenset({"webhooks"}))
    record: dict[str, Any] = stack.state.resources["webhook_secret"]
    manager = boto3.client("secretsmanager")
    value = manager.get_secret_value(SecretId=record["arn"])["SecretString"]
    assert len(value) == 64 and int(value, 16) >= 0  # 32 random bytes, hex
    assert set(record) == {"name", "arn"}
    assert value not in stack.store.path.read_text()
    lam = boto3.client("lambda")
    env = lam.get_function_configuration(FunctionName=f"{NAME}-webhook-notifier")["Environment"]["Variables"]
    assert env["WEBHOOK_SECRET_ARN"] == record["arn"]
    assert value not in json.dumps(env)
    # A converging `up` keeps the value (receivers keep verifying); off then on makes a new one.
    _up(frozenset({"webhooks"}))
    assert manager.get_secret_value(SecretId=record["arn"])["SecretString"] == value
    _up(frozenset())
    assert manager.list_secrets()["SecretList"] == []  # ForceDeleteWithoutRecovery: gone at once
    renewed = _up(frozenset({"webhooks"})).state.resources["webhook_secret"]
    assert manager.get_secret_value(SecretId=renewed["arn"])["SecretString"] != value
