"""The CloudFormation template (parameters, resources, outputs) and the functions' package.

`asyncapi export cloudformation` writes DIR/template.yaml (or .json) and DIR/function.zip, the same
zip `up` deploys; upload it and pass its place as CodeS3Bucket/CodeS3Key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..names import MAX_NAME_LENGTH, StackSettings
from ..resources.queue import Queue
from ..secure_api import batch_throttle
from .configuration import export_units
from .kinds import RENDERERS
from .template import Builder, logical_id, render_resources

# CloudWatch Logs' allowed retention periods (PutRetentionPolicy's retentionInDays).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
CODE_KEY = "function.zip"


@dataclass(frozen=True)
class Export:
    template: dict[str, Any]
    code_zip: bytes
    code_sha256: str


def _parameters(name: str, settings: StackSettings) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "ProjectName": {
            "Type": "String",
            "Default": name,
            "Description": "Every resource name derives from it, as with asyncapi up --name.",
            "AllowedPattern": "^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
            "MinLength": 3,
            "MaxLength": MAX_NAME_LENGTH,
        },
        "CodeS3Bucket": {"Type": "String", "Description": "The bucket function.zip was uploaded to."},
        "CodeS3Key": {"Type": "String", "Default": CODE_KEY, "Description": "function.zip's key."},
        "ThrottleRateLimit": {
            "Type": "Number",
            "Default": settings.throttle_rate_limit,
            "MinValue": 0,
            "Description": "Stage (and usage plan) steady rate, requests per second.",
        },
        "ThrottleBurstLimit": {
            "Type": "Number",
            "Default": settings.throttle_burst_limit,
            "MinValue": 0,
            "Description": "Stage (and usage plan) burst, requests.",
        },
        "LogRetentionDays": {
            "Type": "Number",
            "Default": settings.log_retention_days,
            "AllowedValues": list(LOG_RETENTION_DAYS),
            "Description": "Retention of every log group of the stack.",
        },
    }
    if "batches" in settings.features:
        batches = batch_throttle(settings.throttle_rate_limit, settings.throttle_burst_limit)
        parameters["BatchesThrottleRateLimit"] = {
            "Type": "Number",
            "Default": batches["throttlingRateLimit"],
            "MinValue": 0,
            "Description": "POST /batches' own steady rate: a request carries up to 100 jobs, so the stage's "
            "rate / 100 keeps batch jobs at the stage's pace.",
        }
        parameters["BatchesThrottleBurstLimit"] = {
            "Type": "Number",
            "Default": batches["throttlingBurstLimit"],
            "MinValue": 0,
            "Description": "POST /batches' own burst, requests.",
        }
    return parameters


def _outputs(builder: Builder) -> dict[str, Any]:
    units = builder.units
    outputs: dict[str, Any] = {
        "ApiId": {"Value": {"Ref": builder.id_of("rest_api")}},
        "ApiUrl": {"Value": builder.ref_attr("stage", "url")},
        "JobsTableName": {"Value": builder.ref_attr("table", "name")},
        "ResultsBucketName": {"Value": builder.ref_attr("bucket", "name")},
    }
    for key, unit in units.items():
        if isinstance(unit, Queue):
            outputs[logical_id(key, "Url")] = {"Value": builder.ref_attr(key, "url")}
    if "ws_stage" in units:
        outputs["WebSocketUrl"] = {"Value": builder.ref_attr("ws_stage", "url")}
    if "api_key" in units:
        outputs["ApiKeyId"] = {"Value": builder.ref_attr("api_key", "id")}
    return outputs


def cloudformation_template(name: str, settings: StackSettings) -> dict[str, Any]:
    """The template of the stack `up` would deploy with these settings, ProjectName defaulting to name."""
    ctx, units = export_units(settings)
    resources, builder = render_resources(ctx, units, RENDERERS)
    features = ", ".join(sorted(settings.features)) or "none"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"asyncapi stack: API Gateway -> SQS -> Lambda -> DynamoDB/S3; features: {features}",
        "Parameters": _parameters(name, settings) | builder.parameters,
        **({"Conditions": builder.conditions} if builder.conditions else {}),
        "Resources": resources,
        "Outputs": _outputs(builder),
    }


def export_stack(name: str, settings: StackSettings) -> Export:
    from ..package import build_code

    build = build_code(settings, local=False)
    return Export(cloudformation_template(name, settings), build.code.zip_bytes, build.code.sha256_b64)
