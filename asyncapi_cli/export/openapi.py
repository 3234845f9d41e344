"""OpenAPI 3 from the routes unit `up` deploys: its paths and methods, request models, the method
responses with their headers, and the API-key scheme when methods require one.

Only what the routes unit declares is described (no hand-written route list): a proxy integration
(the status and schedules functions) declares no method responses, so its operation says only that
the function answers.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..names import StackSettings
from ..resources.routes import ApiRoutes
from .configuration import export_units

OPENAPI_VERSION = "3.0.3"
API_KEY_SCHEME = "api_key"
# API Gateway's own answers to a request its validator or API key check refuses (AWS docs,
# "Gateway response types for API Gateway"): every operation may answer them.
GATEWAY_ANSWERS = {
    "400": "The request does not match the model (BAD_REQUEST_BODY) or a parameter is invalid",
    "403": "Missing or invalid API key, or no such route",
    "429": "Throttled by the stage or the usage plan",
}


def routes_definition(settings: StackSettings) -> dict[str, Any]:
    """The routes unit's attributes for these settings (models, validators, methods)."""
    _, units = export_units(settings)
    (routes,) = [unit for unit in units if isinstance(unit, ApiRoutes)]
    return routes.attributes


def _schema(model_schema: dict[str, Any]) -> dict[str, Any]:
    """A draft-04 model as an OpenAPI 3.0 schema object (which has no $schema keyword)."""
    schema = copy.deepcopy(model_schema)
    schema.pop("$schema", None)
    return schema


def _parameters(path: str, request_parameters: dict[str, bool]) -> list[dict[str, Any]]:
    """The method's request parameters; a path's {parameters} even where the method declares none (a
    CORS preflight), as OpenAPI requires every templated path parameter."""
    where = {"path": "path", "querystring": "query", "header": "header"}
    declared = dict(request_parameters)
    for name in re.findall(r"\{([^}]+)\}", path):
        declared.setdefault(f"method.request.path.{name}", True)
    parameters = []
    for key, required in sorted(declared.items()):
        _, _, kind, name = key.split(".", 3)  # method.request.<kind>.<name>
        location = where[kind]
        parameters.append(
            {
                "name": name,
                "in": location,
                "required": True if location == "path" else bool(required),
                "schema": {"type": "string"},
            }
        )
    return parameters


def _responses(method: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for code, parameters in sorted(method["methodResponses"].items()):
        headers = {
            key.removeprefix("method.response.header."): {
                "required": bool(required),
                "schema": {"type": "string"},
            }
            for key, required in sorted(parameters.items())
        }
        response: dict[str, Any] = {"description": f"{code} answer"}
        templates = (method["integrationResponses"].get(code) or {}).get("responseTemplates") or {}
        if templates:
            response["content"] = {content_type: {} for content_type in sorted(templates)}
        if headers:
            response["headers"] = headers
        responses[code] = response
    if method["integration"]["type"] == "AWS_PROXY":
        responses["default"] = {"description": "The function's answer (Lambda proxy integration)"}
    for code, text in GATEWAY_ANSWERS.items():
        responses.setdefault(code, {"description": text})
    return responses


def _operation(verb: str, path: str, method: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": verb.lower()
        + "".join(part.strip("{}").capitalize() for part in path.strip("/").split("/")),
        "responses": _responses(method),
    }
    parameters = _parameters(path, method["requestParameters"])
    if parameters:
        operation["parameters"] = parameters
    if method["requestModels"]:
        operation["requestBody"] = {
            "required": method["requestValidator"] is not None,
            "content": {
                content_type: {"schema": {"$ref": f"#/components/schemas/{model}"}}
                for content_type, model in sorted(method["requestModels"].items())
            },
        }
    if method.get("apiKeyRequired"):
        operation["security"] = [{API_KEY_SCHEME: []}]
    return operation


def _servers(settings: StackSettings, api_url: str | None) -> list[dict[str, Any]]:
    if api_url:  # the deployed stage (a state file records it)
        return [{"url": api_url}]
    return [
        {
            "url": "https://{apiId}.execute-api.{region}.amazonaws.com/{stage}",
            "variables": {
                "apiId": {"default": "API_ID", "description": "the REST API's id (the stack's ApiId output)"},
                "region": {"default": "us-east-1"},
                "stage": {"default": settings.stage},
            },
        }
    ]


def openapi_document(settings: StackSettings, name: str, api_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3 document of the stack's REST API as `up` deploys it for these settings."""
    definition = routes_definition(settings)
    paths: dict[str, dict[str, Any]] = {}
    for key, method in definition["methods"].items():
        verb, _, path = key.partition(" ")
        paths.setdefault(path, {})[verb.lower()] = _operation(verb, path, method)
    components: dict[str, Any] = {
        "schemas": {model: _schema(spec["schema"]) for model, spec in sorted(definition["models"].items())}
    }
    if any(method.get("apiKeyRequired") for method in definition["methods"].values()):
        components["securitySchemes"] = {
            API_KEY_SCHEME: {"type": "apiKey", "name": "x-api-key", "in": "header"}
        }
    title = f"{name}-api"
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": "1.0.0",
            "description": f"asyncapi stack {name}: POST /submit queues a job; GET /status/{{jobId}}",
        },
        "servers": _servers(settings, api_url),
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": components,
    }
