"""An API's gateway responses (the answers API Gateway itself gives: 403, 429, 5xx...), e.g. to add
CORS headers to DEFAULT_4XX / DEFAULT_5XX. A change needs a redeployment: the record's fingerprint is
meant for the stage's description, as the routes' is."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from ..refs import Ref
from . import Resource, ignore_not_found, or_none


@dataclass(kw_only=True)
class GatewayResponses(Resource):
    """attributes: restApiId, responses {responseType: {"responseParameters": {...}}}."""

    kind = "apigateway-gateway-responses"

    @property
    def deleted_with(self) -> str | None:
        api = self.attributes.get("restApiId")
        return api.key if isinstance(api, Ref) else None

    def _result(self, desired: dict[str, Any]) -> dict[str, Any]:
        digest = hashlib.sha256(json.dumps(desired["responses"], sort_keys=True).encode()).hexdigest()[:16]
        return {"api_id": desired["restApiId"], "fingerprint": digest}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return self._result(self.desired(ctx))

    def _live(self, ctx: Context, api_id: str) -> dict[str, Any] | None:
        answer = or_none(lambda: ctx.clients("apigateway").get_gateway_responses(restApiId=api_id))
        if answer is None:
            return None
        return {
            item["responseType"]: {"responseParameters": item.get("responseParameters") or {}}
            for item in answer.get("items", [])
        }

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        desired = self.desired(ctx)
        if desired["restApiId"] == KNOWN_AFTER_UP:
            return None
        live = self._live(ctx, desired["restApiId"])
        if live is None or not any(live.get(t) == v for t, v in desired["responses"].items()):
            return None
        return Found(self._result(desired), live)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        responses = self.desired(ctx)["responses"]
        return [
            Change(t, found.observed.get(t), v) for t, v in responses.items() if found.observed.get(t) != v
        ]

    def _put(self, ctx: Context, live: dict[str, Any]) -> dict[str, Any]:
        desired = self.desired(ctx)
        for response_type, wanted in desired["responses"].items():
            if live.get(response_type) != wanted:
                ctx.clients("apigateway").put_gateway_response(
                    restApiId=desired["restApiId"], responseType=response_type, **wanted
                )
        return self._result(desired)

    def create(self, ctx: Context) -> dict[str, Any]:
        return self._put(ctx, {})

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        return self._put(ctx, found.observed)

    # Deleted before the rest converges when the stack no longer has them (CORS turned off while the
    # API stays): the stage then redeploys with API Gateway's defaults, which a deployment made
    # before the deletion would not serve (a gateway response change needs a redeployment).
    retire_first = True

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        """Only when the API stays (with the API, the engine makes no call): DeleteGatewayResponse per
        response type this unit puts, which restores API Gateway's default for it."""
        apigw = ctx.clients("apigateway")
        api_id = record["api_id"]
        for response_type in sorted(self.attributes.get("responses") or {}):
            ignore_not_found(
                lambda t=response_type: apigw.delete_gateway_response(restApiId=api_id, responseType=t)
            )
