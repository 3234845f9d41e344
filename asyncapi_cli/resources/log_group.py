"""A CloudWatch log group per function, made by `up` with a retention so `down` can remove the logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import Change, Context, Found
from . import ignore_not_found


@dataclass
class LogGroup:
    key: str
    function_key: str  # which function's name the group follows
    kind: str = "log-group"
    depends_on: tuple[str, ...] = ()

    def _function_name(self, ctx: Context) -> str:
        return ctx.names.processor if self.function_key == "processor" else ctx.names.status_checker

    def name(self, ctx: Context) -> str:
        return ctx.names.log_group(self._function_name(ctx))

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name(ctx), "arn": ctx.arn("logs", f"log-group:{self.name(ctx)}")}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        response = ctx.clients("logs").describe_log_groups(logGroupNamePrefix=self.name(ctx))
        for group in response.get("logGroups", []):
            if group["logGroupName"] == self.name(ctx):
                return Found(self.placeholder(ctx), group)
        return None

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed.get("retentionInDays")
        desired = ctx.settings.log_retention_days
        return [] if live == desired else [Change("retentionInDays", live, desired)]

    def create(self, ctx: Context) -> dict[str, Any]:
        logs = ctx.clients("logs")
        try:
            logs.create_log_group(logGroupName=self.name(ctx), tags=ctx.tags)
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        self._retain(ctx)
        return self.placeholder(ctx)

    def _retain(self, ctx: Context) -> None:
        ctx.clients("logs").put_retention_policy(
            logGroupName=self.name(ctx), retentionInDays=ctx.settings.log_retention_days
        )

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        self._retain(ctx)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(lambda: ctx.clients("logs").delete_log_group(logGroupName=record["name"]))
