"""One renderer per kind of unit: the unit's attribute map (the AWS API's field names, as `up` sends
them) as the CloudFormation resource's properties, and its record's attributes as intrinsics.

The API Gateway kinds are in kinds_api.py, the alarm kinds in kinds_alarms.py.
"""

from __future__ import annotations

from typing import Any

from ..engine import Unit
from . import kinds_alarms, kinds_api
from .template import Builder, KindRenderer, Resources, get_att, name_of, ref_of


def _sqs_value(value: Any) -> Any:
    """SQS takes every attribute as a string; CloudFormation types them (numbers, booleans)."""
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        if value in ("true", "false"):
            return value == "true"
    return value


def queue(b: Builder, unit: Any) -> Resources:
    properties = {"QueueName": b.value(unit.name)}
    for key, value in unit.attributes.items():
        properties[key] = b.value(_sqs_value(value))
    properties["Tags"] = [
        {"Key": k, "Value": b.value(v)} for k, v in sorted((unit.tags | b.ctx.tags).items())
    ]
    return {b.id_of(unit.key): {"Type": "AWS::SQS::Queue", "Properties": properties}}


def bucket(b: Builder, unit: Unit) -> Resources:
    attributes = unit.attributes  # type: ignore[attr-defined]
    rules = attributes["ServerSideEncryptionConfiguration"]["Rules"]
    properties = {
        "BucketName": b.value(unit.name),
        "PublicAccessBlockConfiguration": attributes["PublicAccessBlockConfiguration"],
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": rule["ApplyServerSideEncryptionByDefault"]}
                | ({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {})
                for rule in rules
            ]
        },
        "Tags": b.tags(),
    }
    # Job results are data: deleting the stack keeps the bucket (CloudFormation cannot delete a
    # bucket that holds objects; `aws s3 rb --force` removes it once they are not needed).
    return {
        b.id_of(unit.key): {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": properties,
        }
    }


def role(b: Builder, unit: Unit) -> Resources:
    attributes = unit.attributes  # type: ignore[attr-defined]
    properties = {
        "RoleName": b.value(unit.name),
        "AssumeRolePolicyDocument": b.value(attributes["AssumeRolePolicyDocument"]),
        "Description": b.value(attributes.get("Description", "")),
        "Policies": [
            {"PolicyName": name, "PolicyDocument": b.value(document)}
            for name, document in attributes.get("Policies", {}).items()
        ],
        "Tags": b.tags(),
    }
    return {b.id_of(unit.key): {"Type": "AWS::IAM::Role", "Properties": properties}}


def log_group(b: Builder, unit: Unit) -> Resources:
    properties = {
        "LogGroupName": b.value(unit.name),
        "RetentionInDays": b.value(unit.attributes["retentionInDays"]),  # type: ignore[attr-defined]
        "Tags": b.tags(),
    }
    return {b.id_of(unit.key): {"Type": "AWS::Logs::LogGroup", "Properties": properties}}


