"""For the export comparison test: the alarm kinds read back in their CloudFormation shape
(AWS::SNS::Topic, AWS::SNS::TopicPolicy, AWS::SNS::Subscription, AWS::CloudWatch::Alarm,
AWS::CloudWatch::Dashboard, per the CloudFormation resource reference), from the services' own calls."""

from __future__ import annotations

import json
from typing import Any

from .export_live import ACCOUNT, REGION, client


def _topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


def topic(props: dict[str, Any]) -> dict[str, Any]:
    sns = client("sns")
    arn = _topic_arn(props["TopicName"])
    live = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    return {
        "TopicName": arn.rsplit(":", 1)[1],
        "DisplayName": live.get("DisplayName"),
        "Tags": sns.list_tags_for_resource(ResourceArn=arn).get("Tags", []),
    }


def topic_policy(props: dict[str, Any]) -> dict[str, Any]:
    [arn] = props["Topics"]
    live = client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    return {"Topics": [live["TopicArn"]], "PolicyDocument": json.loads(live["Policy"])}


def subscription(props: dict[str, Any]) -> dict[str, Any]:
    live = client("sns").list_subscriptions_by_topic(TopicArn=props["TopicArn"])["Subscriptions"]
    [found] = [s for s in live if s["Endpoint"] == props["Endpoint"]]
    return {key: found[key] for key in ("TopicArn", "Protocol", "Endpoint")}


def alarm(props: dict[str, Any]) -> dict[str, Any]:
    cloudwatch = client("cloudwatch")
    [live] = cloudwatch.describe_alarms(AlarmNames=[props["AlarmName"]])["MetricAlarms"]
    keys = (
        "AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "Namespace",
        "MetricName", "Dimensions", "Statistic", "Period", "EvaluationPeriods", "DatapointsToAlarm",
        "Threshold", "ComparisonOperator", "TreatMissingData",
    )  # fmt: skip
    out = {key: live.get(key) for key in keys}
    out["Tags"] = cloudwatch.list_tags_for_resource(ResourceARN=live["AlarmArn"]).get("Tags", [])
    return out


def dashboard(props: dict[str, Any]) -> dict[str, Any]:
    live = client("cloudwatch").get_dashboard(DashboardName=props["DashboardName"])
    return {"DashboardName": live["DashboardName"], "DashboardBody": live["DashboardBody"]}
