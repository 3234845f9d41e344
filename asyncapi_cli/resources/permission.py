"""lambda:AddPermission letting only this API's GET /status/* invoke the status checker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..aws import error_code, error_message
from ..engine import Change, Context, Found
from . import ignore_not_found, or_none

STATEMENT_ID = "asyncapi-apigateway-invoke"


@dataclass
class InvokePermission:
    key: str = "status_permission"
    kind: str = "lambda-permission"
    depends_on: tuple[str, ...] = ("rest_api", "status_fn")

    def name(self, ctx: Context) -> str:
        return f"{ctx.names.status_checker}/{STATEMENT_ID}"

    def source_arn(self, ctx: Context) -> str:
        api_id = ctx.record_of("rest_api")["id"]
        return ctx.arn("execute-api", f"{api_id}/*/GET/status/*")

    def _record(self, ctx: Context, source_arn: str) -> dict[str, Any]:
        return {"function": ctx.names.status_checker, "sid": STATEMENT_ID, "source_arn": source_arn}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return self._record(ctx, self.source_arn(ctx))

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        response = or_none(lambda: ctx.clients("lambda").get_policy(FunctionName=ctx.names.status_checker))
        if response is None:
            return None
        for statement in json.loads(response["Policy"]).get("Statement", []):
            if statement.get("Sid") == STATEMENT_ID:
                source = (statement.get("Condition") or {}).get("ArnLike", {}).get("AWS:SourceArn")
                return Found(self._record(ctx, source), statement)
        return None

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = self.source_arn(ctx)
        live = found.record["source_arn"]
        return [] if live == desired else [Change("SourceArn", live, desired)]

    def _add(self, ctx: Context) -> dict[str, Any]:
        lam = ctx.clients("lambda")
        source_arn = self.source_arn(ctx)
        ctx.pacer_retry(
            lambda: lam.add_permission(
                FunctionName=ctx.names.status_checker,
                StatementId=STATEMENT_ID,
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=source_arn,
                SourceAccount=ctx.account,
            ),
            retry_if=lambda exc: (
                error_code(exc) == "ResourceConflictException" and "in progress" in error_message(exc).lower()
            ),
            what="granting API Gateway permission to invoke the status checker",
        )
        return self._record(ctx, source_arn)

    def create(self, ctx: Context) -> dict[str, Any]:
        return self._add(ctx)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        self.delete(ctx, found.record)
        return self._add(ctx)

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(
            lambda: ctx.clients("lambda").remove_permission(
                FunctionName=record["function"], StatementId=record["sid"]
            )
        )