def log_group_arn(b: Builder, unit: Unit) -> Any:
    # The ARN without GetAtt's ":*" suffix: what a stage's access log destination takes (and `up` records).
    return {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${"
        + b.id_of(unit.key)
        + "}"
    }


def table(b: Builder, unit: Unit) -> Resources:
    attributes = dict(unit.attributes)  # type: ignore[attr-defined]
    properties: dict[str, Any] = {"TableName": b.value(unit.name)}
    # The same field names in CreateTable and AWS::DynamoDB::Table.
    same = (
        "AttributeDefinitions", "KeySchema", "BillingMode", "TimeToLiveSpecification",
        "GlobalSecondaryIndexes",
    )  # fmt: skip
    unrendered = set(attributes) - set(same) - {"StreamSpecification", "SSESpecification"}
    if unrendered:  # a setting up converges must never be dropped from the template silently
        raise ValueError(f"no CloudFormation rendering for the table's {', '.join(sorted(unrendered))}")
    for key in same:
        if key in attributes:
            properties[key] = b.value(attributes[key])
    stream = attributes.get("StreamSpecification") or {}
    if stream.get("StreamEnabled"):
        properties["StreamSpecification"] = {"StreamViewType": stream["StreamViewType"]}
    sse = attributes.get("SSESpecification")
    if sse:
        properties["SSESpecification"] = {"SSEEnabled": sse.get("Enabled", True)} | {
            k: v for k, v in sse.items() if k in ("SSEType", "KMSMasterKeyId")
        }
    properties["Tags"] = b.tags()
    return {b.id_of(unit.key): {"Type": "AWS::DynamoDB::Table", "Properties": properties}}


def function(b: Builder, unit: Unit) -> Resources:
    properties: dict[str, Any] = {"FunctionName": b.value(unit.name)}
    for key, value in unit.attributes.items():  # type: ignore[attr-defined]
        if value is not None:  # ReservedConcurrentExecutions None: unreserved
            properties[key] = b.value(value)
    properties["Code"] = {"S3Bucket": {"Ref": "CodeS3Bucket"}, "S3Key": {"Ref": "CodeS3Key"}}
    properties["Tags"] = b.tags()
    return {b.id_of(unit.key): {"Type": "AWS::Lambda::Function", "Properties": properties}}


def permission(b: Builder, unit: Unit) -> Resources:
    # StatementId is AddPermission's; CloudFormation names the statement itself.
    properties = {k: b.value(v) for k, v in unit.attributes.items() if k != "StatementId"}  # type: ignore
    return {b.id_of(unit.key): {"Type": "AWS::Lambda::Permission", "Properties": properties}}


def mapping(b: Builder, unit: Unit) -> Resources:
    properties = {k: b.value(v) for k, v in unit.attributes.items()}  # type: ignore[attr-defined]
    properties["Enabled"] = True
    return {b.id_of(unit.key): {"Type": "AWS::Lambda::EventSourceMapping", "Properties": properties}}


SECRET_HEX_CHARACTERS = 64  # webhooks.generate_secret: 32 random bytes as hex


def secret(b: Builder, unit: Unit) -> Resources:
    properties = {
        "Name": b.value(unit.name),
        **{k: b.value(v) for k, v in unit.attributes.items()},  # type: ignore[attr-defined]
        # Made by Secrets Manager on create, as `up` makes it: the value never appears in the template.
        "GenerateSecretString": {
            "PasswordLength": SECRET_HEX_CHARACTERS,
            "ExcludePunctuation": True,
            "IncludeSpace": False,
        },
        "Tags": b.tags(),
    }
    return {b.id_of(unit.key): {"Type": "AWS::SecretsManager::Secret", "Properties": properties}}


def schedule_group(b: Builder, unit: Unit) -> Resources:
    properties = {"Name": b.value(unit.name), "Tags": b.tags()}
    return {b.id_of(unit.key): {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": properties}}


ARN_AND_NAME = {"arn": get_att("Arn"), "name": ref_of}
RENDERERS: dict[str, KindRenderer] = {
    "sqs-queue": KindRenderer(queue, {"arn": get_att("Arn"), "name": get_att("QueueName"), "url": ref_of}),
    "s3-bucket": KindRenderer(bucket, ARN_AND_NAME),
    "iam-role": KindRenderer(role, ARN_AND_NAME),
    "log-group": KindRenderer(log_group, {"arn": log_group_arn, "name": ref_of}),
    "dynamodb-table": KindRenderer(table, ARN_AND_NAME | {"stream_arn": get_att("StreamArn")}),
    "lambda-function": KindRenderer(function, ARN_AND_NAME),
    "lambda-permission": KindRenderer(permission, {}),
    "event-source-mapping": KindRenderer(mapping, {"uuid": ref_of}),
    "secretsmanager-secret": KindRenderer(secret, {"arn": ref_of, "name": name_of}),
    "scheduler-schedule-group": KindRenderer(schedule_group, ARN_AND_NAME),
    **kinds_api.RENDERERS,
    **kinds_alarms.RENDERERS,
}
