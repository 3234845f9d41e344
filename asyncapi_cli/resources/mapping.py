"""The SQS -> processor event source mapping: batch 10, 5 s window, partial batch responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import error_code, error_message
from ..engine import KNOWN_AFTER_UP, Change, Context, Found, diff_settings
from . import ignore_not_found, or_none


@dataclass
class EventSourceMapping:
    key: str = "mapping"
    kind: str = "event-source-mapping"
    depends_on: tuple[str, ...] = ("processor_fn", "main_queue")

    def name(self, ctx: Context) -> str:
        return f"{ctx.names.main_queue} -> {ctx.names.processor}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "BatchSize": ctx.settings.batch_size,
            "MaximumBatchingWindowInSeconds": ctx.settings.batching_window,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"uuid": KNOWN_AFTER_UP}

    def _get(self, ctx: Context, uuid: str) -> dict[str, Any] | None:
        return or_none(lambda: ctx.clients("lambda").get_event_source_mapping(UUID=uuid))

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        queue_arn = ctx.arn("sqs", ctx.names.main_queue)
        lam = ctx.clients("lambda")
        response = or_none(
            lambda: lam.list_event_source_mappings(EventSourceArn=queue_arn, FunctionName=ctx.names.processor)
        )
        for mapping in (response or {}).get("EventSourceMappings", []):
            if mapping.get("State") not in ("Deleting",):
                return Found({"uuid": mapping["UUID"]}, mapping)
        return None

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed
        changes = diff_settings(live, self.desired(ctx))
        if live.get("State") not in ("Enabled", "Enabling", "Creating", "Updating"):
            changes.append(Change("State", live.get("State"), "Enabled"))
        return changes

    def _wait_enabled(self, ctx: Context, uuid: str) -> None:
        ctx.wait(
            lambda: (self._get(ctx, uuid) or {}).get("State") == "Enabled",
            what=f"event source mapping {uuid} to become Enabled",
        )

    def create(self, ctx: Context) -> dict[str, Any]:
        lam = ctx.clients("lambda")

        def permissions_settling(exc: Exception) -> bool:
            # The processor role's SQS permissions take a moment to propagate.
            return (
                error_code(exc) == "InvalidParameterValueException"
                and "permission" in error_message(exc).lower()
            )

        mapping = ctx.pacer_retry(
            lambda: lam.create_event_source_mapping(
                EventSourceArn=ctx.record_of("main_queue")["arn"],
                FunctionName=ctx.names.processor,
                Enabled=True,
                Tags=ctx.tags,
                **self.desired(ctx),
            ),
            retry_if=permissions_settling,
            what="creating the event source mapping",
            timeout=120,
        )
        self._wait_enabled(ctx, mapping["UUID"])
        return {"uuid": mapping["UUID"]}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        uuid = found.record["uuid"]
        ctx.clients("lambda").update_event_source_mapping(UUID=uuid, Enabled=True, **self.desired(ctx))
        self._wait_enabled(ctx, uuid)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        uuid = record["uuid"]
        ignore_not_found(lambda: ctx.clients("lambda").delete_event_source_mapping(UUID=uuid))
        # The mapping goes through Deleting; the function must outlive it.
        ctx.wait(lambda: self._get(ctx, uuid) is None, what=f"event source mapping {uuid} to be deleted")
