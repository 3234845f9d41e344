"""CORS for the stack's API, as route and gateway-response data secure_api.py applies.

One allowed origin (or "*"): static header values. Several: API Gateway's static values cannot echo, so
templates set Access-Control-Allow-Origin to the request's Origin only when listed (plus Vary: Origin);
gateway responses (not templates) map method.request.header.Origin.
"""

from __future__ import annotations

import copy
import json
from typing import Any

PREFLIGHT_MAX_AGE = "600"  # seconds a browser may cache a preflight answer
ALLOWED_HEADERS = "Content-Type,x-api-key"


def _quoted(value: str) -> str:
    return f"'{value}'"


def _static_origin(origins: tuple[str, ...]) -> str | None:
    """The one static Access-Control-Allow-Origin value, when one value fits every caller."""
    if "*" in origins:
        return "*"
    return origins[0] if len(origins) == 1 else None


def echo_origin_vtl(origins: tuple[str, ...]) -> str:
    """Several origins: a static header cannot echo, so the response template sets the header to the
    request's Origin only when it is one of them (and `Vary: Origin` is static)."""
    listed = ", ".join(json.dumps(o) for o in origins)  # origins are validated URLs (config.py)
    return (
        f"#set($allowedOrigins = [{listed}])\n"
        "#set($origin = \"$!input.params('Origin')\")\n"
        "#if($allowedOrigins.contains($origin))"
        '#set($ignored = $context.responseOverride.header.put("Access-Control-Allow-Origin", $origin))'
        "#end\n"
    )


def cors_response(origins: tuple[str, ...], response: dict[str, Any]) -> dict[str, Any]:
    response = copy.deepcopy(response)
    static = _static_origin(origins)
    params = dict(response.get("responseParameters") or {})
    if static is not None:
        params["method.response.header.Access-Control-Allow-Origin"] = _quoted(static)
    else:
        params["method.response.header.Vary"] = "'Origin'"
        response["responseTemplates"] = {
            ctype: echo_origin_vtl(origins) + template
            for ctype, template in (response.get("responseTemplates") or {"application/json": ""}).items()
        }
    response["responseParameters"] = params
    return response


def cors_method_headers(origins: tuple[str, ...], extra: tuple[str, ...] = ()) -> dict[str, bool]:
    names = ("Access-Control-Allow-Origin",) if _static_origin(origins) is not None else ("Vary",)
    return {f"method.response.header.{n}": False for n in names + extra}


def preflight(origins: tuple[str, ...], verbs: list[str]) -> dict[str, Any]:
    headers = ("Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age")
    response = cors_response(
        origins,
        {
            "selectionPattern": None,
            "responseTemplates": {"application/json": ""},
            "responseParameters": {
                "method.response.header.Access-Control-Allow-Methods": _quoted(
                    ",".join(sorted(verbs) + ["OPTIONS"])
                ),
                "method.response.header.Access-Control-Allow-Headers": _quoted(ALLOWED_HEADERS),
                "method.response.header.Access-Control-Max-Age": _quoted(PREFLIGHT_MAX_AGE),
            },
        },
    )
    return {
        "authorizationType": "NONE",
        "apiKeyRequired": False,  # a preflight carries no x-api-key (Fetch standard, CORS preflight)
        "requestValidator": None,
        "requestModels": {},
        "requestParameters": {},
        "integration": {
            "type": "MOCK",
            "httpMethod": None,
            "uri": None,
            "credentials": None,
            "requestParameters": {},
            "requestTemplates": {"application/json": '{"statusCode": 200}'},
            "passthroughBehavior": "WHEN_NO_MATCH",
        },
        "methodResponses": {"200": cors_method_headers(origins, headers)},
        "integrationResponses": {"200": response},
    }


def gateway_responses(origins: tuple[str, ...]) -> dict[str, Any]:
    """DEFAULT_4XX/5XX with CORS headers. Gateway responses are not Velocity templates: with several
    origins they map the request's Origin (`method.request.header.Origin`, documented for gateway
    response parameters); their bodies are API Gateway's own messages, never job data."""
    static = _static_origin(origins)
    origin = _quoted(static) if static is not None else "method.request.header.Origin"
    params = {"gatewayresponse.header.Access-Control-Allow-Origin": origin}
    if static is None:
        params["gatewayresponse.header.Vary"] = "'Origin'"
    return {kind: {"responseParameters": params} for kind in ("DEFAULT_4XX", "DEFAULT_5XX")}
