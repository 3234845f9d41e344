"""A REST API stage: a deployment of the API, redeployed whenever its description (a digest) changes.

Optional stage settings, converged with one UpdateStage (patch operations) whenever they drift:
- `methodSettings`: {"*/*": {"throttlingRateLimit": float, "throttlingBurstLimit": int}}, patched as
  `/*/*/throttling/rateLimit` and `/*/*/throttling/burstLimit` (API Gateway REST API Reference,
  "PatchOperation" and "MethodSetting": the stage-wide default is the `*/*` key);
- `accessLogSettings`: {"destinationArn": log group ARN, "format": one line per request}, patched as
  `/accessLogSettings/destinationArn` and `/accessLogSettings/format`; None removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from ..refs import Ref
from . import Resource, ignore_not_found, or_none

# The attributes CreateDeployment does not take: they are UpdateStage's.
_STAGE_SETTINGS = ("methodSettings", "accessLogSettings")
_THROTTLING_PATHS = {
    "throttlingRateLimit": "throttling/rateLimit",
    "throttlingBurstLimit": "throttling/burstLimit",
}


def _live_settings(stage: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The stage's settings in the desired shape (only the keys the stack manages)."""
    live: dict[str, Any] = {}
    if "methodSettings" in desired:
        methods = stage.get("methodSettings") or {}
        live["methodSettings"] = {
            key: {name: (methods.get(key) or {}).get(name) for name in wanted}
            for key, wanted in (desired["methodSettings"] or {}).items()
        }
    if "accessLogSettings" in desired:
        live["accessLogSettings"] = stage.get("accessLogSettings") or None
    return live


def patch_operations(desired: dict[str, Any], live: dict[str, Any]) -> list[dict[str, str]]:
    """The UpdateStage patch operations that turn `live` into `desired` (nothing when they agree)."""
    ops: list[dict[str, str]] = []
    for key, wanted in (desired.get("methodSettings") or {}).items():
        current = (live.get("methodSettings") or {}).get(key) or {}
        for name, value in wanted.items():
            if current.get(name) != value:
                path = f"/{key}/{_THROTTLING_PATHS[name]}"
                ops.append({"op": "replace", "path": path, "value": str(value)})
    if "accessLogSettings" in desired and desired["accessLogSettings"] != live.get("accessLogSettings"):
        if desired["accessLogSettings"] is None:
            ops.append({"op": "remove", "path": "/accessLogSettings"})
        else:
            for name, value in desired["accessLogSettings"].items():
                ops.append({"op": "replace", "path": f"/accessLogSettings/{name}", "value": str(value)})
    return ops


@dataclass(kw_only=True)
class Stage(Resource):
    """attributes: restApiId, stageName, stageDescription, and description (the deployment's: put a
    digest of the routes there so that a change of routes redeploys); optionally methodSettings and
    accessLogSettings (see the module's docstring)."""

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
        observed = {"description": (deployment or {}).get("description")} | _live_settings(stage, desired)
        return Found(self._record(ctx, desired, stage["deploymentId"]), observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = self.desired(ctx)
        live = found.observed.get("description")
        changes = (
            [] if live == desired["description"] else [Change("deployment", live, desired["description"])]
        )
        for name in _STAGE_SETTINGS:
            if name in desired and found.observed.get(name) != desired[name]:
                changes.append(Change(name, found.observed.get(name), desired[name]))
        return changes

    def _deploy(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        deployment = ctx.clients("apigateway").create_deployment(
            **{k: v for k, v in desired.items() if k not in _STAGE_SETTINGS}
        )
        return self._record(ctx, desired, deployment["id"])

    def _converge_settings(self, ctx: Context, live: dict[str, Any]) -> None:
        desired = self.desired(ctx)
        ops = patch_operations(desired, live)
        if ops:
            ctx.clients("apigateway").update_stage(
                restApiId=desired["restApiId"], stageName=desired["stageName"], patchOperations=ops
            )

    def create(self, ctx: Context) -> dict[str, Any]:
        record = self._deploy(ctx)
        path = f"/restapis/{record['api_id']}/stages/{record['stage']}"
        stage_arn = f"arn:{ctx.partition}:apigateway:{ctx.region}::{path}"
        ctx.clients("apigateway").tag_resource(resourceArn=stage_arn, tags=ctx.tags)
        self._converge_settings(ctx, {})
        return record

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        desired = self.desired(ctx)
        record = found.record
        if found.observed.get("description") != desired["description"]:
            record = self._deploy(ctx)
        self._converge_settings(ctx, found.observed)
        return record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        ignore_not_found(
            lambda: ctx.clients("apigateway").delete_stage(
                restApiId=record["api_id"], stageName=record["stage"]
            )
        )
