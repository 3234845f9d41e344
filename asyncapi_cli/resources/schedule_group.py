"""An EventBridge Scheduler schedule group: a named set of schedules, tagged, deleted with its schedules.

AWS documents (Scheduler API reference, DeleteScheduleGroup): "Deleting a schedule group results in
EventBridge Scheduler deleting all schedules associated with the group. When you delete a group, it
remains in a DELETING state until all of its associated schedules are deleted." So `down` deletes the
group alone and waits until it is gone; a CreateScheduleGroup of the same name meanwhile answers
ConflictException, retried (bounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import Change, Context, Found
from . import Resource, ignore_not_found, or_none


@dataclass(kw_only=True)
class ScheduleGroup(Resource):
    """attributes: none (CreateScheduleGroup takes only the name and the stack's tags)."""

    kind = "scheduler-schedule-group"

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "arn": ctx.arn("scheduler", f"schedule-group/{self.name}")}

    def _get(self, ctx: Context) -> dict[str, Any] | None:
        group = or_none(lambda: ctx.clients("scheduler").get_schedule_group(Name=self.name))
        if group is None or group.get("State") == "DELETING":
            return None
        return dict(group)

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        group = self._get(ctx)
        if group is None:
            return None
        return Found({"name": self.name, "arn": group.get("Arn") or self.placeholder(ctx)["arn"]}, group)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        return []

    def create(self, ctx: Context) -> dict[str, Any]:
        scheduler = ctx.clients("scheduler")
        tags = [{"Key": k, "Value": v} for k, v in sorted(ctx.tags.items())]
        response = ctx.pacer_retry(
            lambda: scheduler.create_schedule_group(Name=self.name, Tags=tags),
            # A same-named group still DELETING (an `up` right after a `down`).
            retry_if=lambda exc: error_code(exc) == "ConflictException" and self._get(ctx) is None,
            what=f"creating schedule group {self.name} (a same-named group is being deleted)",
            timeout=300,
            base=1.0,
            cap=10.0,
        )
        return {"name": self.name, "arn": response["ScheduleGroupArn"]}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        scheduler = ctx.clients("scheduler")
        ignore_not_found(lambda: scheduler.delete_schedule_group(Name=record["name"]))
        # Gone (not merely DELETING) once every schedule in it is deleted.
        ctx.wait(
            lambda: or_none(lambda: scheduler.get_schedule_group(Name=record["name"])) is None,
            what=f"schedule group {record['name']} and its schedules to be deleted",
        )
