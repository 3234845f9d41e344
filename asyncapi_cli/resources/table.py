"""A DynamoDB table: key schema, attribute definitions and billing mode from its attribute map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import error_code, error_message
from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from ..errors import AwsError
from . import Resource, ignore_not_found, or_none


@dataclass(kw_only=True)
class Table(Resource):
    """attributes: AttributeDefinitions, KeySchema, BillingMode, and optionally SSESpecification,
    StreamSpecification (CreateTable's own names; absent: no stream, and an existing one is disabled),
    GlobalSecondaryIndexes (converged one index per UpdateTable call: missing ones created, on an
    existing table too, others deleted) and TimeToLiveSpecification (UpdateTimeToLive's, applied once
    the table is ACTIVE).
    The record's stream_arn is the table's LatestStreamArn (None without a stream)."""

    kind = "dynamodb-table"
    # CREATING for a few seconds (DynamoDB API reference, CreateTable).
    expected_seconds = 6.0
    known_before_create = frozenset({"name", "arn"})

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": ctx.arn("dynamodb", f"table/{self.name}"),
            "stream_arn": KNOWN_AFTER_UP if self.attributes.get("StreamSpecification") else None,
        }

    def _describe(self, ctx: Context) -> dict[str, Any] | None:
        response = or_none(lambda: ctx.clients("dynamodb").describe_table(TableName=self.name))
        return response["Table"] if response else None

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        table = self._describe(ctx)
        if table is None or table.get("TableStatus") == "DELETING":
            return None
        return Found(self._record(table), table)

    @staticmethod
    def _record(table: dict[str, Any]) -> dict[str, Any]:
        streaming = (table.get("StreamSpecification") or {}).get("StreamEnabled")
        stream_arn = table.get("LatestStreamArn") if streaming else None
        return {"name": table["TableName"], "arn": table["TableArn"], "stream_arn": stream_arn}

    def _stream(self, desired: dict[str, Any]) -> dict[str, Any]:
        return desired.get("StreamSpecification") or {"StreamEnabled": False}

    def _time_to_live(self, ctx: Context) -> dict[str, Any] | None:
        response = ctx.clients("dynamodb").describe_time_to_live(TableName=self.name)
        live = response.get("TimeToLiveDescription") or {}
        if live.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return {"Enabled": True, "AttributeName": live.get("AttributeName")}
        return None

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        table = found.observed
        desired = self.desired(ctx)
        if table.get("KeySchema") != desired["KeySchema"]:
            # A key schema cannot be changed in place; refusing beats silently dropping data.
            raise AwsError(
                f"table {self.name} exists with key schema {table.get('KeySchema')}, not "
                f"{desired['KeySchema']}; delete it or choose another --name"
            )
        billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        wanted = desired.get("BillingMode", "PROVISIONED")
        changes = [] if billing == wanted else [Change("BillingMode", billing, wanted)]
        live_stream = table.get("StreamSpecification") or {"StreamEnabled": False}
        if not live_stream.get("StreamEnabled"):
            live_stream = {"StreamEnabled": False}
        if live_stream != self._stream(desired):
            changes.append(Change("StreamSpecification", live_stream, self._stream(desired)))
        live_indexes, desired_indexes = _index_shapes(table), _index_shapes(desired)
        if live_indexes != desired_indexes:
            changes.append(Change("GlobalSecondaryIndexes", live_indexes, desired_indexes))
        if "TimeToLiveSpecification" in desired:
            live_ttl = self._time_to_live(ctx)
            if live_ttl != desired["TimeToLiveSpecification"]:
                changes.append(
                    Change("TimeToLiveSpecification", live_ttl, desired["TimeToLiveSpecification"])
                )
        return changes

    def _wait_active(self, ctx: Context, answer: dict[str, Any] | None = None) -> dict[str, Any]:
        """The table's description once ACTIVE. `answer`: the TableDescription the create or update
        call just answered (TableStatus CREATING or UPDATING: DynamoDB API reference, CreateTable,
        UpdateTable), so that no poll repeats it."""
        if answer and answer.get("TableStatus") == "ACTIVE":
            return answer

        def active() -> dict[str, Any] | None:
            table = self._describe(ctx) or {}
            # An index being added backfills while the table is ACTIVE: its own IndexStatus says when
            # it answers (DynamoDB API reference, GlobalSecondaryIndexDescription.IndexStatus).
            indexes = table.get("GlobalSecondaryIndexes") or []
            ready = all(index.get("IndexStatus", "ACTIVE") == "ACTIVE" for index in indexes)
            return table if table.get("TableStatus") == "ACTIVE" and ready else None

        # About every second, not every half: a new table takes longer than a function's Pending, and
        # in the base stack nothing waits for it (a function's environment needs only its name).
        table: dict[str, Any] = ctx.wait(
            active, what=f"table {self.name} to become ACTIVE", seen_not_ready=bool(answer), every=1.0
        )
        return table

    def create(self, ctx: Context) -> dict[str, Any]:
        dynamodb = ctx.clients("dynamodb")
        desired = self.desired(ctx)
        time_to_live = desired.pop("TimeToLiveSpecification", None)

        def being_deleted(exc: Exception) -> bool:
            # CreateTable answers ResourceInUseException while a same-named table is DELETING.
            in_use = error_code(exc) == "ResourceInUseException"
            return in_use and (self._describe(ctx) or {}).get("TableStatus") == "DELETING"

        arn = self.placeholder(ctx)["arn"]
        answer = None
        try:
            response = ctx.pacer_retry(
                lambda: dynamodb.create_table(
                    TableName=self.name,
                    # Encrypted at rest with an AWS-owned key (DynamoDB's default); tagged for discovery.
                    Tags=[{"Key": k, "Value": v} for k, v in ctx.tags.items()],
                    **desired,
                ),
                retry_if=being_deleted,
                what=f"creating table {self.name} (a same-named table is being deleted)",
                timeout=300,
                base=1.0,
                cap=10.0,
            )
        except Exception as exc:
            # When botocore retried a CreateTable whose answer was lost, the retry finds our own
            # table: "Table already exists" is success.
            if error_code(exc) != "ResourceInUseException" or "exist" not in error_message(exc).lower():
                raise
        else:
            answer = response["TableDescription"]
            arn = answer["TableArn"]
        table = self._wait_active(ctx, answer)
        if time_to_live is not None:
            dynamodb.update_time_to_live(TableName=self.name, TimeToLiveSpecification=time_to_live)
        return self._record(table) | {"arn": arn}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        desired, dynamodb = self.desired(ctx), ctx.clients("dynamodb")
        settings = {change.setting for change in changes}
        if "BillingMode" in settings:
            answer = dynamodb.update_table(TableName=self.name, BillingMode=desired["BillingMode"])
            self._wait_active(ctx, answer.get("TableDescription"))
        if "StreamSpecification" in settings:
            # Turning a stream off and on again gives a new stream (a new LatestStreamArn): DynamoDB
            # developer guide, "Enabling a stream" ("... a new stream is created with a different
            # stream descriptor").
            answer = dynamodb.update_table(TableName=self.name, StreamSpecification=self._stream(desired))
            self._wait_active(ctx, answer.get("TableDescription"))
        if "GlobalSecondaryIndexes" in settings:
            self._converge_indexes(ctx, desired)
        if "TimeToLiveSpecification" in settings:
            dynamodb.update_time_to_live(
                TableName=self.name, TimeToLiveSpecification=desired["TimeToLiveSpecification"]
            )
        table = self._describe(ctx)
        return self._record(table) if table else found.record

    def _converge_indexes(self, ctx: Context, desired: dict[str, Any]) -> None:
        """Delete the indexes not wanted (or changed), then create the missing ones: one index per
        UpdateTable call, each awaited, as DynamoDB allows (API reference, UpdateTable:
        "You can create or delete only one global secondary index per UpdateTable operation")."""
        dynamodb = ctx.clients("dynamodb")
        wanted = {index["IndexName"]: index for index in desired.get("GlobalSecondaryIndexes") or []}
        wanted_shapes = _index_shapes(desired)
        live_shapes = _index_shapes(self._describe(ctx) or {})
        unchanged = {name for name, shape in wanted_shapes.items() if live_shapes.get(name) == shape}
        for name in sorted(set(live_shapes) - unchanged):
            answer = dynamodb.update_table(
                TableName=self.name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": name}}]
            )
            self._wait_active(ctx, answer.get("TableDescription"))
            ctx.wait(
                lambda name=name: name not in _index_shapes(self._describe(ctx) or {}),
                what=f"index {name} of table {self.name} to be deleted",
                every=1.0,
            )
        live_shapes = _index_shapes(self._describe(ctx) or {})
        for name in sorted(set(wanted) - set(live_shapes)):
            keys = {key["AttributeName"] for key in wanted[name]["KeySchema"]}
            definitions = [d for d in desired["AttributeDefinitions"] if d["AttributeName"] in keys]
            answer = dynamodb.update_table(
                TableName=self.name,
                AttributeDefinitions=definitions,
                GlobalSecondaryIndexUpdates=[{"Create": wanted[name]}],
            )
            self._wait_active(ctx, answer.get("TableDescription"))

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        dynamodb = ctx.clients("dynamodb")
        # DeleteTable answers ResourceInUseException while the table is CREATING or UPDATING (a `down`
        # after an interrupted `up`): DynamoDB API reference, DeleteTable, Errors.
        ctx.pacer_retry(
            lambda: ignore_not_found(lambda: dynamodb.delete_table(TableName=record["name"])),
            retry_if=lambda exc: error_code(exc) == "ResourceInUseException",
            what=f"deleting table {record['name']} (still being created or updated)",
            timeout=300,
            base=1.0,
            cap=10.0,
        )
        # Wait until it is really gone, so that an `up` right after a `down` can create it again
        # (about every second: nothing in `down` waits for it).
        ctx.wait(lambda: self._describe(ctx) is None, what=f"table {record['name']} to be deleted", every=1.0)


def _index_shapes(table: dict[str, Any]) -> dict[str, Any]:
    """IndexName -> (key schema, projection type) of a description or a desired attribute map."""
    return {
        index["IndexName"]: {
            "KeySchema": index["KeySchema"],
            "ProjectionType": (index.get("Projection") or {}).get("ProjectionType", "ALL"),
        }
        for index in table.get("GlobalSecondaryIndexes") or []
    }
