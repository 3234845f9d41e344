"""The DynamoDB jobs table: keyed by jobId, on-demand billing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import Change, Context, Found
from ..errors import AwsError
from . import ignore_not_found, or_none

KEY_SCHEMA = [{"AttributeName": "jobId", "KeyType": "HASH"}]


@dataclass
class JobsTable:
    key: str = "table"
    kind: str = "dynamodb-table"
    depends_on: tuple[str, ...] = ()

    def name(self, ctx: Context) -> str:
        return ctx.names.table

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name(ctx), "arn": ctx.arn("dynamodb", f"table/{self.name(ctx)}")}

    def _describe(self, ctx: Context) -> dict[str, Any] | None:
        response = or_none(lambda: ctx.clients("dynamodb").describe_table(TableName=self.name(ctx)))
        return response["Table"] if response else None

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        table = self._describe(ctx)
        if table is None or table.get("TableStatus") == "DELETING":
            return None
        return Found({"name": table["TableName"], "arn": table["TableArn"]}, table)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        table = found.observed
        changes = []
        if table.get("KeySchema") != KEY_SCHEMA:
            # A key schema cannot be changed in place; refusing beats silently dropping data.
            raise AwsError(
                f"table {self.name(ctx)} exists with key schema {table.get('KeySchema')}, not jobId (HASH); "
                "delete it or choose another --name"
            )
        billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        if billing != "PAY_PER_REQUEST":
            changes.append(Change("BillingMode", billing, "PAY_PER_REQUEST"))
        return changes

    def _wait_active(self, ctx: Context) -> None:
        ctx.wait(
            lambda: (self._describe(ctx) or {}).get("TableStatus") == "ACTIVE",
            what=f"table {self.name(ctx)} to become ACTIVE",
        )

    def create(self, ctx: Context) -> dict[str, Any]:
        response = ctx.clients("dynamodb").create_table(
            TableName=self.name(ctx),
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
            KeySchema=KEY_SCHEMA,
            BillingMode="PAY_PER_REQUEST",
            # Encrypted at rest with an AWS-owned key (DynamoDB's default); tagged for discovery.
            Tags=[{"Key": k, "Value": v} for k, v in ctx.tags.items()],
        )
        description = response["TableDescription"]
        self._wait_active(ctx)
        return {"name": description["TableName"], "arn": description["TableArn"]}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        ctx.clients("dynamodb").update_table(TableName=self.name(ctx), BillingMode="PAY_PER_REQUEST")
        self._wait_active(ctx)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(lambda: ctx.clients("dynamodb").delete_table(TableName=record["name"]))
        # Wait until it is really gone, so that an `up` right after a `down` can create it again.
        ctx.wait(lambda: self._describe(ctx) is None, what=f"table {record['name']} to be deleted")
