"""A CloudWatch metric alarm: PutMetricAlarm's parameters (its name and tags apart) are the desired state.

PutMetricAlarm creates or replaces the whole alarm, so create and update are the same call; tags are
given on create only ("If you are using this operation to update an existing alarm, any tags you
specify in this parameter are ignored", CloudWatch API reference, PutMetricAlarm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import Change, Context, Found
from . import Resource, ignore_not_found, note_already_gone

# The settings DescribeAlarms answers as lists whose order carries no meaning.
_UNORDERED = frozenset({"OKActions", "AlarmActions", "InsufficientDataActions"})


@dataclass(kw_only=True)
class MetricAlarm(Resource):
    """attributes: PutMetricAlarm's parameters besides AlarmName and Tags (a single-metric alarm)."""

    kind = "cloudwatch-alarm"
    known_before_create = frozenset({"name", "arn"})
    # The metric's dimensions are names, which CloudWatch never checks (an alarm may watch a metric
    # before anything publishes it): no wait on the queue or function they name, on `up` or `down`.
    value_only_keys = frozenset({"Dimensions"})
    deletion_keys = frozenset()

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "arn": ctx.arn("cloudwatch", f"alarm:{self.name}")}

    def _describe(self, ctx: Context, name: str) -> dict[str, Any] | None:
        response = ctx.clients("cloudwatch").describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])
        alarms = response.get("MetricAlarms", [])
        return dict(alarms[0]) if alarms else None

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        live = self._describe(ctx, self.name)
        if live is None:
            return None
        return Found(
            self.placeholder(ctx) | {"arn": live.get("AlarmArn") or self.placeholder(ctx)["arn"]}, live
        )

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed
        return [
            Change(key, live.get(key), desired)
            for key, desired in self.desired(ctx).items()
            if _normal(key, live.get(key, _DEFAULTS.get(key))) != _normal(key, desired)
        ]

    def _put(self, ctx: Context, *, tags: bool) -> None:
        extra = {"Tags": [{"Key": k, "Value": v} for k, v in sorted(ctx.tags.items())]} if tags else {}
        ctx.clients("cloudwatch").put_metric_alarm(AlarmName=self.name, **self.desired(ctx), **extra)

    def create(self, ctx: Context) -> dict[str, Any]:
        self._put(ctx, tags=True)
        return self.placeholder(ctx)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        self._put(ctx, tags=False)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        name = record.get("name") or self.name
        # DeleteAlarms of a name that does not exist is refused (ResourceNotFound) or, in some
        # implementations, a silent success: look first, so that `down` can say "absent" either way.
        if self._describe(ctx, name) is None:
            note_already_gone()
            return
        ignore_not_found(lambda: ctx.clients("cloudwatch").delete_alarms(AlarmNames=[name]))


# What DescribeAlarms leaves out when a setting has its default (PutMetricAlarm's documentation).
_DEFAULTS: dict[str, Any] = {
    "ActionsEnabled": True,
    "OKActions": [],
    "AlarmActions": [],
    "InsufficientDataActions": [],
    "Dimensions": [],
    "TreatMissingData": "missing",
}


def _normal(key: str, value: Any) -> Any:
    if key == "Threshold" and value is not None:
        return float(value)
    if key in _UNORDERED:
        return sorted(value or [])
    if key == "Dimensions":
        return sorted((d["Name"], d["Value"]) for d in value or [])
    return value
