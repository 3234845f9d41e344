"""IAM roles: a trust policy, one scoped inline policy, nothing attached that we did not ask for."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import Change, Context, Found
from . import ignore_not_found, or_none

INLINE_POLICY_NAME = "asyncapi-least-privilege"


@dataclass
class Role:
    key: str
    service: str  # the principal trusted to assume the role
    role_name: Callable[[Context], str]
    policy: Callable[[Context], dict[str, Any]]
    kind: str = "iam-role"
    depends_on: tuple[str, ...] = ()

    def name(self, ctx: Context) -> str:
        return self.role_name(ctx)

    def trust_policy(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": self.service}, "Action": "sts:AssumeRole"}
            ],
        }

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name(ctx), "arn": ctx.arn("iam", f"role/{self.name(ctx)}", region=False)}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        iam = ctx.clients("iam")
        response = or_none(lambda: iam.get_role(RoleName=self.name(ctx)))
        if response is None:
            return None
        role = response["Role"]
        inline = or_none(lambda: iam.get_role_policy(RoleName=self.name(ctx), PolicyName=INLINE_POLICY_NAME))
        observed = {
            "AssumeRolePolicyDocument": _document(role.get("AssumeRolePolicyDocument")),
            "InlinePolicy": _document(inline["PolicyDocument"]) if inline else None,
        }
        return Found({"name": role["RoleName"], "arn": role["Arn"]}, observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        changes = []
        trust = self.trust_policy()
        if normalize_policy(found.observed["AssumeRolePolicyDocument"]) != normalize_policy(trust):
            changes.append(
                Change("AssumeRolePolicyDocument", found.observed["AssumeRolePolicyDocument"], trust)
            )
        policy = self.policy(ctx)
        inline = found.observed["InlinePolicy"]
        if inline is None or normalize_policy(inline) != normalize_policy(policy):
            changes.append(Change(f"InlinePolicy[{INLINE_POLICY_NAME}]", inline, policy))
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        iam = ctx.clients("iam")
        try:
            role = iam.create_role(
                RoleName=self.name(ctx),
                AssumeRolePolicyDocument=json.dumps(self.trust_policy()),
                Description=f"asyncapi stack {ctx.names.project}",
                Tags=[{"Key": k, "Value": v} for k, v in ctx.tags.items()],
            )["Role"]
        except Exception as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            role = iam.get_role(RoleName=self.name(ctx))["Role"]
        self._put_policy(ctx)
        return {"name": role["RoleName"], "arn": role["Arn"]}

    def _put_policy(self, ctx: Context) -> None:
        ctx.clients("iam").put_role_policy(
            RoleName=self.name(ctx),
            PolicyName=INLINE_POLICY_NAME,
            PolicyDocument=json.dumps(self.policy(ctx)),
        )

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        settings = {c.setting for c in changes}
        if "AssumeRolePolicyDocument" in settings:
            ctx.clients("iam").update_assume_role_policy(
                RoleName=self.name(ctx), PolicyDocument=json.dumps(self.trust_policy())
            )
        if settings - {"AssumeRolePolicyDocument"}:
            self._put_policy(ctx)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        iam = ctx.clients("iam")
        name = record["name"]
        # A role with policies cannot be deleted: inline ones are deleted, managed ones detached.
        names = or_none(lambda: iam.list_role_policies(RoleName=name))
        if names is None:
            return
        for policy_name in names.get("PolicyNames", []):
            ignore_not_found(lambda p=policy_name: iam.delete_role_policy(RoleName=name, PolicyName=p))
        attached = or_none(lambda: iam.list_attached_role_policies(RoleName=name)) or {}
        for policy in attached.get("AttachedPolicies", []):
            ignore_not_found(lambda a=policy["PolicyArn"]: iam.detach_role_policy(RoleName=name, PolicyArn=a))
        ignore_not_found(lambda: iam.delete_role(RoleName=name))


def _document(value: Any) -> Any:
    """IAM returns policy documents URL-encoded (boto3 decodes some, not all)."""
    if isinstance(value, str):
        return json.loads(urllib.parse.unquote(value))
    return value


def normalize_policy(document: Any) -> Any:
    """Compare policies by meaning: single strings and one-element lists alike, order ignored."""

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return items[0] if len(items) == 1 else sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
        return value

    if not isinstance(document, dict):
        return document
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return sorted((norm(s) for s in statements), key=lambda s: json.dumps(s, sort_keys=True))
