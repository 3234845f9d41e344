"""An API Gateway usage plan bound to one API stage, with a throttle, a quota and one API key.

Deleting a plan that still names API stages is refused by API Gateway; as Terraform's provider does
(aws_api_gateway_usage_plan delete), the stages are removed from the plan first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import KNOWN_AFTER_UP, Change, Context, Found
from . import Resource, ignore_not_found, or_none


def _throttle(value: dict[str, Any] | None) -> dict[str, Any]:
    value = value or {}
    return {"rateLimit": float(value.get("rateLimit", 0)), "burstLimit": int(value.get("burstLimit", 0))}


def _quota(value: dict[str, Any] | None) -> dict[str, Any]:
    value = value or {}
    return {"limit": int(value.get("limit", 0)), "period": str(value.get("period", ""))}


def _stages(value: list[dict[str, Any]] | None) -> list[str]:
    return sorted(f"{s.get('apiId')}:{s.get('stage')}" for s in value or [])


@dataclass(kw_only=True)
class UsagePlan(Resource):
    """attributes: apiStages [{apiId, stage}], throttle {rateLimit, burstLimit}, quota {limit, period},
    keyId (the API key bound to the plan)."""

    kind = "apigateway-usage-plan"

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {
            "id": KNOWN_AFTER_UP,
            "name": self.name,
            "api_stages": _stages(self.desired(ctx)["apiStages"]),
        }

    def _record(self, plan_id: str, stages: list[str]) -> dict[str, Any]:
        return {"id": plan_id, "name": self.name, "api_stages": stages}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        apigw = ctx.clients("apigateway")
        for page in apigw.get_paginator("get_usage_plans").paginate():
            for plan in page.get("items", []):
                if plan.get("name") != self.name:
                    continue
                keys = [
                    item["id"]
                    for item in (
                        or_none(lambda p=plan: apigw.get_usage_plan_keys(usagePlanId=p["id"])) or {}
                    ).get("items", [])
                ]
                observed = {
                    "apiStages": _stages(plan.get("apiStages")),
                    "throttle": _throttle(plan.get("throttle")),
                    "quota": _quota(plan.get("quota")),
                    "keys": sorted(keys),
                }
                return Found(self._record(plan["id"], observed["apiStages"]), observed)
        return None

    def _wanted(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        return {
            "apiStages": _stages(desired["apiStages"]),
            "throttle": _throttle(desired["throttle"]),
            "quota": _quota(desired["quota"]),
            "keys": [desired["keyId"]],
        }

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        wanted = self._wanted(ctx)
        return [Change(k, found.observed.get(k), v) for k, v in wanted.items() if found.observed.get(k) != v]

    def create(self, ctx: Context) -> dict[str, Any]:
        desired = self.desired(ctx)
        apigw = ctx.clients("apigateway")
        plan = apigw.create_usage_plan(
            name=self.name,
            description=f"asyncapi stack {ctx.names.project}",
            apiStages=desired["apiStages"],
            throttle=desired["throttle"],
            quota=desired["quota"],
            tags=ctx.tags,
        )
        apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=desired["keyId"], keyType="API_KEY")
        return self._record(plan["id"], _stages(desired["apiStages"]))

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        apigw = ctx.clients("apigateway")
        wanted, live, plan_id = self._wanted(ctx), found.observed, found.record["id"]
        ops: list[dict[str, str]] = []
        for stage in sorted(set(live["apiStages"]) - set(wanted["apiStages"])):
            ops.append({"op": "remove", "path": "/apiStages", "value": stage})
        for stage in sorted(set(wanted["apiStages"]) - set(live["apiStages"])):
            ops.append({"op": "add", "path": "/apiStages", "value": stage})
        for part in ("throttle", "quota"):
            for name, value in wanted[part].items():
                if live[part].get(name) != value:
                    # "5" not "5.0" for a whole rate: both are valid doubles for AWS, and moto's
                    # UpdateUsagePlan parses the rate with int().
                    text = f"{value:g}" if isinstance(value, float) else str(value)
                    ops.append({"op": "replace", "path": f"/{part}/{name}", "value": text})
        if ops:
            apigw.update_usage_plan(usagePlanId=plan_id, patchOperations=ops)
        for key_id in sorted(set(live["keys"]) - set(wanted["keys"])):
            ignore_not_found(lambda k=key_id: apigw.delete_usage_plan_key(usagePlanId=plan_id, keyId=k))
        for key_id in sorted(set(wanted["keys"]) - set(live["keys"])):
            apigw.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
        return self._record(plan_id, wanted["apiStages"])

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        apigw = ctx.clients("apigateway")
        plan = or_none(lambda: apigw.get_usage_plan(usagePlanId=record["id"]))
        if plan is None:
            return
        stages = _stages(plan.get("apiStages"))
        if stages:
            apigw.update_usage_plan(
                usagePlanId=record["id"],
                patchOperations=[{"op": "remove", "path": "/apiStages", "value": s} for s in stages],
            )
        ignore_not_found(lambda: apigw.delete_usage_plan(usagePlanId=record["id"]))
