"""API Gateway's account-level CloudWatch role, which stage access logs need.

AWS docs, "Set up CloudWatch logging for REST APIs in API Gateway": "To enable CloudWatch Logs, you
must grant API Gateway permission to read and write logs to CloudWatch for your account"; the role's
ARN is an account setting per region (`apigateway get-account` -> cloudwatchRoleArn), and the AWS
managed policy AmazonAPIGatewayPushToCloudWatchLogs lists the permissions. Without it, UpdateStage with
accessLogSettings is refused ("CloudWatch Logs role ARN must be set in account settings").

This is an account-wide setting shared with every other API in the region, so the unit is careful:
- when a role is already set, it is used as it is (nothing is changed);
- only when none is set does `up` create ROLE_NAME (one role for every asyncapi stack) and set it,
  and says so in its output;
- `down` never unsets it nor deletes the role: other APIs in the account may log through it by then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import Change, Context, Found
from . import Resource

ROLE_NAME = "asyncapi-apigateway-cloudwatch-logs"
POLICY_NAME = "apigateway-push-to-cloudwatch-logs"
# The AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs (version 1), copied as an inline policy:
# every API in the account and region logs through this role, so it names no single log group. Inline
# also works where AWS managed policies are not loaded (moto, some LocalStack setups).
PUSH_TO_CLOUDWATCH_LOGS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
            ],
            "Resource": "*",
        }
    ],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def _fresh_role_refused(exc: Exception) -> bool:
    # A new role takes seconds to reach API Gateway: "The role ARN does not have required permissions
    # set to API Gateway" until it does (the IAM eventual consistency every fresh role shows).
    return error_code(exc) == "BadRequestException" and "role" in str(exc).lower()


@dataclass(kw_only=True)
class ApiGatewayAccountLogging(Resource):
    """No attributes: ensures the account's CloudWatch role is set, creating one only when unset."""

    kind = "apigateway-account"
    kept_on_down = True  # down reports it "kept" and calls nothing

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"cloudwatch_role_arn": ctx.arn("iam", f"role/{ROLE_NAME}", region=False), "created": False}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        arn = ctx.clients("apigateway").get_account().get("cloudwatchRoleArn")
        if not arn:
            return None
        created = bool(recorded and recorded.get("created") and recorded.get("cloudwatch_role_arn") == arn)
        return Found({"cloudwatch_role_arn": arn, "created": created})

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        return []

    def create(self, ctx: Context) -> dict[str, Any]:
        iam = ctx.clients("iam")
        try:
            arn = iam.create_role(
                RoleName=ROLE_NAME,
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description="API Gateway access logs to CloudWatch Logs (account setting; made by asyncapi)",
                Tags=[{"Key": "asyncapi:account-setting", "Value": "apigateway-cloudwatch-role"}],
            )["Role"]["Arn"]
        except Exception as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            arn = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=ROLE_NAME, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(PUSH_TO_CLOUDWATCH_LOGS)
        )
        ctx.pacer_retry(
            lambda: ctx.clients("apigateway").update_account(
                patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
            ),
            retry_if=_fresh_role_refused,
            what="API Gateway to accept the new CloudWatch role",
            timeout=120.0,
        )
        return {"cloudwatch_role_arn": arn, "created": True}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        return None  # an account-wide setting: never unset, and its role is kept (see the docstring)
