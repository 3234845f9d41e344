"""Units that know no recipe: dependencies derived from references, a second queue from stack data
alone, and the settings the units take generically (architecture, concurrency, scaling, tags)."""

from __future__ import annotations

import dataclasses
from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.engine import Context, SilentReporter
from asyncapi_cli.names import TAG_KEY
from asyncapi_cli.refs import Json, Ref, Sub, ref, refs_in, resolve
from asyncapi_cli.resources.mapping import EventSourceMapping
from asyncapi_cli.resources.queue import Queue
from asyncapi_cli.stack import build_units

from .conftest import deploy, stack_options
from .stack_units import stack_units

NAME = "unit-stack"


def test_refs_resolve_from_records_and_name_their_units() -> None:
    records = {"dlq": {"arn": "arn:aws:sqs:us-east-1:1:q"}, "api": {"id": "abc"}}
    value = {
        "Redrive": Json({"deadLetterTargetArn": ref("dlq").arn, "maxReceiveCount": 3}),
        "Source": Sub.of("{api}/*/GET/status/*", api=ref("api").id),
        "List": [ref("api").id, "plain"],
    }
    assert refs_in(value) == {"dlq", "api"}
    assert resolve(value, records.__getitem__) == {
        "Redrive": '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:q", "maxReceiveCount": 3}',
        "Source": "abc/*/GET/status/*",
        "List": ["abc", "plain"],
    }
    with pytest.raises(KeyError, match="has no 'uuid'"):
        resolve(Ref("api", "uuid"), records.__getitem__)


def test_every_dependency_is_derived_and_names_a_unit_of_the_stack() -> None:
    units = {unit.key: unit for unit in stack_units(NAME)}
    for unit in units.values():
        assert set(unit.depends_on) <= set(units), unit.key
    # What the values need, not a list kept by hand beside them.
    # The main queue dead-letters into the recorder's inbox, which dead-letters into the DLQ.
    assert units["main_queue"].depends_on == ("dlq_inbox",)
    assert units["dlq_inbox"].depends_on == ("dlq",)
    assert units["recorder_fn"].depends_on == ("dlq", "recorder_logs", "recorder_role", "table")
    assert units["recorder_mapping"].depends_on == ("dlq_inbox", "recorder_fn")
    assert units["mapping"].depends_on == ("main_queue", "processor_fn")
    assert units["status_permission"].depends_on == ("rest_api", "status_fn")
    assert units["routes"].depends_on == ("api_role", "main_queue", "rest_api", "status_fn")
    assert units["processor_fn"].depends_on == ("bucket", "processor_logs", "processor_role", "table")
    assert units["stage"].depends_on == (
        "access_logs",
        "apigw_account",
        "rest_api",
        "routes",
        "status_permission",
    )
    assert units["routes"].deleted_with == "rest_api"


