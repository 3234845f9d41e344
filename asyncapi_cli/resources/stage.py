"""The `prod` stage: a deployment of the routes, redeployed whenever they change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from . import ignore_not_found, or_none
from .routes import fingerprint


@dataclass
class Stage:
    key: str = "stage"
    kind: str = "apigateway-stage"
    depends_on: tuple[str, ...] = ("routes", "status_permission")

    def name(self, ctx: Context) -> str:
        return f"{ctx.names.api}/{ctx.settings.stage}"

    def _description(self, ctx: Context) -> str:
        return f"asyncapi routes {fingerprint(ctx)}"

    def _record(self, ctx: Context, api_id: str, deployment_id: str) -> dict[str, Any]:
        url = ctx.api_url_for(api_id) if ctx.api_url_for and api_id != KNOWN_AFTER_UP else KNOWN_AFTER_UP
        return {"api_id": api_id, "stage": ctx.settings.stage, "deployment_id": deployment_id, "url": url}

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return self._record(ctx, ctx.record_of("rest_api")["id"], KNOWN_AFTER_UP)

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        api_id = ctx.record_of("rest_api")["id"]
        if api_id == KNOWN_AFTER_UP:
            return None
        apigw = ctx.clients("apigateway")
        stage = or_none(lambda: apigw.get_stage(restApiId=api_id, stageName=ctx.settings.stage))
        if stage is None:
            return None
        deployment = or_none(
            lambda: apigw.get_deployment(restApiId=api_id, deploymentId=stage["deploymentId"])
        )
        observed = {"description": (deployment or {}).get("description")}
        return Found(self._record(ctx, api_id, stage["deploymentId"]), observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live, desired = found.observed.get("description"), self._description(ctx)
        return [] if live == desired else [Change("deployment", live, desired)]

    def _deploy(self, ctx: Context, api_id: str) -> dict[str, Any]:
        deployment = ctx.clients("apigateway").create_deployment(
            restApiId=api_id,
            stageName=ctx.settings.stage,
            stageDescription="asyncapi production stage",
            description=self._description(ctx),
        )
        return self._record(ctx, api_id, deployment["id"])

    def create(self, ctx: Context) -> dict[str, Any]:
        api_id = ctx.record_of("rest_api")["id"]
        record = self._deploy(ctx, api_id)
        stage_arn = (
            f"arn:{ctx.partition}:apigateway:{ctx.region}::/restapis/{api_id}/stages/{ctx.settings.stage}"
        )
        ctx.clients("apigateway").tag_resource(resourceArn=stage_arn, tags=ctx.tags)
        return record

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        return self._deploy(ctx, found.record["api_id"])

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(
            lambda: ctx.clients("apigateway").delete_stage(
                restApiId=record["api_id"], stageName=record["stage"]
            )
        )
