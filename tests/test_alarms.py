"""The stack's alarms, topic, subscriptions and dashboard as `up` deploys them (in-process moto), read back
from CloudWatch and SNS: what each alarm watches and when it fires, who may publish to the topic, what
the dashboard graphs; drift repaired, `[alarms] enabled = false` deleting every one of them, a plain
http:// endpoint refused off the embedded AWS, and a subscription pending confirmation.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.errors import InputError

from .conftest import ACCOUNT, deploy, stack_options

NAME = "alarm-stack"
REGION = "us-east-1"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{NAME}-alarms"
BASE_ALARMS = {"dlq-messages", "queue-age", "processor-errors", "processor-throttles", "api-5xx"}


def alarms() -> dict[str, dict[str, Any]]:
    found = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix=NAME)["MetricAlarms"]
    return {a["AlarmName"].removeprefix(f"{NAME}-"): a for a in found}


def dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def test_each_alarm_watches_its_metric_and_notifies_the_topic_on_alarm_and_ok(mocked_aws: None) -> None:
    deploy(NAME)
    live = alarms()
    assert set(live) == BASE_ALARMS
    for alarm in live.values():
        assert alarm["AlarmActions"] == [TOPIC_ARN] and alarm["OKActions"] == [TOPIC_ARN]
        assert alarm["ActionsEnabled"] is True and alarm["Period"] == 60
        # No data is no breach for each of these metrics (alarms.py: SQS publishes only for active
        # queues, Lambda and API Gateway only when invoked): a quiet stack is OK.
        assert alarm["TreatMissingData"] == "notBreaching"
    dlq, age = live["dlq-messages"], live["queue-age"]
    assert (dlq["Namespace"], dlq["MetricName"], dimensions(dlq)) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": f"{NAME}-dlq"},
    )
    assert (dlq["Statistic"], dlq["ComparisonOperator"], dlq["Threshold"]) == (
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1.0,
    )
    assert (dlq["EvaluationPeriods"], dlq["DatapointsToAlarm"]) == (1, 1)  # one dead letter is enough
    assert (age["MetricName"], dimensions(age)) == (
        "ApproximateAgeOfOldestMessage",
        {"QueueName": f"{NAME}-main-queue"},
    )
    assert age["Threshold"] == 300 * 3  # the recipe's processor timeout x its 3 receives
    errors, throttles = live["processor-errors"], live["processor-throttles"]
    for alarm in (errors, throttles):
        assert (alarm["Namespace"], dimensions(alarm), alarm["Statistic"]) == (
            "AWS/Lambda",
            {"FunctionName": f"{NAME}-job-processor"},
            "Sum",
        )
    assert (errors["MetricName"], errors["EvaluationPeriods"], errors["DatapointsToAlarm"]) == (
        "Errors",
        3,
        1,
    )
    assert (throttles["MetricName"], throttles["EvaluationPeriods"], throttles["DatapointsToAlarm"]) == (
        "Throttles",
        5,
        5,
    )
    api = live["api-5xx"]
    # 5XXError is 0 or 1 per request: its Average is the share answered 5XX (AWS recommends 0.05).
    assert (api["Namespace"], api["MetricName"], dimensions(api)) == (
        "AWS/ApiGateway",
        "5XXError",
        {"ApiName": f"{NAME}-api", "Stage": "prod"},
    )
    assert (api["Statistic"], api["ComparisonOperator"], api["Threshold"]) == (
        "Average",
        "GreaterThanThreshold",
        0.05,
    )


def test_only_this_stacks_alarms_in_this_account_may_publish_to_the_topic(mocked_aws: None) -> None:
    deploy(NAME)
    attributes = boto3.client("sns").get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert (statement["Action"], statement["Resource"]) == ("sns:Publish", TOPIC_ARN)
    # The confused-deputy guard for alarm actions (CloudWatch user guide): this account, these alarms.
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert sorted(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == sorted(
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{NAME}-{suffix}" for suffix in BASE_ALARMS
    )
    # No SSE: CloudWatch cannot publish to a topic under the AWS-managed key (alarms.py).
    assert "KmsMasterKeyId" not in attributes


def test_features_bring_their_alarms_and_the_dashboard_graphs_their_queues(mocked_aws: None) -> None:
    deploy(NAME, features=frozenset({"webhooks", "priorities"}))
    assert set(alarms()) == BASE_ALARMS | {"webhooks-dlq-messages", "high-queue-age", "high-dlq-messages"}
    assert dimensions(alarms()["high-queue-age"]) == {"QueueName": f"{NAME}-high-queue"}
    body = json.loads(
        boto3.client("cloudwatch").get_dashboard(DashboardName=f"{NAME}-dashboard")["DashboardBody"]
    )
    graphed = {
        tuple(metric[:4])
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    }
    assert all(w["properties"]["region"] == REGION for w in body["widgets"] if w["type"] == "metric")
    for queue in ("dlq", "high-dlq", "webhooks-dlq", "main-queue", "high-queue"):
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"{NAME}-{queue}") in graphed
    assert ("asyncapi", "JobDuration", "Stack", NAME) in graphed  # the processor's EMF metrics
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(alarms())


def test_a_drifted_alarm_is_repaired_and_then_nothing_changes(mocked_aws: None) -> None:
    deploy(NAME)
    cloudwatch = boto3.client("cloudwatch")
    drifted = {k: v for k, v in alarms()["dlq-messages"].items() if k in PUT_KEYS} | {"Threshold": 50.0}
    cloudwatch.put_metric_alarm(**drifted)
    stack = ops.open_stack(stack_options(NAME), creating=False)
    planned = [(o.key, [c.setting for c in o.changes]) for o in ops.plan(stack) if o.action != "exists"]
    assert planned == [("alarm_dlq", ["Threshold"])]
    ops.up(stack, SilentReporter())
    assert alarms()["dlq-messages"]["Threshold"] == 1.0
    again = ops.open_stack(stack_options(NAME), creating=False)
    assert [o.action for o in ops.plan(again) if o.action != "exists"] == []


PUT_KEYS = {
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "MetricName",
    "Namespace", "Statistic", "Dimensions", "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData",
}  # fmt: skip


def test_alarms_off_deletes_topic_subscriptions_alarms_and_dashboard(mocked_aws: None) -> None:
    deploy(NAME, overrides={"alarm_notify": ("email:ops@example.com",)})
    stack = ops.open_stack(stack_options(NAME, overrides={"alarms": False}), creating=False)
    outcomes = ops.up(stack, SilentReporter())
    deleted = {o.kind for o in outcomes if o.action.startswith("deleted")}
    assert deleted == {"sns-topic", "sns-subscription", "cloudwatch-alarm", "cloudwatch-dashboard"}
    assert alarms() == {}
    assert boto3.client("cloudwatch").list_dashboards()["DashboardEntries"] == []
    assert boto3.client("sns").list_topics()["Topics"] == []
    assert not [k for k in stack.state.resources if k.startswith("alarm") or k == "dashboard"]


def test_plain_http_is_refused_off_the_embedded_aws_before_any_change(mocked_aws: None) -> None:
    options = stack_options(NAME, overrides={"alarm_notify": ("http://127.0.0.1:8080/sns",)})
    stack = ops.open_stack(options, creating=True)
    with pytest.raises(InputError, match=r"plain http:// is for the embedded AWS \(up --local\) only"):
        ops.up(stack, SilentReporter())
    assert stack.clients.counter.mutating == 0


def _pending_as_aws_answers(client: Any) -> None:
    """ListSubscriptionsByTopic as AWS answers it for a subscription awaiting confirmation: its
    SubscriptionArn is "PendingConfirmation" (SNS API reference, ListSubscriptionsByTopic; moto confirms
    every subscription at once)."""

    def pending(parsed: dict[str, Any], **_: Any) -> None:
        for item in parsed.get("Subscriptions", []):
            item["SubscriptionArn"] = "PendingConfirmation"

    if client.meta.service_model.service_name == "sns":
        client.meta.events.register("after-call.sns.ListSubscriptionsByTopic", pending)


def test_a_subscription_pending_confirmation_is_adopted_not_duplicated(mocked_aws: None) -> None:
    notify = {"alarm_notify": ("email:ops@example.com",)}
    first = deploy(NAME, overrides=notify)
    [key] = [k for k in first.state.resources if k.startswith("alarm_notify_")]
    subscribed_arn = first.state.resources[key]["arn"]  # ReturnSubscriptionArn: an ARN even while pending
    assert subscribed_arn.startswith(TOPIC_ARN + ":")
    # Found again while pending (the state keeps its ARN): nothing to do, no second subscription.
    stack = ops.open_stack(
        stack_options(NAME, overrides=notify, hooks=[_pending_as_aws_answers]), creating=False
    )
    assert [o.action for o in ops.up(stack, SilentReporter()) if o.key == key] == ["exists"]
    assert stack.state.resources[key]["arn"] == subscribed_arn
    assert len(boto3.client("sns").list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]) == 1
    # A state that lost the record adopts the pending one without an ARN, and later, with the endpoint
    # removed from notify, forgets it (SNS expires an unconfirmed subscription by itself).
    del stack.state.resources[key]
    stack.store.save()
    lost = ops.open_stack(
        stack_options(NAME, overrides=notify, hooks=[_pending_as_aws_answers]), creating=False
    )
    assert [o.action for o in ops.up(lost, SilentReporter()) if o.key == key] == ["adopted"]
    assert lost.state.resources[key]["arn"] is None
    removed = ops.open_stack(stack_options(NAME, overrides={"alarm_notify": ()}), creating=False)
    assert [o.action for o in ops.up(removed, SilentReporter()) if o.key == key] == ["absent"]
    assert key not in removed.state.resources


def test_dashboard_off_deletes_the_dashboard_alone_and_up_prints_its_console_url_on_aws(
    mocked_aws: None,
) -> None:
    stack = deploy(NAME)  # in-process moto stands for AWS here: the target is "aws"
    assert stack.state.outputs["dashboard_url"] == (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        f"#dashboards/dashboard/{NAME}-dashboard"
    )
    off = ops.open_stack(stack_options(NAME, overrides={"alarm_dashboard": False}), creating=False)
    changed = [(o.kind, o.action) for o in ops.up(off, SilentReporter()) if o.action != "exists"]
    assert changed == [("cloudwatch-dashboard", "deleted")]
    assert off.state.outputs["dashboard_url"] is None
    assert set(alarms()) == BASE_ALARMS


@pytest.mark.parametrize(
    ("region", "console"),
    [
        ("cn-north-1", "https://cn-north-1.console.amazonaws.cn/cloudwatch/"),
        ("us-gov-west-1", "https://us-gov-west-1.console.amazonaws-us-gov.com/cloudwatch/"),
        ("us-iso-east-1", None),  # no public console in the ISO partitions
    ],
)
def test_the_console_url_follows_the_partition(region: str, console: str | None) -> None:
    from types import SimpleNamespace

    from asyncapi_cli.alarms import dashboard_url
    from asyncapi_cli.names import StackNames, partition_of

    ctx = SimpleNamespace(partition=partition_of(region), region=region, names=StackNames(NAME))
    url = dashboard_url(ctx)  # type: ignore[arg-type]
    assert (url is None) if console is None else (url or "").startswith(console)
