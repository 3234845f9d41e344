"""An SQS queue: its attributes (CreateQueue's `Attributes` map) are the whole desired state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..aws import error_code
from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from . import Resource, ignore_not_found, or_none

DELETED_RECENTLY = frozenset({"AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"})


@dataclass(kw_only=True)
class Queue(Resource):
    """attributes: SQS queue attributes, string-valued as SQS takes them (Json for JSON-valued ones)."""

    # Tags of this queue beside the stack's (ctx.tags), set when it is created.
    tags: dict[str, str] = field(default_factory=dict)
    kind = "sqs-queue"
    known_before_create = frozenset({"name", "arn"})

    def _record(self, ctx: Context, url: str, arn: str | None = None) -> dict[str, Any]:
        return {"name": self.name, "url": url, "arn": arn or ctx.arn("sqs", self.name)}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return self._record(ctx, KNOWN_AFTER_UP)

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        sqs = ctx.clients("sqs")
        response = or_none(lambda: sqs.get_queue_url(QueueName=self.name))
        if response is None:
            return None
        url = response["QueueUrl"]
        attributes = or_none(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))
        if attributes is None:  # deleted between the two calls
            return None
        live = attributes["Attributes"]
        return Found(self._record(ctx, url, live.get("QueueArn")), live)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed
        return [
            Change(key, live.get(key), desired)
            for key, desired in self.desired(ctx).items()
            if not _same_attribute(live.get(key), desired)
        ]

    def create(self, ctx: Context) -> dict[str, Any]:
        sqs = ctx.clients("sqs")
        attributes = self.desired(ctx)

        def create() -> Any:
            return sqs.create_queue(QueueName=self.name, Attributes=attributes, tags=self.tags | ctx.tags)

        # A queue name is held for 60 s after the queue is deleted (an `up` right after a `down`).
        response = ctx.pacer_retry(
            create,
            retry_if=lambda exc: error_code(exc) in DELETED_RECENTLY,
            what=f"creating queue {self.name} (name held for 60 s after a delete)",
            timeout=90,
            base=2.0,
            cap=10.0,
        )
        return self._record(ctx, response["QueueUrl"])

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        desired = self.desired(ctx)
        ctx.clients("sqs").set_queue_attributes(
            QueueUrl=found.record["url"], Attributes={c.setting: desired[c.setting] for c in changes}
        )
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        sqs = ctx.clients("sqs")
        ignore_not_found(lambda: sqs.delete_queue(QueueUrl=record["url"]))

        # "The deletion process takes up to 60 seconds" (SQS API reference, DeleteQueue): the name still
        # answers until then, and an `up` right after would adopt a dying queue. Wait until it is gone.
        ctx.wait(
            lambda: or_none(lambda: sqs.get_queue_url(QueueName=record["name"])) is None,
            what=f"queue {record['name']} to be deleted",
            timeout=120,
        )


def _same_attribute(live: Any, desired: str) -> bool:
    """SQS answers strings; JSON-valued attributes compare by meaning, numbers inside them as text."""
    if desired.startswith("{"):
        return _loose_json(live) == _loose_json(desired)
    return str(live).lower() == desired.lower()


def _loose_json(value: Any) -> Any:
    if not value:
        return None
    try:
        document = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value
    if isinstance(document, dict):
        return {k: str(v) for k, v in document.items()}
    return document
