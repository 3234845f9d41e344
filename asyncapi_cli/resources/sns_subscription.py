"""A subscription of an endpoint (https, email, a loopback http on the embedded AWS) to an SNS topic.

Subscribe with ReturnSubscriptionArn answers the subscription's ARN even while it awaits
confirmation (SNS API reference, Subscribe: "the response includes the ARN in all cases, even if the
subscription is not yet confirmed"), so the record always holds an ARN. ListSubscriptionsByTopic, which
finds an unrecorded one, shows a pending subscription's ARN as "PendingConfirmation": found that way
it is recorded without an ARN; its confirmation link is in the endpoint's mailbox, and SNS deletes an
unconfirmed subscription by itself after 3 days. Unsubscribing a pending one that SNS refuses is left to
that expiry (and said); `down` deletes the topic, which deletes every subscription with it.

An endpoint can hold a credential (a URL's path), and a caller may know it only by a digest
(endpoint_digest: the first hex digits of its SHA-256): find() then hashes each listed Endpoint
(ListSubscriptionsByTopic answers the endpoint as subscribed, SNS API reference), and such a unit
cannot create its subscription again: create() refuses in one line (missing_endpoint_hint says how).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

from ..aws import error_code
from ..engine import Change, Context, Found
from ..errors import InputError
from ..refs import Ref
from . import Resource, ignore_not_found, note_already_gone

PENDING = "PendingConfirmation"  # ListSubscriptionsByTopic's SubscriptionArn of an unconfirmed one


@dataclass(kw_only=True)
class SnsSubscription(Resource):
    """attributes: Subscribe's TopicArn, Protocol and Endpoint (the subscription's identity: no update);
    without Endpoint, endpoint_digest identifies it (a lowercase hex prefix of the Endpoint's SHA-256)."""

    endpoint_digest: str = ""
    missing_endpoint_hint: str = ""  # what create() says when only the digest is known

    kind = "sns-subscription"
    deletion_keys = frozenset()  # it goes with its topic (deleted_with): no order of its own
    # One unit per configured endpoint: a record no configuration builds any more is unsubscribed by
    # `up` from its record (teardown.retired_units).
    retired_from_record: ClassVar[bool] = True

    @property
    def deleted_with(self) -> str | None:
        topic = self.attributes.get("TopicArn")
        return topic.key if isinstance(topic, Ref) else None

    def _record(self, topic_arn: str, arn: str | None) -> dict[str, Any]:
        desired_protocol = self.attributes.get("Protocol")
        return {"arn": arn, "topic": topic_arn, "protocol": desired_protocol}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return self._record(self.desired(ctx)["TopicArn"], None)

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        desired = self.desired(ctx)
        sns = ctx.clients("sns")
        kwargs: dict[str, Any] = {"TopicArn": desired["TopicArn"]}
        while True:
            try:
                page = sns.list_subscriptions_by_topic(**kwargs)
            except Exception as exc:
                if error_code(exc) in ("NotFound", "NotFoundException"):
                    return None  # no topic, no subscription
                raise
            matches = [item for item in page.get("Subscriptions", []) if self._is_mine(desired, item)]
            # Two of one endpoint cannot be (Subscribe of a subscribed one answers its ARN); a digest
            # could in principle match two: the recorded ARN's first.
            recorded_arn = (recorded or {}).get("arn")
            matches.sort(key=lambda item: item.get("SubscriptionArn") != recorded_arn)
            for item in matches:
                arn = item.get("SubscriptionArn")
                if arn == PENDING:  # the ARN we recorded when subscribing, if any
                    arn = recorded_arn
                return Found(self._record(desired["TopicArn"], arn), dict(item))
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]

    def _is_mine(self, desired: dict[str, Any], item: dict[str, Any]) -> bool:
        if item.get("Protocol") != desired["Protocol"]:
            return False
        endpoint = str(item.get("Endpoint") or "")
        if "Endpoint" in desired:
            return endpoint == desired["Endpoint"]
        digest = hashlib.sha256(endpoint.encode()).hexdigest()
        return bool(self.endpoint_digest) and digest.startswith(self.endpoint_digest)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        return []  # protocol and endpoint are what the subscription is: another one is another unit

    def create(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        if "Endpoint" not in desired:
            raise InputError(
                f"{self.name}: the subscription is gone, and its endpoint is known only by its digest; "
                + (self.missing_endpoint_hint or "subscribe it again")
            )
        response = ctx.clients("sns").subscribe(**desired, ReturnSubscriptionArn=True)
        return self._record(desired["TopicArn"], response.get("SubscriptionArn"))

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        arn = record.get("arn")
        if not arn or arn == PENDING:
            note_already_gone()  # nothing to unsubscribe by: SNS expires it unconfirmed
            return
        sns = ctx.clients("sns")
        try:
            ignore_not_found(lambda: sns.unsubscribe(SubscriptionArn=arn))
        except Exception as exc:
            # A pending subscription SNS will not unsubscribe: it expires unconfirmed after 3 days.
            if error_code(exc) != "InvalidParameter":
                raise
            note_already_gone()
