"""A CloudWatch log group with a retention, made before its writer so `down` can remove the logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import Change, Context, Found
from . import Resource, ignore_not_found


@dataclass(kw_only=True)
class LogGroup(Resource):
    """attributes: retentionInDays."""

    kind = "log-group"

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "arn": ctx.arn("logs", f"log-group:{self.name}")}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        response = ctx.clients("logs").describe_log_groups(logGroupNamePrefix=self.name)
        for group in response.get("logGroups", []):
            if group["logGroupName"] == self.name:
                return Found(self.placeholder(ctx), group)
        return None

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed.get("retentionInDays")
        desired = self.desired(ctx).get("retentionInDays")
        return [] if live == desired else [Change("retentionInDays", live, desired)]

    def create(self, ctx: Context) -> dict[str, Any]:
        logs = ctx.clients("logs")
        try:
            logs.create_log_group(logGroupName=self.name, tags=ctx.tags)
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        self._retain(ctx)
        return self.placeholder(ctx)

    def _retain(self, ctx: Context) -> None:
        days = self.desired(ctx).get("retentionInDays")
        logs = ctx.clients("logs")
        if days is None:
            logs.delete_retention_policy(logGroupName=self.name)
        else:
            logs.put_retention_policy(logGroupName=self.name, retentionInDays=days)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        self._retain(ctx)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(lambda: ctx.clients("logs").delete_log_group(logGroupName=record["name"]))
