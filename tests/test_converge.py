"""Idempotence, drift repair, lost-state adoption, plan/status, and crash-resume after every call."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter

from .conftest import deploy, stack_options
from .faults import FailAfterMutatingCall, InjectedFault
from .stack_units import expected_inventory, live_inventory, stack_units

NAME = "test-stack"


COMPLETE = expected_inventory(NAME)
EMPTY = dict.fromkeys(COMPLETE, 0)


def state_matches_reality(stack_path: Path) -> None:
    state = json.loads(stack_path.read_text())
    resources = state["resources"]
    sqs = boto3.client("sqs")
    assert resources["main_queue"]["url"] == sqs.get_queue_url(QueueName=f"{NAME}-main-queue")["QueueUrl"]
    apis = [a for a in boto3.client("apigateway").get_rest_apis()["items"] if a["name"] == f"{NAME}-api"]
    assert resources["rest_api"]["id"] == apis[0]["id"]
    live_mappings = boto3.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    mapping_keys = [u.key for u in stack_units(NAME) if u.kind == "event-source-mapping"]
    assert sorted(resources[key]["uuid"] for key in mapping_keys) == sorted(m["UUID"] for m in live_mappings)
    assert state["outputs"]["api_url"].startswith(f"https://{apis[0]['id']}.execute-api.")


def test_second_up_makes_no_mutating_call(mocked_aws: None) -> None:
    deploy(NAME)
    again = deploy(NAME)
    assert again.clients.counter.mutating == 0, again.clients.counter.by_operation
    assert live_inventory() == COMPLETE


def test_plan_reads_only_and_reports_actions(mocked_aws: None) -> None:
    fresh = ops.open_stack(stack_options(NAME), creating=True)
    outcomes = ops.plan(fresh)
    assert {o.action for o in outcomes} == {"create"}
    assert fresh.clients.counter.mutating == 0
    assert not fresh.store.path.exists()
    deploy(NAME)
    boto3.client("lambda").update_function_configuration(FunctionName=f"{NAME}-job-processor", MemorySize=128)
    stack = ops.open_stack(stack_options(NAME), creating=False)
    planned = {o.key: o for o in ops.plan(stack)}
    assert stack.clients.counter.mutating == 0
    assert planned["processor_fn"].action == "update"
    assert [(c.setting, c.live, c.desired) for c in planned["processor_fn"].changes] == [
        ("MemorySize", 128, 512)
    ]
    assert {o.action for k, o in planned.items() if k != "processor_fn"} == {"exists"}


@pytest.mark.parametrize(
    "drift, key",
    [
        ("queue_visibility", "main_queue"),
        ("redrive_removed", "main_queue"),
        ("policy_edited", "processor_role"),
        ("trust_edited", "api_role"),
        ("mapping_disabled", "mapping"),
        ("mapping_batch", "mapping"),
        ("function_env", "status_fn"),
        ("bucket_public", "bucket"),
        ("retention", "processor_logs"),
        ("template_edited", "routes"),
        ("permission_removed", "status_permission"),
        ("queue_deleted", "main_queue"),
        ("function_deleted", "processor_fn"),
        ("stage_deleted", "stage"),
        ("table_deleted", "table"),
    ],
)
def test_drift_is_shown_by_status_and_repaired_by_up(mocked_aws: None, drift: str, key: str) -> None:
    stack = deploy(NAME)
    names = stack.ctx.names
    sqs, lam, iam = boto3.client("sqs"), boto3.client("lambda"), boto3.client("iam")
    apigw = boto3.client("apigateway")
    main_url = stack.state.resources["main_queue"]["url"]
    uuid = stack.state.resources["mapping"]["uuid"]
    api_id = stack.state.resources["rest_api"]["id"]
    if drift == "queue_visibility":
        sqs.set_queue_attributes(QueueUrl=main_url, Attributes={"VisibilityTimeout": "30"})
    elif drift == "redrive_removed":
        sqs.set_queue_attributes(QueueUrl=main_url, Attributes={"RedrivePolicy": ""})
    elif drift == "policy_edited":
        iam.put_role_policy(
            RoleName=names.processor_role,
            PolicyName="asyncapi-least-privilege",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
    elif drift == "trust_edited":
        iam.update_assume_role_policy(
            RoleName=names.api_role,
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
                }
            ),
        )
    elif drift == "mapping_disabled":
        lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    elif drift == "mapping_batch":
        lam.update_event_source_mapping(UUID=uuid, BatchSize=1, FunctionResponseTypes=[])
    elif drift == "function_env":
        lam.update_function_configuration(
            FunctionName=names.status_checker, Environment={"Variables": {"JOBS_TABLE_NAME": "other"}}
        )
    elif drift == "bucket_public":
        boto3.client("s3").delete_public_access_block(Bucket=names.bucket)
    elif drift == "retention":
        boto3.client("logs").delete_retention_policy(logGroupName=f"/aws/lambda/{names.processor}")
    elif drift == "template_edited":
        resources = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api_id)["items"]}
        apigw.put_integration(
            restApiId=api_id,
            resourceId=resources["/submit"],
            httpMethod="POST",
            type="AWS",
            integrationHttpMethod="POST",
            uri="arn:aws:apigateway:us-east-1:sqs:path/1/x",
            requestTemplates={"application/json": "Action=SendMessage&MessageBody=$input.body"},
        )
    elif drift == "permission_removed":
        lam.remove_permission(FunctionName=names.status_checker, StatementId="asyncapi-apigateway-invoke")
    elif drift == "queue_deleted":
        boto3.client("lambda").delete_event_source_mapping(UUID=uuid)
        sqs.delete_queue(QueueUrl=main_url)
    elif drift == "function_deleted":
        lam.delete_function(FunctionName=names.processor)
    elif drift == "stage_deleted":
        apigw.delete_stage(restApiId=api_id, stageName="prod")
    elif drift == "table_deleted":
        boto3.client("dynamodb").delete_table(TableName=names.table)

    status = {o.key: o for o in ops.plan(ops.open_stack(stack_options(NAME), creating=False))}
    assert status[key].action in {"update", "create"}, status[key]
    repaired = deploy(NAME)
    assert repaired.clients.counter.mutating > 0
    after = {o.key: o.action for o in ops.plan(ops.open_stack(stack_options(NAME), creating=False))}
    assert set(after.values()) == {"exists"}, after
    assert live_inventory() == COMPLETE


def test_lost_state_adopts_instead_of_duplicating(mocked_aws: None) -> None:
    first = deploy(NAME)
    first.store.path.unlink()
    adopted = deploy(NAME)
    assert adopted.clients.counter.mutating == 0
    assert live_inventory() == COMPLETE
    state_matches_reality(adopted.store.path)


def test_down_with_lost_state_finds_resources_by_name(mocked_aws: None) -> None:
    stack = deploy(NAME)
    stack.store.path.unlink()
    gone = ops.open_stack(stack_options(NAME), creating=False, allow_missing_state=True)
    ops.down(gone, SilentReporter())
    assert live_inventory() == EMPTY


def test_down_leaves_nothing_and_removes_state(mocked_aws: None) -> None:
    stack = deploy(NAME)
    boto3.client("s3").put_bucket_versioning(
        Bucket=f"{NAME}-results", VersioningConfiguration={"Status": "Enabled"}
    )
    s3 = boto3.client("s3")
    for version in range(3):
        s3.put_object(Bucket=f"{NAME}-results", Key="results/x.json", Body=f"{version}".encode())
    s3.delete_object(Bucket=f"{NAME}-results", Key="results/x.json")  # leaves a delete marker
    ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    assert live_inventory() == EMPTY
    assert not stack.store.path.exists()
    assert list(stack.store.path.parent.iterdir()) == []  # no lock file left behind either


def test_down_twice_treats_not_found_as_deleted(mocked_aws: None) -> None:
    stack = deploy(NAME)
    saved = stack.store.path.read_text()
    ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    stack.store.path.write_text(saved)  # a stale state that names resources already gone
    outcomes = ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    # The routes and stage go with their API, the invoke permission with its function (no calls);
    # "kept": the account's API Gateway CloudWatch role setting, never undone.
    assert {o.action for o in outcomes} <= {
        "absent",
        "deleted with rest_api",
        "deleted with status_fn",
        "kept",
    }
    assert live_inventory() == EMPTY


# The kill matrices (below and in test_faults.py) have one case per mutating call of `up` on an empty
# account, and of `down` after it. Their sizes are written here, for collection: counting them there
# meant a full deploy and teardown before any test ran, while every pytest-xdist worker waited on the
# one counting. The next test counts for real: a stack
# that makes more calls (a kill point untested) or fewer (a case that kills nothing) fails it.
UP_CALLS = 59
DOWN_CALLS = 30


def test_the_matrices_have_a_case_per_mutating_call(mocked_aws: None) -> None:
    up_calls = deploy(NAME).clients.counter.mutating
    stack = ops.open_stack(stack_options(NAME), creating=False)
    ops.down(stack, SilentReporter())
    counted = (up_calls, stack.clients.counter.mutating)
    assert counted == (UP_CALLS, DOWN_CALLS), (
        f"set UP_CALLS, DOWN_CALLS in tests/test_converge.py to {counted}"
    )


@pytest.mark.parametrize("k", range(1, UP_CALLS + 1))
def test_up_interrupted_after_each_mutating_call_resumes(k: int) -> None:
    from moto import mock_aws

    with mock_aws():
        fault = FailAfterMutatingCall(k)
        with pytest.raises(InjectedFault):
            deploy(NAME, hooks=[fault])
        state_path = Path(".asyncapi") / f"{NAME}.json"
        assert json.loads(state_path.read_text())["name"] == NAME  # recorded before the first resource
        resumed = deploy(NAME)
        assert live_inventory() == COMPLETE, fault.operations[-1]
        state_matches_reality(resumed.store.path)
        assert deploy(NAME).clients.counter.mutating == 0


@pytest.mark.parametrize("k", range(1, DOWN_CALLS + 1))
def test_down_interrupted_after_each_mutating_call_resumes(k: int) -> None:
    from moto import mock_aws

    with mock_aws():
        deploy(NAME)
        fault = FailAfterMutatingCall(k)
        with pytest.raises(InjectedFault):
            ops.down(ops.open_stack(stack_options(NAME, hooks=[fault]), creating=False), SilentReporter())
        ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
        assert live_inventory() == EMPTY, fault.operations[-1]
        assert not (Path(".asyncapi") / f"{NAME}.json").exists()
