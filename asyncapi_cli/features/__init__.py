"""Optional features of the stack, as deploy-side DATA for the stack's units to wire.

Each module is a set of plain functions of the stack's names and ARNs returning dicts: queue and
function specs, role policy statements, API method definitions in routes.py's normalized method shape,
JSON-schema models and mapping templates. Nothing here calls AWS except the few helpers the CLI needs
(webhooks.read_secret). The Lambda code they deploy lives in handlers/ (same zip as the processor).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..names import StackNames

if TYPE_CHECKING:
    from ..engine import Context

FEATURES = ("webhooks", "priorities", "batches")
SECONDS_14_DAYS = 1_209_600


@dataclass(frozen=True)
class FeatureTarget:
    """Where the stack lives: its names, region, account and partition."""

    names: StackNames
    region: str
    account: str
    partition: str = "aws"

    @classmethod
    def of(cls, ctx: Context) -> FeatureTarget:
        """The target of the stack a context deploys."""
        return cls(ctx.names, ctx.region, ctx.account, ctx.partition)

    @property
    def project(self) -> str:
        return self.names.project

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def queue_arn(self, name: str) -> str:
        return self.arn("sqs", name)

    @property
    def table_arn(self) -> str:
        return self.arn("dynamodb", f"table/{self.names.table}")

    def bucket_objects_arn(self, prefix: str) -> str:
        return f"arn:{self.partition}:s3:::{self.names.bucket}/{prefix}*"

    def sqs_integration_uri(self, path: str) -> str:
        """An API Gateway AWS-service integration URI for SQS with a path override."""
        return f"arn:{self.partition}:apigateway:{self.region}:sqs:path/{path}"

    def lambda_integration_uri(self, function_arn: str) -> str:
        return (
            f"arn:{self.partition}:apigateway:{self.region}:lambda:"
            f"path/2015-03-31/functions/{function_arn}/invocations"
        )


def statement(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


POLICY_NAME = "asyncapi-least-privilege"  # every role's one inline policy (as stack.py names it)


def lambda_trust_policy() -> dict[str, Any]:
    return policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )


def log_statement(target: FeatureTarget, function_name: str) -> dict[str, Any]:
    """Only the function's own log group (created by `up`): no logs:CreateLogGroup on "*"."""
    group = StackNames.log_group(function_name)
    return statement(
        ["logs:CreateLogStream", "logs:PutLogEvents"], [target.arn("logs", f"log-group:{group}:*")]
    )


def queue_attributes(
    *, visibility_timeout: int, dlq_arn: str | None = None, max_receive_count: int = 3
) -> dict[str, str]:
    """SQS attributes as the base stack's queues have them: 14 days, SSE, redrive when a DLQ is given."""
    attributes = {
        "MessageRetentionPeriod": str(SECONDS_14_DAYS),
        "SqsManagedSseEnabled": "true",
        "VisibilityTimeout": str(visibility_timeout),
    }
    if dlq_arn is not None:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
        )
    return attributes


# Velocity: API Gateway's extendedRequestId (which, unlike requestId, a client cannot set) made
# URL-safe. It is base64-like; '+', '/' and '=' would break the /status/{jobId} path and JOB_ID_RE.
URL_SAFE_REQUEST_ID_VTL = "$context.extendedRequestId.replace('+', '-').replace('/', '_').replace('=', '')"
