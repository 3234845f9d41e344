"""API Gateway methods as read back, in the definition's shape, and the comparison of the two.

routes.py defines methods in a normalized shape; `normalize_live_method` turns GetMethod's answer into
the same shape, and `comparable` smooths what different API Gateway implementations read back
differently, so that a method deployed as defined compares equal wherever it runs.
"""

from __future__ import annotations

from typing import Any


def _clean(value: Any) -> Any:
    return value if value else None


def when_set(key: str, value: Any) -> dict[str, Any]:
    return {key: value} if value else {}


def _templates(templates: dict[str, Any] | None) -> dict[str, str]:
    """Request templates with a null one as "" (how the definition spells an empty template)."""
    return {ctype: template or "" for ctype, template in (templates or {}).items()}


def _response_templates(templates: dict[str, Any] | None) -> dict[str, str]:
    """Integration response templates without the empty ones. An empty template reads back as null on
    AWS (LocalStack's parity snapshot, recorded against AWS: tests/aws/services/apigateway/
    test_apigateway_api.snapshot.json, test_put_integration_response_templates,
    "put-integration-response-template-empty"), and as null on moto, while the definition spells it "";
    other implementations answer "" or leave the content type out. An integration response's empty
    template and none at all both answer an empty body to a MOCK integration (the preflight's case)."""
    return {ctype: template for ctype, template in (templates or {}).items() if template}


def comparable(method: dict[str, Any]) -> dict[str, Any]:
    """A method (defined, or normalized from what API Gateway read back) with its templates normalized:
    both sides of every comparison go through it, so an empty template matches however it reads back."""
    method = dict(method)
    if isinstance(method.get("integration"), dict):
        integration = dict(method["integration"])
        if "requestTemplates" in integration:
            integration["requestTemplates"] = _templates(integration["requestTemplates"])
        method["integration"] = integration
    if isinstance(method.get("integrationResponses"), dict):
        method["integrationResponses"] = {
            code: {**response, "responseTemplates": _response_templates(response.get("responseTemplates"))}
            if "responseTemplates" in response
            else response
            for code, response in method["integrationResponses"].items()
        }
    return method


def agrees(live: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    """A live method matches when every part the definition spells agrees (apiKeyRequired is optional)."""
    if live is None:
        return False
    live, desired = comparable(live), comparable(desired)
    return all(live.get(part) == value for part, value in desired.items())


def normalize_live_method(method: dict[str, Any], validator_names: dict[str, str]) -> dict[str, Any]:
    integration = method.get("methodIntegration") or {}
    return {
        "authorizationType": method.get("authorizationType"),
        "apiKeyRequired": bool(method.get("apiKeyRequired")),
        "requestValidator": validator_names.get(method.get("requestValidatorId") or ""),
        "requestModels": method.get("requestModels") or {},
        "requestParameters": method.get("requestParameters") or {},
        "integration": {
            "type": integration.get("type"),
            "httpMethod": integration.get("httpMethod"),
            "uri": integration.get("uri"),
            "credentials": _clean(integration.get("credentials")),
            "requestParameters": integration.get("requestParameters") or {},
            "requestTemplates": integration.get("requestTemplates") or {},
            "passthroughBehavior": integration.get("passthroughBehavior") or "WHEN_NO_MATCH",
        },
        "methodResponses": {
            code: response.get("responseParameters") or {}
            for code, response in (method.get("methodResponses") or {}).items()
        },
        "integrationResponses": {
            code: {
                "selectionPattern": _clean(response.get("selectionPattern")),
                "responseTemplates": response.get("responseTemplates") or {},
            }
            # Only when set, so that definitions without response parameters need not spell them.
            | when_set("responseParameters", response.get("responseParameters"))
            for code, response in (integration.get("integrationResponses") or {}).items()
        },
    }
