"""Shared shapes for the features' deploy-side data (what the stack's units will be built from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Target:
    """Where the stack lives: enough to name and scope every ARN."""

    stack: str
    region: str
    account: str
    partition: str = "aws"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def log_statement(self, function_name: str) -> dict[str, Any]:
        group = f"/aws/lambda/{function_name}"
        return statement(
            ["logs:CreateLogStream", "logs:PutLogEvents"], [self.arn("logs", f"log-group:{group}:*")]
        )


@dataclass(frozen=True)
class FunctionData:
    name: str
    handler: str  # module.function inside the shared Lambda zip (handlers/)
    memory: int
    timeout: int
    environment: dict[str, str]
    role_name: str
    policy: dict[str, Any]
    log_group: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def statement(actions: list[str], resources: list[str], **condition: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        found["Condition"] = condition
    return found


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def lambda_function(
    target: Target,
    suffix: str,
    role_suffix: str,
    handler: str,
    memory: int,
    timeout: int,
    env: dict[str, str],
    *stmts: Any,
) -> FunctionData:
    """Role names stay within IAM's 64 characters for the longest stack name (47): suffix <= 17."""
    name = f"{target.stack}-{suffix}"
    return FunctionData(
        name=name,
        handler=handler,
        memory=memory,
        timeout=timeout,
        environment=env,
        role_name=f"{target.stack}-{role_suffix}",
        policy=policy(*stmts, target.log_statement(name)),
        log_group=f"/aws/lambda/{name}",
    )
