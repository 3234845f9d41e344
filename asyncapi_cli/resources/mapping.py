"""A Lambda event source mapping: which source feeds which function, and how (batching, scaling)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import error_code, error_message
from ..engine import KNOWN_AFTER_UP, Change, Context, Found, diff_settings
from . import Resource, note_already_gone, or_none

IDENTITY = ("EventSourceArn", "FunctionName")  # what the mapping is; the rest is how it behaves
# Set at creation only: UpdateEventSourceMapping has no StartingPosition (Lambda API reference).
CREATE_ONLY = ("StartingPosition", "StartingPositionTimestamp")


@dataclass(kw_only=True)
class EventSourceMapping(Resource):
    """attributes: CreateEventSourceMapping's parameters (EventSourceArn and FunctionName included)."""

    kind = "event-source-mapping"
    # CreateEventSourceMapping, then Creating for a few seconds (Lambda API reference).
    expected_seconds = 4.0
    # Its lookup needs only the source's ARN and the function's name: the engine runs it while the
    # function is being created and waited for (engine._apply), not between Active and the create.
    find_early = True

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"uuid": KNOWN_AFTER_UP}

    def _settings(self, desired: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in desired.items() if k not in IDENTITY + CREATE_ONLY}

    def _get(self, ctx: Context, uuid: str) -> dict[str, Any] | None:
        return or_none(lambda: ctx.clients("lambda").get_event_source_mapping(UUID=uuid))

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        desired = self.desired(ctx)
        if recorded and recorded.get("uuid") not in (None, KNOWN_AFTER_UP):
            # By id first: a stream's ARN changes when the stream is turned off and on again, and is
            # None once it is off (a mapping then being deleted is still found).
            mapping = self._get(ctx, recorded["uuid"])
            if mapping is not None and mapping.get("State") != "Deleting":
                return Found({"uuid": mapping["UUID"]}, mapping)
        source = desired.get("EventSourceArn")
        if not isinstance(source, str) or source == KNOWN_AFTER_UP:
            return None
        lam = ctx.clients("lambda")
        response = or_none(
            lambda: lam.list_event_source_mappings(
                EventSourceArn=source, FunctionName=desired["FunctionName"]
            )
        )
        for mapping in (response or {}).get("EventSourceMappings", []):
            if mapping.get("State") not in ("Deleting",):
                return Found({"uuid": mapping["UUID"]}, mapping)
        return None

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live, desired = found.observed, self.desired(ctx)
        if live.get("EventSourceArn") != desired["EventSourceArn"]:
            return [Change("EventSourceArn", live.get("EventSourceArn"), desired["EventSourceArn"])]
        changes = diff_settings(live, self._settings(desired))
        if live.get("State") not in ("Enabled", "Enabling", "Creating", "Updating"):
            changes.append(Change("State", live.get("State"), "Enabled"))
        return changes

    def _wait_enabled(self, ctx: Context, uuid: str, answered: str | None = None) -> None:
        """Until Enabled. `answered`: the State the create or update call just answered (Creating,
        Enabling or Updating: EventSourceMappingConfiguration, Lambda API reference), so that no
        poll repeats it."""
        if answered == "Enabled":
            return
        ctx.wait(
            lambda: (self._get(ctx, uuid) or {}).get("State") == "Enabled",
            what=f"event source mapping {uuid} to become Enabled",
            seen_not_ready=answered is not None,
        )

    def create(self, ctx: Context) -> dict[str, Any]:
        lam = ctx.clients("lambda")
        desired = self.desired(ctx)

        def permissions_settling(exc: Exception) -> bool:
            # The function role's permissions on the source take a moment to propagate.
            return (
                error_code(exc) == "InvalidParameterValueException"
                and "permission" in error_message(exc).lower()
            )

        mapping = ctx.pacer_retry(
            lambda: lam.create_event_source_mapping(Enabled=True, Tags=ctx.tags, **desired),
            retry_if=permissions_settling,
            what=f"creating the event source mapping {self.name}",
            timeout=120,
        )
        self._wait_enabled(ctx, mapping["UUID"], mapping.get("State"))
        return {"uuid": mapping["UUID"]}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        if any(change.setting == "EventSourceArn" for change in changes):
            # A mapping's source cannot change: a new mapping on the new source replaces it.
            self.delete(ctx, found.record)
            return self.create(ctx)
        uuid = found.record["uuid"]
        settings = self._settings(self.desired(ctx))
        answer = ctx.clients("lambda").update_event_source_mapping(UUID=uuid, Enabled=True, **settings)
        self._wait_enabled(ctx, uuid, answer.get("State"))
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        uuid = record["uuid"]
        lam = ctx.clients("lambda")

        # A mapping still Creating or Updating (a `down` after an interrupted `up`) answers
        # ResourceInUseException (Lambda API reference, DeleteEventSourceMapping, Errors): retry.
        def attempt() -> None:
            answer = or_none(lambda: lam.delete_event_source_mapping(UUID=uuid))
            # AWS answers ResourceNotFoundException for an unknown UUID (Lambda API reference,
            # DeleteEventSourceMapping); moto answers 200 with no configuration: both mean gone.
            if answer is None or "UUID" not in answer:
                note_already_gone()

        ctx.pacer_retry(
            attempt,
            retry_if=lambda exc: error_code(exc) == "ResourceInUseException",
            what=f"deleting event source mapping {uuid} (still being created or updated)",
            timeout=120,
            base=0.5,
            cap=5.0,
        )
        # The mapping goes through Deleting ("might not be completely deleted for several seconds":
        # Lambda API reference, DeleteEventSourceMapping); the function must outlive it. Polled at once
        # (moto and the embedded AWS forget it at once), then about every 0.75 s.
        ctx.wait(
            lambda: self._get(ctx, uuid) is None,
            what=f"event source mapping {uuid} to be deleted",
            every=0.75,
        )
