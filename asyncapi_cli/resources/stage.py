"""A REST API stage: a deployment of the API, redeployed whenever its description (a digest) changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from ..refs import Ref
from . import Resource, ignore_not_found, or_none


@dataclass(kw_only=True)
class Stage(Resource):
    """attributes: restApiId, stageName, stageDescription, and description (the deployment's: put a
    digest of the routes there so that a change of routes redeploys)."""

    kind = "apigateway-stage"

    @property
    def deleted_with(self) -> str | None:
        """A stage is deleted with its REST API: no DeleteStage on `down`."""
        api = self.attributes.get("restApiId")
        return api.key if isinstance(api, Ref) else None

    def _record(self, ctx: Context, desired: dict[str, Any], deployment_id: str) -> dict[str, Any]:
        api_id = desired["restApiId"]
        url = ctx.api_url_for(api_id) if ctx.api_url_for and api_id != KNOWN_AFTER_UP else KNOWN_AFTER_UP
        return {"api_id": api_id, "stage": desired["stageName"], "deployment_id": deployment_id, "url": url}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return self._record(ctx, self.desired(ctx), KNOWN_AFTER_UP)

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        desired = self.desired(ctx)
        api_id = desired["restApiId"]
        if api_id == KNOWN_AFTER_UP:
            return None
        apigw = ctx.clients("apigateway")
        stage = or_none(lambda: apigw.get_stage(restApiId=api_id, stageName=desired["stageName"]))
        if stage is None:
            return None
        deployment = or_none(
            lambda: apigw.get_deployment(restApiId=api_id, deploymentId=stage["deploymentId"])
        )
        observed = {"description": (deployment or {}).get("description")}
        return Found(self._record(ctx, desired, stage["deploymentId"]), observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live, desired = found.observed.get("description"), self.desired(ctx)["description"]
        return [] if live == desired else [Change("deployment", live, desired)]

    def _deploy(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        deployment = ctx.clients("apigateway").create_deployment(**desired)
        return self._record(ctx, desired, deployment["id"])

    def create(self, ctx: Context) -> dict[str, Any]:
        record = self._deploy(ctx)
        path = f"/restapis/{record['api_id']}/stages/{record['stage']}"
        stage_arn = f"arn:{ctx.partition}:apigateway:{ctx.region}::{path}"
        ctx.clients("apigateway").tag_resource(resourceArn=stage_arn, tags=ctx.tags)
        return record

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        return self._deploy(ctx)

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(
            lambda: ctx.clients("apigateway").delete_stage(
                restApiId=record["api_id"], stageName=record["stage"]
            )
        )
