"""The WebSocket API as the control plane holds it (moto's apigatewayv2 backend), and route selection."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_FUNCTION_RE = re.compile(r"functions/(arn:[^/]+)/invocations")


@dataclass
class WsApi:
    api_id: str
    selection_expression: str
    routes: dict[str, tuple[str, str, str] | None]  # route key -> (account, region, function)
    two_way: set[str]  # routes with a route response: the integration's answer goes back
    stages: set[str]


def read_ws_api(api_id: str) -> WsApi | None:
    """The one place that reads moto's apigatewayv2 internals."""
    from moto.apigatewayv2.models import apigatewayv2_backends

    for regions in list(apigatewayv2_backends.values()):
        for backend in list(regions.values()):
            api = backend.apis.get(api_id)
            if api is None or api.protocol_type != "WEBSOCKET":
                continue
            routes: dict[str, tuple[str, str, str] | None] = {}
            for route in list(api.routes.values()):
                integration = api.integrations.get((route.target or "").rpartition("/")[2])
                match = _FUNCTION_RE.search(getattr(integration, "integration_uri", None) or "")
                parts = match.group(1).split(":") if match else None
                routes[route.route_key] = (parts[4], parts[3], parts[6]) if parts else None
            two_way = {r.route_key for r in api.routes.values() if r.route_response_selection_expression}
            return WsApi(api_id, api.route_selection_expression, routes, two_way, set(api.stages))
    return None


def select_route(expression: str, body: bytes, routes: dict[str, Any]) -> str | None:
    """The route for a message: "$request.body.<path>" of a JSON body, else $default (else None)."""
    key = None
    if expression.startswith("$request.body."):
        try:
            value: Any = json.loads(body)
            for part in expression[len("$request.body.") :].split("."):
                value = value.get(part) if isinstance(value, dict) else None
            key = value if isinstance(value, str) else None
        except ValueError:
            key = None
    if key is not None and key in routes and not key.startswith("$"):
        return key
    return "$default" if "$default" in routes else None
