"""The engine's two schedules: `up` waits only where a resource must exist, `down` follows
AWS's deletion order only; and waiters notice readiness within about a second."""

from __future__ import annotations

import random
from typing import Any

from asyncapi_cli.graph import down_edges, up_edges
from asyncapi_cli.retry import Pacer, wait_until

from .stack_units import stack_units


def _graph(edges: dict[str, set[str]]) -> dict[str, list[str]]:
    return {key: sorted(waits) for key, waits in edges.items() if waits}


def test_up_waits_only_for_what_must_exist() -> None:
    waits = _graph(up_edges(stack_units("graph-stack")))
    # A function needs its role (Lambda assumes it on CreateFunction) and its log group first; the
    # table and bucket in its environment are names known before they exist.
    assert waits["processor_fn"] == ["processor_logs", "processor_role"]
    assert waits["status_fn"] == ["status_logs", "status_role"]
    # The status function's ARN in the integration URI is computed from its name: API Gateway stores
    # it unchecked (PutIntegration), so the routes do not wait for the function.
    assert waits["routes"] == ["api_role", "main_queue", "rest_api"]
    assert waits["mapping"] == ["main_queue", "processor_fn"]
    # The stage's access logs need their log group and the account's CloudWatch role.
    assert waits["stage"] == ["access_logs", "apigw_account", "rest_api", "routes", "status_permission"]
    # A redrive policy's target must exist (CreateQueue checks deadLetterTargetArn): the main queue
    # redrives to the recorder's inbox, the inbox to the DLQ.
    assert waits["main_queue"] == ["dlq_inbox"]
    assert waits["dlq_inbox"] == ["dlq"]
    # The recorder waits for its role and log group, and for the DLQ only for its URL (a value
    # CreateQueue returns); its mapping needs the inbox and the function to exist.
    assert waits["recorder_fn"] == ["dlq", "recorder_logs", "recorder_role"]
    assert waits["recorder_mapping"] == ["dlq_inbox", "recorder_fn"]
    # An alarm notifies its topic (which must exist for its actions); the queue or function its metric
    # names is a name only (CloudWatch alarms on metrics nothing publishes yet).
    alarms = {key: keys for key, keys in waits.items() if key.startswith("alarm_")}
    assert alarms and set(map(tuple, alarms.values())) == {("alarm_topic",)}
    # Everything else starts at once (the table's CREATING no longer queues behind other roots).
    roots = set(up_edges(stack_units("graph-stack"))) - set(waits)
    assert roots == {"dlq", "bucket", "table", "rest_api", "api_role", "processor_role", "status_role"} | {
        "processor_logs",
        "status_logs",
        "access_logs",
        "apigw_account",
        "recorder_role",
        "recorder_logs",
        "alarm_topic",
        "dashboard",
    }


def test_down_follows_the_deletion_order_aws_needs_only() -> None:
    waits = _graph(down_edges(stack_units("graph-stack")))
    # DeleteEventSourceMapping: "enters a Deleting state and might not be completely deleted for
    # several seconds" (Lambda API reference): a Deleting mapping may still deliver a batch, so
    # its function and queue outlive it. A dead-letter queue outlives the queue that redrives to it.
    # The API goes before what its integrations name (nothing reaches a deleted function or queue),
    # and before the log group its stage writes access logs to.
    assert waits == {
        "processor_fn": ["mapping"],
        "status_fn": ["rest_api"],
        "api_role": ["rest_api"],
        "main_queue": ["mapping", "rest_api"],
        # The secure defaults' dead-letter path: main queue -> inbox -> DLQ, the recorder's mapping
        # gone before its function and its inbox.
        "dlq_inbox": ["main_queue", "recorder_mapping"],
        "dlq": ["dlq_inbox"],
        "recorder_fn": ["recorder_mapping"],
        "access_logs": ["rest_api"],
    }


def test_down_orders_children_through_their_parent() -> None:
    units = {unit.key: unit for unit in stack_units("graph-stack")}
    # Deleting a REST API deletes its resources, methods and stages; deleting a function deletes its
    # resource policy (DeleteRestApi, DeleteFunction): no DeleteStage, no RemovePermission.
    assert units["routes"].deleted_with == "rest_api"
    assert units["stage"].deleted_with == "rest_api"
    assert units["status_permission"].deleted_with == "status_fn"


def test_a_waiter_polls_at_most_about_a_second_apart() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    ready_at = 30.0

    def probe() -> Any:
        return now[0] >= ready_at

    pacer = Pacer(sleep=sleep, clock=lambda: now[0], rng=random.Random(7))
    assert wait_until(probe, pacer=pacer, what="a resource", timeout=60)
    assert max(sleeps) <= 1.0
    assert min(sleeps[3:]) >= 0.5  # jittered, never bunched near zero once grown
    assert now[0] - ready_at <= 1.0  # noticed within a poll interval
