"""A lambda:AddPermission statement on a function's resource policy (who may invoke it, from where)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..aws import error_code, error_message
from ..engine import Change, Context, Found
from ..refs import Ref
from . import Resource, ignore_not_found, or_none


@dataclass(kw_only=True)
class InvokePermission(Resource):
    """attributes: AddPermission's parameters (FunctionName, StatementId, Action, Principal, SourceArn,
    SourceAccount). Only SourceArn can drift in a way we repair (by replacing the statement)."""

    kind = "lambda-permission"
    deletion_keys = frozenset()  # it goes with its function (deleted_with): no order of its own

    @property
    def deleted_with(self) -> str | None:
        """A function's resource policy is deleted with the function: no RemovePermission on `down`."""
        function = self.attributes.get("FunctionName")
        return function.key if isinstance(function, Ref) else None

    def _record(self, desired: dict[str, Any], source_arn: str | None) -> dict[str, Any]:
        return {"function": desired["FunctionName"], "sid": desired["StatementId"], "source_arn": source_arn}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        return self._record(desired, desired.get("SourceArn"))

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        desired = self.desired(ctx)
        response = or_none(lambda: ctx.clients("lambda").get_policy(FunctionName=desired["FunctionName"]))
        if response is None:
            return None
        for statement in json.loads(response["Policy"]).get("Statement", []):
            if statement.get("Sid") == desired["StatementId"]:
                source = (statement.get("Condition") or {}).get("ArnLike", {}).get("AWS:SourceArn")
                return Found(self._record(desired, source), statement)
        return None

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = self.desired(ctx).get("SourceArn")
        live = found.record["source_arn"]
        return [] if live == desired else [Change("SourceArn", live, desired)]

    def _add(self, ctx: Context) -> dict[str, Any]:
        lam = ctx.clients("lambda")
        desired = self.desired(ctx)
        ctx.pacer_retry(
            lambda: lam.add_permission(**desired),
            retry_if=lambda exc: (
                error_code(exc) == "ResourceConflictException" and "in progress" in error_message(exc).lower()
            ),
            what=f"adding permission {self.name}",
        )
        return self._record(desired, desired.get("SourceArn"))

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