def _with_second_queue(ctx: Context, *, include_disabled: bool = False) -> list[Any]:
    """What a new queue feeding the processor adds to stack.py: two units, nothing anywhere else."""
    name = f"{ctx.names.project}-priority-queue"
    return [
        *build_units(ctx, include_disabled=include_disabled),
        Queue(
            key="priority_queue",
            name=name,
            attributes={
                "VisibilityTimeout": str(ctx.settings.main_visibility_timeout),
                "SqsManagedSseEnabled": "true",
                "RedrivePolicy": Json({"deadLetterTargetArn": ref("dlq").arn, "maxReceiveCount": 3}),
            },
        ),
        EventSourceMapping(
            key="priority_mapping",
            name=f"{name} -> {ctx.names.processor}",
            attributes={
                "EventSourceArn": ref("priority_queue").arn,
                "FunctionName": ref("processor_fn").name,
                "BatchSize": 1,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        ),
    ]


def test_a_second_queue_with_its_mapping_is_stack_data_only(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops, "build_units", _with_second_queue)
    stack = deploy(NAME)
    sqs, lam = boto3.client("sqs"), boto3.client("lambda")
    queues = [u for u in stack_units(NAME) if u.kind == "sqs-queue"]
    assert len(sqs.list_queues(QueueNamePrefix=NAME)["QueueUrls"]) == len(queues) + 1
    mappings = lam.list_event_source_mappings(FunctionName=f"{NAME}-job-processor")["EventSourceMappings"]
    by_source = {m["EventSourceArn"].rsplit(":", 1)[1]: m for m in mappings}
    assert set(by_source) == {f"{NAME}-main-queue", f"{NAME}-priority-queue"}
    assert by_source[f"{NAME}-priority-queue"]["BatchSize"] == 1
    assert stack.state.resources["priority_mapping"]["uuid"] == by_source[f"{NAME}-priority-queue"]["UUID"]
    assert deploy(NAME).clients.counter.mutating == 0
    ops.down(ops.open_stack(stack_options(NAME), creating=False), SilentReporter())
    assert sqs.list_queues(QueueNamePrefix=NAME).get("QueueUrls", []) == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def _up_with(settings_changes: dict[str, Any]) -> ops.Stack:
    stack = ops.open_stack(stack_options(NAME), creating=True)
    stack.ctx.settings = dataclasses.replace(stack.ctx.settings, **settings_changes)
    ops.up(stack, SilentReporter())
    return stack


def _plan_with(settings_changes: dict[str, Any]) -> dict[str, Any]:
    stack = ops.open_stack(stack_options(NAME), creating=False)
    stack.ctx.settings = dataclasses.replace(stack.ctx.settings, **settings_changes)
    planned = {o.key: o for o in ops.plan(stack)}
    assert stack.clients.counter.mutating == 0
    return planned


def test_settings_reach_the_units_and_changes_converge(mocked_aws: None) -> None:
    first = {
        "architecture": "arm64",
        "reserved_concurrency": 5,
        "max_concurrency": 4,
        "extra_tags": (("team", "payments"), (TAG_KEY, "not-this")),
    }
    stack = _up_with(first)
    lam = boto3.client("lambda")
    processor = lam.get_function_configuration(FunctionName=f"{NAME}-job-processor")
    assert processor["Architectures"] == ["arm64"]
    assert (
        lam.get_function_concurrency(FunctionName=f"{NAME}-job-processor")["ReservedConcurrentExecutions"]
        == 5
    )
    (mapping,) = lam.list_event_source_mappings(FunctionName=f"{NAME}-job-processor")["EventSourceMappings"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 4}
    # Extra tags on every taggable resource; the stack's own tag cannot be overridden.
    main_url = stack.state.resources["main_queue"]["url"]
    api_id = stack.state.resources["rest_api"]["id"]
    tag_sets = {
        "queue": boto3.client("sqs").list_queue_tags(QueueUrl=main_url)["Tags"],
        "function": lam.list_tags(Resource=processor["FunctionArn"])["Tags"],
        "bucket": {
            t["Key"]: t["Value"]
            for t in boto3.client("s3").get_bucket_tagging(Bucket=f"{NAME}-results")["TagSet"]
        },
        "role": {
            t["Key"]: t["Value"]
            for t in boto3.client("iam").list_role_tags(RoleName=f"{NAME}-lambda-role")["Tags"]
        },
        "api": boto3.client("apigateway").get_rest_api(restApiId=api_id)["tags"],
        "logs": boto3.client("logs").list_tags_log_group(logGroupName=f"/aws/lambda/{NAME}-job-processor")[
            "tags"
        ],
    }
    for kind, tags in tag_sets.items():
        assert (tags.get("team"), tags.get(TAG_KEY)) == ("payments", NAME), kind
    assert _up_with(first).clients.counter.mutating == 0

    second = first | {"reserved_concurrency": None, "max_concurrency": 8}
    planned = _plan_with(second)
    assert [(c.setting, c.live, c.desired) for c in planned["processor_fn"].changes] == [
        ("ReservedConcurrentExecutions", 5, None),
    ]
    assert [(c.setting, c.desired) for c in planned["mapping"].changes] == [
        ("ScalingConfig", {"MaximumConcurrency": 8})
    ]
    _up_with(second)
    assert (
        lam.get_function_concurrency(FunctionName=f"{NAME}-job-processor").get("ReservedConcurrentExecutions")
        is None
    )
    (mapping,) = lam.list_event_source_mappings(FunctionName=f"{NAME}-job-processor")["EventSourceMappings"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 8}
    assert {o.action for o in _plan_with(second).values()} == {"exists"}

    third = second | {"architecture": "x86_64"}
    planned = _plan_with(third)
    assert [(c.setting, c.live, c.desired) for c in planned["processor_fn"].changes] == [
        ("Architectures", ["arm64"], ["x86_64"]),
    ]
    # Lambda changes the architecture with UpdateFunctionCode (Lambda API reference,
    # UpdateFunctionCode: "Architectures"; UpdateFunctionConfiguration has no such parameter).
    # moto 5 ignores it there, so what reaches the API is checked instead of the live value.
    sent: list[dict[str, Any]] = []

    def capture(client: Any) -> None:
        client.meta.events.register(
            "provide-client-params.lambda.UpdateFunctionCode", lambda params, **_: sent.append(dict(params))
        )

    stack = ops.open_stack(stack_options(NAME, hooks=[capture]), creating=False)
    stack.ctx.settings = dataclasses.replace(stack.ctx.settings, **third)
    ops.up(stack, SilentReporter())
    assert [(p["FunctionName"], p["Architectures"]) for p in sent] == [(f"{NAME}-job-processor", ["x86_64"])]
