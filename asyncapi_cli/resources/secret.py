"""A Secrets Manager secret whose value `up` generates once, on create; only its ARN is ever recorded.

The value never passes through the state file, an environment variable or a log: CreateSecret takes
it straight from the generator, and an update touches only the description. A delete is immediate
(ForceDeleteWithoutRecovery), so that `down` leaves nothing and a later `up` may reuse the name.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..aws import error_code, error_message
from ..engine import Change, Context, Found
from . import Resource, ignore_not_found, or_none


def _random_hex() -> str:
    return secrets.token_hex(32)


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
        try:
            response = manager.create_secret(
                Name=self.name, SecretString=self.generate(), Tags=tags, **desired
            )
        except Exception as exc:
            # A secret of this name scheduled for deletion (deleted with a recovery window, outside
            # asyncapi) blocks the name: restore it and give it a fresh value.
            if error_code(exc) != "InvalidRequestException" or "deletion" not in error_message(exc):
                raise
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
