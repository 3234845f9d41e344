"""SQS queues: the dead-letter queue and the main queue (redrive after maxReceiveCount)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from . import ignore_not_found, or_none


@dataclass
class Queue:
    key: str
    kind: str = "sqs-queue"
    depends_on: tuple[str, ...] = ()
    dead_letter_key: str | None = None  # the key of the DLQ unit, for the main queue

    def name(self, ctx: Context) -> str:
        return ctx.names.main_queue if self.dead_letter_key else ctx.names.dlq

    def desired_attributes(self, ctx: Context) -> dict[str, str]:
        settings = ctx.settings
        attributes = {
            "MessageRetentionPeriod": str(settings.retention_seconds),
            "VisibilityTimeout": str(
                settings.main_visibility_timeout if self.dead_letter_key else settings.dlq_visibility_timeout
            ),
            # Encryption at rest with SQS-managed keys.
            "SqsManagedSseEnabled": "true",
        }
        if self.dead_letter_key:
            dlq_arn = ctx.record_of(self.dead_letter_key)["arn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}
            )
        return attributes

    def _record(self, ctx: Context, url: str) -> dict[str, Any]:
        name = self.name(ctx)
        return {"name": name, "url": url, "arn": ctx.arn("sqs", name)}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return self._record(ctx, KNOWN_AFTER_UP)

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        sqs = ctx.clients("sqs")
        response = or_none(lambda: sqs.get_queue_url(QueueName=self.name(ctx)))
        if response is None:
            return None
        url = response["QueueUrl"]
        attributes = or_none(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))
        if attributes is None:  # deleted between the two calls
            return None
        record = self._record(ctx, url)
        record["arn"] = attributes["Attributes"].get("QueueArn", record["arn"])
        return Found(record, attributes["Attributes"])

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed
        changes = []
        for key, desired in self.desired_attributes(ctx).items():
            current = live.get(key)
            if key == "RedrivePolicy":
                if _redrive(current) != _redrive(desired):
                    changes.append(Change(key, current, desired))
            elif str(current).lower() != desired.lower():
                changes.append(Change(key, current, desired))
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        sqs = ctx.clients("sqs")

        def create() -> Any:
            return sqs.create_queue(
                QueueName=self.name(ctx), Attributes=self.desired_attributes(ctx), tags=ctx.tags
            )

        # A queue name is held for 60 s after the queue is deleted (an `up` right after a `down`).
        response = ctx.pacer_retry(
            create,
            retry_if=lambda exc: (
                error_code(exc) in {"AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"}
            ),
            what=f"creating queue {self.name(ctx)} (name held for 60 s after a delete)",
            timeout=90,
            base=2.0,
            cap=10.0,
        )
        return self._record(ctx, response["QueueUrl"])

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        desired = self.desired_attributes(ctx)
        ctx.clients("sqs").set_queue_attributes(
            QueueUrl=found.record["url"], Attributes={c.setting: desired[c.setting] for c in changes}
        )
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(lambda: ctx.clients("sqs").delete_queue(QueueUrl=record["url"]))


def _redrive(value: Any) -> tuple[str, int] | None:
    if not value:
        return None
    try:
        policy = json.loads(value) if isinstance(value, str) else value
        return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])
    except (ValueError, KeyError, TypeError):
        return None
