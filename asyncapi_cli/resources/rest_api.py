"""A REST API itself. Its routes, permissions and stage are separate units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from ..names import TAG_KEY
from . import Resource, ignore_not_found, note_already_gone, or_none


@dataclass(kw_only=True)
class RestApi(Resource):
    """attributes: description and endpointConfiguration (CreateRestApi's names)."""

    kind = "apigateway-rest-api"
    unique_name: bool = False  # API Gateway allows many REST APIs with one name

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "id": KNOWN_AFTER_UP}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        apigw = ctx.clients("apigateway")
        if recorded and recorded.get("id") not in (None, KNOWN_AFTER_UP):
            api = or_none(lambda: apigw.get_rest_api(restApiId=recorded["id"]))
            if api is not None and api.get("name") == self.name:
                return Found(_record(api), api)
        # REST API names are not unique: prefer the one tagged with this stack.
        matches = [
            item
            for page in apigw.get_paginator("get_rest_apis").paginate()
            for item in page.get("items", [])
            if item.get("name") == self.name
        ]
        if not matches:
            return None
        tagged = [m for m in matches if (m.get("tags") or {}).get(TAG_KEY) == ctx.names.project]
        api = (tagged or matches)[0]
        return Found(_record(api), api)

    def _types(self, ctx: Context) -> list[str]:
        return list((self.desired(ctx).get("endpointConfiguration") or {}).get("types") or ["EDGE"])

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        types = (found.observed.get("endpointConfiguration") or {}).get("types") or ["EDGE"]
        wanted = self._types(ctx)
        return [] if types == wanted else [Change("endpointConfiguration.types", types, wanted)]

    def create(self, ctx: Context) -> dict[str, Any]:
        api = ctx.clients("apigateway").create_rest_api(name=self.name, tags=ctx.tags, **self.desired(ctx))
        return _record(api)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        current = (found.observed.get("endpointConfiguration") or {}).get("types") or ["EDGE"]
        ctx.clients("apigateway").update_rest_api(
            restApiId=found.record["id"],
            patchOperations=[
                {"op": "replace", "path": f"/endpointConfiguration/types/{current[0]}", "value": wanted}
                for wanted in self._types(ctx)[:1]
            ],
        )
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        apigw = ctx.clients("apigateway")
        # AWS answers NotFoundException for a missing API, but moto (the tests and the embedded local
        # AWS) fails with an internal KeyError: look it up first, the one lookup `down` keeps.
        if or_none(lambda: apigw.get_rest_api(restApiId=record["id"])) is None:
            note_already_gone()
            return
        # DeleteRestApi is throttled hard (about one call per 30 s per account) beyond botocore's retries.
        ctx.pacer_retry(
            lambda: ignore_not_found(lambda: apigw.delete_rest_api(restApiId=record["id"])),
            retry_if=lambda exc: error_code(exc) == "TooManyRequestsException",
            what=f"deleting REST API {record['id']}",
            timeout=180,
            base=2.0,
            cap=30.0,
        )


def _record(api: dict[str, Any]) -> dict[str, Any]:
    # The root resource's id too, so that the routes of a new API need not read its resources.
    return {"name": api["name"], "id": api["id"], "root_id": api.get("rootResourceId")}
