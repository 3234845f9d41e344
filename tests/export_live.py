"""For the export comparison test: a template resolved against a stack `up` deployed (its parameters,
and every Ref / Fn::GetAtt / Fn::Sub read from the state file's records through the same attribute
table the renderers use), and readers that describe a live resource in its CloudFormation shape.

The property names and shapes follow the CloudFormation resource reference (AWS::SQS::Queue,
AWS::Lambda::Function, AWS::ApiGateway::Method, ...); the live values come from the services' own
describe calls on moto, so a renderer that maps a field wrongly (a name, a type, a nesting) fails.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3

from asyncapi_cli.export.kinds import RENDERERS
from asyncapi_cli.export.template import Builder

REGION, ACCOUNT = "us-east-1", "123456789012"


class Resolver:
    """Evaluates the template's intrinsics for the deployed stack."""

    def __init__(self, template: dict[str, Any], builder: Builder, records: dict[str, Any], name: str):
        self.parameters = {key: spec.get("Default") for key, spec in template["Parameters"].items()}
        self.parameters |= {
            "ProjectName": name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.intrinsics: dict[str, Any] = {}
        for key, unit in builder.units.items():
            for attr, intrinsic in RENDERERS[unit.kind].attributes.items():
                if attr in records.get(key, {}):
                    self.intrinsics[json.dumps(intrinsic(builder, unit), sort_keys=True)] = records[key][attr]

    def _lookup(self, intrinsic: dict[str, Any]) -> Any:
        if "Ref" in intrinsic and intrinsic["Ref"] in self.parameters:
            return self.parameters[intrinsic["Ref"]]
        text = json.dumps(intrinsic, sort_keys=True)
        if text not in self.intrinsics:
            raise KeyError(f"no deployed value for {text}")
        return self.intrinsics[text]

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.value(variables[name]))
            intrinsic = (
                {"Fn::GetAtt": name.split(".", 1)}
                if "." in name and not name.startswith("AWS::")
                else {"Ref": name}
            )
            try:
                return str(self._lookup(intrinsic))
            except KeyError:
                return match.group(0)  # a structural id (an integration's): the reader checks it

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Fn::Sub"}:
                body = value["Fn::Sub"]
                return self.sub(body, {}) if isinstance(body, str) else self.sub(body[0], body[1])
            if set(value) in ({"Ref"}, {"Fn::GetAtt"}):
                try:
                    return self._lookup(value)
                except KeyError:
                    return value  # a structural id (a method's resource): compared by path instead
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def paths_by_id(template: dict[str, Any]) -> dict[str, str]:
    """Each AWS::ApiGateway::Resource's path, from its PathPart and parent chain."""
    resources = template["Resources"]
    paths: dict[str, str] = {}

    def path_of(logical: str) -> str:
        if logical not in paths:
            props = resources[logical]["Properties"]
            parent = props["ParentId"]
            prefix = path_of(parent["Ref"]) if "Ref" in parent else ""
            paths[logical] = f"{prefix}/{props['PathPart']}"
        return paths[logical]

    for logical, resource in resources.items():
        if resource["Type"] == "AWS::ApiGateway::Resource":
            path_of(logical)
    return paths


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def queue(props: dict[str, Any]) -> dict[str, Any]:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=props["QueueName"])["QueueUrl"]
    live = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    out: dict[str, Any] = {"QueueName": props["QueueName"]}
    for key in ("MessageRetentionPeriod", "VisibilityTimeout"):
        out[key] = int(live[key])
    out["SqsManagedSseEnabled"] = live.get("SqsManagedSseEnabled") == "true"
    if "RedrivePolicy" in live:
        policy = json.loads(live["RedrivePolicy"])
        out["RedrivePolicy"] = {
            "deadLetterTargetArn": policy["deadLetterTargetArn"],
            "maxReceiveCount": int(policy["maxReceiveCount"]),
        }
    out["Tags"] = _tag_list(sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))
    return out


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def bucket(props: dict[str, Any]) -> dict[str, Any]:
    s3 = client("s3")
    name = props["BucketName"]
    rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    return {
        "BucketName": name,
        "PublicAccessBlockConfiguration": s3.get_public_access_block(Bucket=name)[
            "PublicAccessBlockConfiguration"
        ],
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": rule["ApplyServerSideEncryptionByDefault"]}
                for rule in rules
            ]
        },
        "Tags": s3.get_bucket_tagging(Bucket=name)["TagSet"],
    }


def role(props: dict[str, Any]) -> dict[str, Any]:
    iam = client("iam")
    name = props.get("RoleName")
    if name is None:  # the account's API Gateway CloudWatch role: `up` names it, the template does not
        from asyncapi_cli.resources.apigw_account import ROLE_NAME

        name = ROLE_NAME
    live = iam.get_role(RoleName=name)["Role"]
    policies = [
        {
            "PolicyName": policy,
            "PolicyDocument": iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"],
        }
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
    ]
    out = {
        "AssumeRolePolicyDocument": live["AssumeRolePolicyDocument"],
        "Policies": policies,
        "Tags": live.get("Tags", []),
    }
    if "RoleName" in props:
        out |= {"RoleName": live["RoleName"], "Description": live.get("Description", "")}
    return out


