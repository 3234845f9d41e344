"""A Secrets Manager secret whose value `up` generates once, on create; only its ARN is ever recorded.

The value never passes through the state file, an environment variable or a log: CreateSecret takes
it straight from the generator, and an update touches only the description. A delete skips the
recovery window (ForceDeleteWithoutRecovery), so that `down` leaves nothing. AWS deletes such a secret
asynchronously: "there might be a short delay before the secret is permanently deleted. If you delete
a secret and then immediately create a secret with the same name, use appropriate back off and retry
logic" (Secrets Manager API reference, DeleteSecret, ForceDeleteWithoutRecovery). Meanwhile CreateSecret
of the name answers InvalidRequestException "...already scheduled for deletion" (LocalStack's parity
snapshot, recorded against AWS: tests/aws/services/secretsmanager/test_secretsmanager.snapshot.json,
test_exp_raised_on_creation_of_secret_scheduled_for_deletion), and the secret cannot be restored: `up`
then retries CreateSecret (bounded, jittered) until the name is free.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..aws import error_code, error_message
from ..engine import Change, Context, Found
from . import Resource, ignore_not_found, or_none

# A deletion with a recovery window is scheduled at least 7 days ahead (DeleteSecret,
# RecoveryWindowInDays: 7 to 30); a forced one for about now. Anything a day ahead or more is restorable.
RESTORABLE_AHEAD = timedelta(days=1)
# How long `up` waits for a force-deleted secret's name to be free (AWS: "a short delay").
NAME_FREED_TIMEOUT = 300.0


def _random_hex() -> str:
    return secrets.token_hex(32)


def _name_scheduled_for_deletion(exc: Exception) -> bool:
    return error_code(exc) == "InvalidRequestException" and "deletion" in error_message(exc)


def _restorable(live: dict[str, Any] | None, now: datetime) -> bool:
    """Deleted with a recovery window (outside asyncapi): DescribeSecret's DeletedDate, "the date the
    secret is scheduled for deletion" (service model), lies days ahead. A force-deleted secret being
    deleted is either not described at all or scheduled for about now, and RestoreSecret cannot undo it."""
    deleted = (live or {}).get("DeletedDate")
    if not isinstance(deleted, datetime):
        return False
    if deleted.tzinfo is None:
        deleted = deleted.replace(tzinfo=timezone.utc)
    return deleted - now >= RESTORABLE_AHEAD


@dataclass(kw_only=True)
class Secret(Resource):
    """attributes: Description (and, optionally, KmsKeyId). `generate` makes the value on create only."""

    generate: Callable[[], str] = field(default=_random_hex, repr=False)
    kind = "secretsmanager-secret"

    def _record(self, arn: str) -> dict[str, Any]:
        return {"name": self.name, "arn": arn}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        # Secrets Manager appends "-" and 6 random characters to the name in the ARN.
        return self._record(ctx.arn("secretsmanager", f"secret:{self.name}-??????"))

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        manager = ctx.clients("secretsmanager")
        secret_id = (recorded or {}).get("arn") or self.name
        live = or_none(lambda: manager.describe_secret(SecretId=secret_id))
        if live is None and secret_id != self.name:  # the recorded ARN is gone; a same-named one?
            live = or_none(lambda: manager.describe_secret(SecretId=self.name))
        if live is None or live.get("DeletedDate"):  # scheduled for deletion: as good as gone
            return None
        return Found(self._record(live["ARN"]), live)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = self.desired(ctx)
        return [
            Change(key, found.observed.get(key), value)
            for key, value in desired.items()
            if found.observed.get(key) != value
        ]

    def create(self, ctx: Context) -> dict[str, Any]:
        manager = ctx.clients("secretsmanager")
        desired = self.desired(ctx)
        tags = [{"Key": key, "Value": value} for key, value in sorted(ctx.tags.items())]

        def create_secret() -> Any:
            return manager.create_secret(Name=self.name, SecretString=self.generate(), Tags=tags, **desired)

        try:
            response = create_secret()
        except Exception as exc:
            if not _name_scheduled_for_deletion(exc):
                raise
            live = or_none(lambda: manager.describe_secret(SecretId=self.name))
            if not _restorable(live, datetime.now(timezone.utc)):
                # Force-deleted (by `down`) and not yet gone: wait until AWS frees the name.
                response = ctx.pacer_retry(
                    create_secret,
                    retry_if=_name_scheduled_for_deletion,
                    what=f"creating secret {self.name} (a same-named secret is still being deleted)",
                    timeout=NAME_FREED_TIMEOUT,
                    base=1.0,
                    cap=10.0,
                )
                return self._record(response["ARN"])
            # Deleted with a recovery window, outside asyncapi: the name stays taken for days unless
            # the secret is restored; restore it and give it a fresh value.
            manager.restore_secret(SecretId=self.name)
            manager.put_secret_value(SecretId=self.name, SecretString=self.generate())
            manager.update_secret(SecretId=self.name, **desired)
            response = manager.describe_secret(SecretId=self.name)
        return self._record(response["ARN"])

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        # Never the value: receivers keep verifying with the secret they were given.
        ctx.clients("secretsmanager").update_secret(SecretId=found.record["arn"], **self.desired(ctx))
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        manager = ctx.clients("secretsmanager")
        ignore_not_found(
            lambda: manager.delete_secret(SecretId=record["arn"], ForceDeleteWithoutRecovery=True)
        )
