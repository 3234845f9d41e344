"""kind -> the unit class that deletes a record of that kind: `down` deletes a record the code no
longer builds a unit for (a state written by another asyncapi version) from its recorded kind, name and
ids alone."""

from __future__ import annotations

from typing import Any

from . import Resource
from .api_key import ApiKey
from .apigw_account import ApiGatewayAccountLogging
from .bucket import Bucket
from .dashboard import Dashboard
from .function import Function
from .gateway_responses import GatewayResponses
from .log_group import LogGroup
from .mapping import EventSourceMapping
from .metric_alarm import MetricAlarm
from .permission import InvokePermission
from .queue import Queue
from .rest_api import RestApi
from .role import Role
from .routes import ApiRoutes
from .schedule_group import ScheduleGroup
from .secret import Secret
from .sns_subscription import SnsSubscription
from .sns_topic import SnsTopic
from .stage import Stage
from .table import Table
from .usage_plan import UsagePlan
from .websocket_api import WebSocketApi, WebSocketRoutes, WebSocketStage

KINDS: dict[str, type[Resource]] = {
    cls.kind: cls
    for cls in (
        ApiKey,
        ApiGatewayAccountLogging,
        Bucket,
        Dashboard,
        Function,
        GatewayResponses,
        LogGroup,
        EventSourceMapping,
        MetricAlarm,
        InvokePermission,
        Queue,
        RestApi,
        Role,
        ApiRoutes,
        ScheduleGroup,
        Secret,
        SnsSubscription,
        SnsTopic,
        Stage,
        Table,
        UsagePlan,
        WebSocketApi,
        WebSocketRoutes,
        WebSocketStage,
    )
}


def unit_for(key: str, meta: dict[str, Any]) -> Resource | None:
    """A unit that can delete the record `key`, from what the state recorded beside it (its kind and
    name), or None when the kind is not one this asyncapi knows."""
    cls = KINDS.get(str(meta.get("kind")))
    if cls is None:
        return None
    return cls(key=key, name=str(meta.get("name") or key))