def log_group(props: dict[str, Any]) -> dict[str, Any]:
    logs = client("logs")
    name = props["LogGroupName"]
    (live,) = [
        g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name
    ]
    arn = live["arn"].removesuffix(":*")
    return {
        "LogGroupName": name,
        "RetentionInDays": live.get("retentionInDays"),
        "Tags": _tag_list(logs.list_tags_for_resource(resourceArn=arn).get("tags", {})),
    }


def table(props: dict[str, Any]) -> dict[str, Any]:
    dynamodb = client("dynamodb")
    name = props["TableName"]
    live = dynamodb.describe_table(TableName=name)["Table"]
    out: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": live["AttributeDefinitions"],
        "KeySchema": live["KeySchema"],
        "BillingMode": (live.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        "Tags": dynamodb.list_tags_of_resource(ResourceArn=live["TableArn"]).get("Tags", []),
    }
    sse = live.get("SSEDescription") or {}
    if sse.get("Status") in ("ENABLED", "ENABLING"):
        out["SSESpecification"] = {"SSEEnabled": True} | (
            {"SSEType": sse["SSEType"]} if "SSEType" in sse else {}
        )
    stream = live.get("StreamSpecification") or {}
    if stream.get("StreamEnabled"):
        out["StreamSpecification"] = {"StreamViewType": stream["StreamViewType"]}
    indexes = live.get("GlobalSecondaryIndexes") or []
    if indexes:
        out["GlobalSecondaryIndexes"] = [
            {key: index[key] for key in ("IndexName", "KeySchema", "Projection")} for index in indexes
        ]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        out["TimeToLiveSpecification"] = {"AttributeName": ttl["AttributeName"], "Enabled": True}
    return out


def function(props: dict[str, Any]) -> dict[str, Any]:
    lam = client("lambda")
    name = props["FunctionName"]
    live = lam.get_function_configuration(FunctionName=name)
    out = {
        key: live.get(key) for key in ("FunctionName", "Runtime", "Handler", "MemorySize", "Timeout", "Role")
    }
    out["Architectures"] = live.get("Architectures") or ["x86_64"]
    out["Environment"] = {"Variables": (live.get("Environment") or {}).get("Variables", {})}
    reserved = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    if reserved is not None:
        out["ReservedConcurrentExecutions"] = reserved
    out["Tags"] = _tag_list(lam.list_tags(Resource=live["FunctionArn"]).get("Tags", {}))
    return out


def permission(props: dict[str, Any]) -> dict[str, Any]:
    policy = json.loads(client("lambda").get_policy(FunctionName=props["FunctionName"])["Policy"])
    matching = [
        s for s in policy["Statement"] if s["Condition"]["ArnLike"]["AWS:SourceArn"] == props["SourceArn"]
    ]
    assert len(matching) == 1, f"no statement of {props['FunctionName']} allows {props['SourceArn']}"
    (statement,) = matching
    return {
        "FunctionName": props["FunctionName"],
        "Action": statement["Action"],
        "Principal": statement["Principal"]["Service"],
        "SourceArn": statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        "SourceAccount": statement["Condition"]["StringEquals"]["AWS:SourceAccount"],
    }


def mapping(props: dict[str, Any]) -> dict[str, Any]:
    lam = client("lambda")
    found = [
        m
        for m in lam.list_event_source_mappings(FunctionName=props["FunctionName"])["EventSourceMappings"]
        if m["EventSourceArn"] == props["EventSourceArn"]
    ]
    assert len(found) == 1, f"no mapping {props['EventSourceArn']} -> {props['FunctionName']}"
    live = found[0]
    out = {key: live[key] for key in props if key in live and key not in ("FunctionArn",)}
    out["FunctionName"] = (
        props["FunctionName"]
        if live["FunctionArn"].endswith(f":{props['FunctionName']}")
        else live["FunctionArn"]
    )
    out["Enabled"] = live["State"] in ("Enabled", "Enabling", "Creating")
    return out


def secret(props: dict[str, Any]) -> dict[str, Any]:
    live = client("secretsmanager").describe_secret(SecretId=props["Name"])
    return {"Name": live["Name"], "Description": live.get("Description"), "Tags": live.get("Tags", [])}


def schedule_group(props: dict[str, Any]) -> dict[str, Any]:
    scheduler = client("scheduler")
    live = scheduler.get_schedule_group(Name=props["Name"])
    tags = scheduler.list_tags_for_resource(ResourceArn=live["Arn"]).get("Tags", [])
    return {"Name": live["Name"], "Tags": tags}
