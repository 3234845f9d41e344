"""A CloudWatch dashboard: its body (PutDashboard's DashboardBody, a JSON document) is the desired state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..aws import error_code, error_message
from ..engine import Change, Context, Found
from . import Resource, ignore_not_found, or_none


@dataclass(kw_only=True)
class Dashboard(Resource):
    """attributes: DashboardBody (Json). Dashboards take no tags through PutDashboard."""

    kind = "cloudwatch-dashboard"
    known_before_create = frozenset({"name", "arn"})

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        # Dashboards are global to the account: their ARN has no region (CloudWatch API reference).
        return {"name": self.name, "arn": ctx.arn("cloudwatch", f"dashboard/{self.name}", region=False)}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        try:
            response = or_none(lambda: ctx.clients("cloudwatch").get_dashboard(DashboardName=self.name))
        except Exception as exc:
            # AWS answers ResourceNotFound (botocore's cloudwatch model: DashboardNotFoundError);
            # LocalStack answers InvalidParameterValue "Dashboard <name> does not exist.".
            if error_code(exc) == "InvalidParameterValue" and "does not exist" in error_message(exc):
                return None
            raise
        if response is None:
            return None
        return Found(self.placeholder(ctx), {"DashboardBody": response.get("DashboardBody")})

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        live, desired = found.observed.get("DashboardBody"), self.desired(ctx)["DashboardBody"]
        return [] if _document(live) == _document(desired) else [Change("DashboardBody", live, desired)]

    def _put(self, ctx: Context) -> None:
        ctx.clients("cloudwatch").put_dashboard(
            DashboardName=self.name, DashboardBody=self.desired(ctx)["DashboardBody"]
        )

    def create(self, ctx: Context) -> dict[str, Any]:
        self._put(ctx)
        return self.placeholder(ctx)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        self._put(ctx)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        name = record.get("name") or self.name
        ignore_not_found(lambda: ctx.clients("cloudwatch").delete_dashboards(DashboardNames=[name]))


def _document(body: Any) -> Any:
    try:
        return json.loads(body) if isinstance(body, str) else body
    except ValueError:
        return body
