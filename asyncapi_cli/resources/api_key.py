"""An API Gateway API key. Only its id and name are recorded: the key's value is a secret, never
written to the state file or the logs (read it with GetApiKey includeValue=True when needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from . import Resource, ignore_not_found


@dataclass(kw_only=True)
class ApiKey(Resource):
    """attributes: description, enabled. The key is found by its name (the stack's)."""

    kind = "apigateway-api-key"

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"id": KNOWN_AFTER_UP, "name": self.name}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        apigw = ctx.clients("apigateway")
        # includeValues defaults to false: the listing carries no key value.
        for page in apigw.get_paginator("get_api_keys").paginate(nameQuery=self.name):
            for key in page.get("items", []):
                if key.get("name") == self.name:
                    return Found({"id": key["id"], "name": self.name}, {"enabled": bool(key.get("enabled"))})
        return None

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = bool(self.desired(ctx).get("enabled", True))
        live = found.observed.get("enabled")
        return [] if live == desired else [Change("enabled", live, desired)]

    def create(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        created = ctx.clients("apigateway").create_api_key(
            name=self.name,
            description=desired.get("description", ""),
            enabled=bool(desired.get("enabled", True)),
            tags=ctx.tags,
        )
        return {"id": created["id"], "name": self.name}  # never created["value"]

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        enabled = str(bool(self.desired(ctx).get("enabled", True))).lower()
        ctx.clients("apigateway").update_api_key(
            apiKey=found.record["id"],
            patchOperations=[{"op": "replace", "path": "/enabled", "value": enabled}],
        )
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(lambda: ctx.clients("apigateway").delete_api_key(apiKey=record["id"]))


def read_key_value(apigw: Any, key_id: str) -> str:
    """The key's value, read from API Gateway at the moment it is needed (never stored)."""
    return str(apigw.get_api_key(apiKey=key_id, includeValue=True)["value"])
