"""The alarm kinds as CloudFormation: AWS::SNS::Topic (and its AWS::SNS::TopicPolicy),
AWS::SNS::Subscription, AWS::CloudWatch::Alarm and AWS::CloudWatch::Dashboard. Their properties are the
units' attribute maps under the same names (CloudFormation resource reference for each type)."""

from __future__ import annotations

import json
from typing import Any

from ..engine import Unit
from ..refs import Json
from .template import Builder, KindRenderer, Resources, get_att, name_of, ref_of


def topic(b: Builder, unit: Unit) -> Resources:
    attributes = dict(unit.attributes)  # type: ignore[attr-defined]
    policy = attributes.pop("Policy", None)
    logical = b.id_of(unit.key)
    properties = {"TopicName": b.value(unit.name), **{k: b.value(v) for k, v in attributes.items()}}
    properties["Tags"] = b.tags()
    resources: Resources = {logical: {"Type": "AWS::SNS::Topic", "Properties": properties}}
    if policy is not None:  # CreateTopic's Policy attribute is a resource of its own in CloudFormation
        document = policy.document if isinstance(policy, Json) else policy
        resources[f"{logical}Policy"] = {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {"PolicyDocument": b.value(document), "Topics": [{"Ref": logical}]},
        }
    return resources


def subscription(b: Builder, unit: Unit) -> Resources:
    properties = {k: b.value(v) for k, v in unit.attributes.items()}  # type: ignore[attr-defined]
    return {b.id_of(unit.key): {"Type": "AWS::SNS::Subscription", "Properties": properties}}


def alarm(b: Builder, unit: Unit) -> Resources:
    properties: dict[str, Any] = {"AlarmName": b.value(unit.name)}
    properties |= {k: b.value(v) for k, v in unit.attributes.items()}  # type: ignore[attr-defined]
    properties["Tags"] = b.tags()
    return {b.id_of(unit.key): {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}}


def dashboard(b: Builder, unit: Unit) -> Resources:
    body = unit.attributes["DashboardBody"]  # type: ignore[attr-defined]
    document = body.document if isinstance(body, Json) else body
    # DashboardBody is a string in CloudFormation; the body holds names only (no references).
    properties = {"DashboardName": b.value(unit.name), "DashboardBody": b.value(json.dumps(document))}
    return {b.id_of(unit.key): {"Type": "AWS::CloudWatch::Dashboard", "Properties": properties}}


RENDERERS: dict[str, KindRenderer] = {
    # An SNS topic's Ref is its ARN.
    "sns-topic": KindRenderer(topic, {"arn": ref_of, "name": get_att("TopicName")}),
    "sns-subscription": KindRenderer(subscription, {"arn": ref_of}),
    "cloudwatch-alarm": KindRenderer(alarm, {"arn": get_att("Arn"), "name": ref_of}),
    "cloudwatch-dashboard": KindRenderer(dashboard, {"name": name_of}),
}
