"""IAM roles: a trust policy and scoped inline policies; `down` removes whatever is attached."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import Change, Context, Found
from ..errors import AlreadyExists
from . import Resource, ignore_not_found, or_none


@dataclass(kw_only=True)
class Role(Resource):
    """attributes: AssumeRolePolicyDocument, Description, and Policies (inline policy name -> document)."""

    kind = "iam-role"
    # A new role is usable by Lambda only seconds after CreateRole (IAM is eventually consistent:
    # IAM user guide, "Changes that I make are not always immediately visible").
    expected_seconds = 8.0
    # CreateRole answers EntityAlreadyExists for a taken name and changes nothing (IAM API reference).
    create_first = True
    known_before_create = frozenset({"name", "arn"})

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "arn": ctx.arn("iam", f"role/{self.name}", region=False)}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        iam = ctx.clients("iam")
        response = or_none(lambda: iam.get_role(RoleName=self.name))
        if response is None:
            return None
        role = response["Role"]
        policies = {}
        for policy_name in self.attributes.get("Policies", {}):
            inline = or_none(lambda p=policy_name: iam.get_role_policy(RoleName=self.name, PolicyName=p))
            policies[policy_name] = _document(inline["PolicyDocument"]) if inline else None
        observed = {
            "AssumeRolePolicyDocument": _document(role.get("AssumeRolePolicyDocument")),
            "Policies": policies,
        }
        return Found({"name": role["RoleName"], "arn": role["Arn"]}, observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = self.desired(ctx)
        changes = []
        trust = desired["AssumeRolePolicyDocument"]
        if normalize_policy(found.observed["AssumeRolePolicyDocument"]) != normalize_policy(trust):
            changes.append(
                Change("AssumeRolePolicyDocument", found.observed["AssumeRolePolicyDocument"], trust)
            )
        for policy_name, policy in desired.get("Policies", {}).items():
            inline = found.observed["Policies"].get(policy_name)
            if inline is None or normalize_policy(inline) != normalize_policy(policy):
                changes.append(Change(f"InlinePolicy[{policy_name}]", inline, policy))
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        iam = ctx.clients("iam")
        desired = self.desired(ctx)
        try:
            role = iam.create_role(
                RoleName=self.name,
                AssumeRolePolicyDocument=json.dumps(desired["AssumeRolePolicyDocument"]),
                Description=desired.get("Description", ""),
                Tags=[{"Key": k, "Value": v} for k, v in ctx.tags.items()],
            )["Role"]
        except Exception as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            raise AlreadyExists(self.name) from exc  # the engine finds it and converges it
        for policy_name, policy in desired.get("Policies", {}).items():
            self._put_policy(ctx, policy_name, policy)
        return {"name": role["RoleName"], "arn": role["Arn"]}

    def _put_policy(self, ctx: Context, policy_name: str, policy: dict[str, Any]) -> None:
        ctx.clients("iam").put_role_policy(
            RoleName=self.name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
        )

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        desired = self.desired(ctx)
        settings = {c.setting for c in changes}
        if "AssumeRolePolicyDocument" in settings:
            ctx.clients("iam").update_assume_role_policy(
                RoleName=self.name, PolicyDocument=json.dumps(desired["AssumeRolePolicyDocument"])
            )
        for policy_name, policy in desired.get("Policies", {}).items():
            if f"InlinePolicy[{policy_name}]" in settings:
                self._put_policy(ctx, policy_name, policy)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        iam = ctx.clients("iam")
        name = record["name"]
        # A role with policies cannot be deleted. The inline policies this unit puts are known by
        # name: delete them without listing; list only when IAM still refuses (DeleteConflict:
        # policies someone else attached or put).
        for policy_name in self.attributes.get("Policies", {}):
            ignore_not_found(lambda p=policy_name: iam.delete_role_policy(RoleName=name, PolicyName=p))
        try:
            ignore_not_found(lambda: iam.delete_role(RoleName=name))
        except Exception as exc:
            if error_code(exc) != "DeleteConflict":
                raise
            self._detach_all(ctx, name)
            ignore_not_found(lambda: iam.delete_role(RoleName=name))

    def _detach_all(self, ctx: Context, name: str) -> None:
        iam = ctx.clients("iam")
        names = or_none(lambda: iam.list_role_policies(RoleName=name)) or {}
        for policy_name in names.get("PolicyNames", []):
            ignore_not_found(lambda p=policy_name: iam.delete_role_policy(RoleName=name, PolicyName=p))
        attached = or_none(lambda: iam.list_attached_role_policies(RoleName=name)) or {}
        for policy in attached.get("AttachedPolicies", []):
            ignore_not_found(lambda a=policy["PolicyArn"]: iam.detach_role_policy(RoleName=name, PolicyArn=a))


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
