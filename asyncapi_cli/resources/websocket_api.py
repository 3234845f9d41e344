"""An API Gateway v2 WebSocket API: the API itself, its routes with their integration, and a stage.

Three units, as the REST API's: `WebSocketApi` (CreateApi), `WebSocketRoutes` (one integration and the
routes that target it; they go when the API is deleted) and `WebSocketStage` (a stage that deploys
itself: AutoDeploy). They know API Gateway v2, never the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from ..names import TAG_KEY
from ..refs import Ref
from . import Resource, ignore_not_found, or_none


@dataclass(kw_only=True)
class WebSocketApi(Resource):
    """attributes: CreateApi's ProtocolType and RouteSelectionExpression (the name is the unit's)."""

    kind = "apigatewayv2-api"
    unique_name: bool = False  # API Gateway allows many APIs with one name

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "id": KNOWN_AFTER_UP}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        v2 = ctx.clients("apigatewayv2")
        if recorded and recorded.get("id") not in (None, KNOWN_AFTER_UP):
            api = or_none(lambda: v2.get_api(ApiId=recorded["id"]))
            if api is not None and api.get("Name") == self.name:
                return Found({"name": self.name, "id": api["ApiId"]}, api)
        matches = [api for api in v2.get_apis().get("Items", []) if api.get("Name") == self.name]
        if not matches:
            return None
        tagged = [m for m in matches if (m.get("Tags") or {}).get(TAG_KEY) == ctx.names.project]
        api = (tagged or matches)[0]
        return Found({"name": self.name, "id": api["ApiId"]}, api)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live = found.observed.get("RouteSelectionExpression")
        wanted = self.desired(ctx).get("RouteSelectionExpression")
        return [] if live == wanted else [Change("RouteSelectionExpression", live, wanted)]

    def create(self, ctx: Context) -> dict[str, Any]:
        api = ctx.clients("apigatewayv2").create_api(Name=self.name, Tags=ctx.tags, **self.desired(ctx))
        return {"name": self.name, "id": api["ApiId"]}

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        wanted = self.desired(ctx)["RouteSelectionExpression"]
        ctx.clients("apigatewayv2").update_api(ApiId=found.record["id"], RouteSelectionExpression=wanted)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(lambda: ctx.clients("apigatewayv2").delete_api(ApiId=record["id"]))


@dataclass(kw_only=True)
class WebSocketRoutes(Resource):
    """attributes: ApiId (a ref to the API), Integration (CreateIntegration's IntegrationType and
    IntegrationUri) and RouteKeys (every route, all targeting that integration). Routes not named are
    deleted; so are integrations no route targets."""

    kind = "apigatewayv2-routes"

    @property
    def deleted_with(self) -> str | None:
        api = self.attributes.get("ApiId")
        return api.key if isinstance(api, Ref) else None

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"api_id": self.desired(ctx)["ApiId"], "integration_id": KNOWN_AFTER_UP}

    def _observe(self, ctx: Context, api_id: str) -> dict[str, Any] | None:
        v2 = ctx.clients("apigatewayv2")
        integrations = or_none(lambda: v2.get_integrations(ApiId=api_id))
        if integrations is None:
            return None
        routes = v2.get_routes(ApiId=api_id).get("Items", [])
        return {
            "integrations": {i["IntegrationId"]: i for i in integrations.get("Items", [])},
            "routes": {r["RouteKey"]: r for r in routes},
        }

    def _wanted_integration(self, desired: dict[str, Any], observed: dict[str, Any]) -> str | None:
        wanted = desired["Integration"]
        for integration_id, live in observed["integrations"].items():
            if all(live.get(k) == v for k, v in wanted.items()):
                return str(integration_id)
        return None

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        desired = self.desired(ctx)
        if desired["ApiId"] == KNOWN_AFTER_UP:
            return None
        observed = self._observe(ctx, desired["ApiId"])
        if observed is None or not observed["routes"]:
            return None
        integration_id = self._wanted_integration(desired, observed)
        record = {"api_id": desired["ApiId"], "integration_id": integration_id or KNOWN_AFTER_UP}
        return Found(record, observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired, observed = self.desired(ctx), found.observed
        integration_id = self._wanted_integration(desired, observed)
        live = {key: route.get("Target") for key, route in sorted(observed["routes"].items())}
        wanted = {key: f"integrations/{integration_id}" for key in sorted(desired["RouteKeys"])}
        return [] if integration_id and live == wanted else [Change("routes", live, wanted)]

    def _converge(self, ctx: Context, observed: dict[str, Any]) -> dict[str, Any]:
        v2, desired = ctx.clients("apigatewayv2"), self.desired(ctx)
        api_id = desired["ApiId"]
        integration_id = self._wanted_integration(desired, observed)
        if integration_id is None:
            integration_id = v2.create_integration(ApiId=api_id, **desired["Integration"])["IntegrationId"]
        target = f"integrations/{integration_id}"
        for key in desired["RouteKeys"]:
            live = observed["routes"].get(key)
            if live is None:
                v2.create_route(ApiId=api_id, RouteKey=key, Target=target)
            elif live.get("Target") != target:
                v2.update_route(ApiId=api_id, RouteId=live["RouteId"], Target=target)
        for key, live in observed["routes"].items():
            if key not in desired["RouteKeys"]:
                ignore_not_found(lambda live=live: v2.delete_route(ApiId=api_id, RouteId=live["RouteId"]))
        for other in observed["integrations"]:
            if other != integration_id:
                ignore_not_found(lambda other=other: v2.delete_integration(ApiId=api_id, IntegrationId=other))
        return {"api_id": api_id, "integration_id": integration_id}

    def create(self, ctx: Context) -> dict[str, Any]:
        api_id = self.desired(ctx)["ApiId"]
        return self._converge(ctx, self._observe(ctx, api_id) or {"integrations": {}, "routes": {}})

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        return self._converge(ctx, found.observed)

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        v2 = ctx.clients("apigatewayv2")
        observed = self._observe(ctx, record["api_id"]) or {"integrations": {}, "routes": {}}
        for route in observed["routes"].values():
            ignore_not_found(
                lambda route=route: v2.delete_route(ApiId=record["api_id"], RouteId=route["RouteId"])
            )
        for integration_id in observed["integrations"]:
            ignore_not_found(
                lambda gone=integration_id: v2.delete_integration(ApiId=record["api_id"], IntegrationId=gone)
            )


@dataclass(kw_only=True)
class WebSocketStage(Resource):
    """attributes: ApiId, StageName, AutoDeploy and optionally DefaultRouteSettings (CreateStage's names;
    of DefaultRouteSettings only the throttling limits are managed)."""

    kind = "apigatewayv2-stage"

    @property
    def deleted_with(self) -> str | None:
        api = self.attributes.get("ApiId")
        return api.key if isinstance(api, Ref) else None

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        return {"api_id": desired["ApiId"], "stage": desired["StageName"]}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        desired = self.desired(ctx)
        if desired["ApiId"] == KNOWN_AFTER_UP:
            return None
        v2 = ctx.clients("apigatewayv2")
        stage = or_none(lambda: v2.get_stage(ApiId=desired["ApiId"], StageName=desired["StageName"]))
        return None if stage is None else Found(self.placeholder(ctx), stage)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = self.desired(ctx)
        live, wanted = bool(found.observed.get("AutoDeploy")), desired.get("AutoDeploy", False)
        changes = [] if live == wanted else [Change("AutoDeploy", live, wanted)]
        routes = desired.get("DefaultRouteSettings") or {}
        observed = found.observed.get("DefaultRouteSettings") or {}
        for key, value in routes.items():
            if observed.get(key) != value:
                changes.append(Change(f"DefaultRouteSettings.{key}", observed.get(key), value))
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        ctx.clients("apigatewayv2").create_stage(Tags=ctx.tags, **self.desired(ctx))
        return self.placeholder(ctx)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        desired = self.desired(ctx)
        routes = (
            {"DefaultRouteSettings": desired["DefaultRouteSettings"]}
            if "DefaultRouteSettings" in desired
            else {}
        )
        ctx.clients("apigatewayv2").update_stage(
            ApiId=desired["ApiId"],
            StageName=desired["StageName"],
            AutoDeploy=desired.get("AutoDeploy", False),
            **routes,
        )
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(
            lambda: ctx.clients("apigatewayv2").delete_stage(
                ApiId=record["api_id"], StageName=record["stage"]
            )
        )
