"""An SNS topic: CreateTopic's `Attributes` map (a Policy among them) is the desired state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..engine import Change, Context, Found
from . import Resource, ignore_not_found, note_already_gone, or_none


@dataclass(kw_only=True)
class SnsTopic(Resource):
    """attributes: SNS topic attributes as SetTopicAttributes takes them (strings; Json for a policy)."""

    kind = "sns-topic"
    known_before_create = frozenset({"name", "arn"})

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "arn": ctx.arn("sns", self.name)}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        arn = self.placeholder(ctx)["arn"]
        response = or_none(lambda: ctx.clients("sns").get_topic_attributes(TopicArn=arn))
        if response is None:
            return None
        return Found(self.placeholder(ctx), response.get("Attributes", {}))

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        return [
            Change(key, found.observed.get(key), desired)
            for key, desired in self.desired(ctx).items()
            if not _same(found.observed.get(key), desired)
        ]

    def create(self, ctx: Context) -> dict[str, Any]:
        tags = [{"Key": k, "Value": v} for k, v in sorted(ctx.tags.items())]
        # CreateTopic is idempotent for a name with the same attributes (SNS API reference, CreateTopic).
        response = ctx.clients("sns").create_topic(Name=self.name, Attributes=self.desired(ctx), Tags=tags)
        return self.placeholder(ctx) | {"arn": response["TopicArn"]}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        sns = ctx.clients("sns")
        desired = self.desired(ctx)
        for change in changes:  # SetTopicAttributes takes one attribute a call
            sns.set_topic_attributes(
                TopicArn=found.record["arn"],
                AttributeName=change.setting,
                AttributeValue=desired[change.setting],
            )
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        # "Deletes a topic and all its subscriptions" (SNS API reference, DeleteTopic). DeleteTopic of a
        # topic that is not there succeeds too: look first, so that `down` can say "absent".
        sns = ctx.clients("sns")
        if or_none(lambda: sns.get_topic_attributes(TopicArn=record["arn"])) is None:
            note_already_gone()
            return
        ignore_not_found(lambda: sns.delete_topic(TopicArn=record["arn"]))


def _same(live: Any, desired: str) -> bool:
    """SNS answers strings; a JSON document (the policy) compares by meaning."""
    if isinstance(desired, str) and desired.startswith("{"):
        try:
            return bool(json.loads(live or "null") == json.loads(desired))
        except ValueError:
            return False
    return str(live) == str(desired)
