"""Integration request and integration response mapping (non-proxy integrations).

AWS docs: "Mapping template transformations for REST APIs", "Method request behavior for payloads
without mapping templates" (passthroughBehavior), "Parameter mapping" (sources: method.request.*,
context.*, stageVariables.*, static 'values'), "Integration response" (selectionPattern against the
status code; the default response has none); template chosen by the request's Accept, else
application/json, else the first (LocalStack integration_response.py, validated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .context import Invocation
from .errors import ApiConfigurationError, BadRequestBody, InternalServerError, UnsupportedMediaType
from .vtl import render
from .vtl_variables import GatewayTemplateError, InputVariable


@dataclass
class IntegrationRequest:
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)


@dataclass
class EndpointResponse:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def content_type_of(invocation: Invocation) -> str:
    raw = invocation.request.header("Content-Type") or "application/json"
    return raw.split(";")[0].strip().lower()


def _source_value(source: str, invocation: Invocation) -> str | None:
    """A parameter-mapping source expression's value (None when it has none)."""
    if source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    request = invocation.request
    for prefix, lookup in (
        ("method.request.header.", lambda name: request.header(name)),
        ("method.request.querystring.", lambda name: request.single_query().get(name)),
        ("method.request.path.", lambda name: invocation.path_parameters.get(name)),
        ("stageVariables.", lambda name: invocation.stage.variables.get(name)),
    ):
        if source.startswith(prefix):
            return lookup(source[len(prefix) :])
    if source.startswith("context."):
        current: Any = invocation.context
        for part in source.split(".")[1:]:
            current = current.get(part) if isinstance(current, dict) else None
        return None if current is None else str(current)
    return None


def render_request(invocation: Invocation) -> IntegrationRequest:
    integration = invocation.integration
    text = invocation.request.body.decode("utf-8", errors="replace")
    templates = integration.get("requestTemplates") or {}
    content_type = content_type_of(invocation)
    template = templates.get(content_type)
    overrides: dict[str, dict[str, str]] = {"header": {}, "querystring": {}, "path": {}}
    invocation.context["requestOverride"] = overrides
    invocation.context["responseOverride"] = {"header": {}, "status": 0}
    if template is None:
        passthrough = integration.get("passthroughBehavior") or "WHEN_NO_MATCH"
        if passthrough == "NEVER" or (passthrough == "WHEN_NO_TEMPLATES" and templates):
            raise UnsupportedMediaType()
        body = text
    else:
        try:
            body = render(
                template,
                input_variable=InputVariable(text, invocation.template_params(), strict=True),
                context=invocation.context,
                stage_variables=invocation.stage.variables,
            )
        except GatewayTemplateError as exc:
            if exc.bad_body:
                raise BadRequestBody(str(exc)) from exc
            raise InternalServerError() from exc
    request = IntegrationRequest(body=body)
    for name, source in (integration.get("requestParameters") or {}).items():
        value = _source_value(source, invocation)
        if value is None:
            continue
        for prefix, target in (
            ("integration.request.header.", request.headers),
            ("integration.request.querystring.", request.query),
            ("integration.request.path.", request.path),
        ):
            if name.startswith(prefix):
                target[name[len(prefix) :]] = value
    # $context.requestOverride set by the template wins over the mapped parameters.
    request.headers.update(overrides.get("header") or {})
    request.query.update(overrides.get("querystring") or {})
    request.path.update(overrides.get("path") or {})
    return request


def select_response(integration: dict[str, Any], selector: str) -> dict[str, Any]:
    responses = integration.get("integrationResponses") or {}
    for response in responses.values():
        pattern = response.get("selectionPattern")
        if pattern and re.fullmatch(pattern, selector, re.S):
            return response
    default = next((r for r in responses.values() if not r.get("selectionPattern")), None)
    if default is None:
        # "No match for output mapping and no default output mapping configured" -> 500.
        raise ApiConfigurationError()
    return default


def render_response(
    invocation: Invocation, endpoint: EndpointResponse, selector: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    integration = invocation.integration
    chosen = select_response(integration, selector if selector is not None else str(endpoint.status))
    headers: dict[str, str] = {}
    lowered = {k.lower(): v for k, v in endpoint.headers.items()}
    for name, source in (chosen.get("responseParameters") or {}).items():
        if not name.startswith("method.response.header."):
            continue
        if source.startswith("integration.response.header."):
            value = lowered.get(source[len("integration.response.header.") :].lower())
        else:
            value = _source_value(source, invocation)
        if value is not None:
            headers[name[len("method.response.header.") :]] = value
    templates = chosen.get("responseTemplates") or {}
    accept = (invocation.request.header("Accept") or "").split(",")[-1].split(";")[0].strip()
    template = templates.get(accept) or templates.get("application/json")
    if template is None and templates:
        template = next(iter(templates.values()))
    override = invocation.context.setdefault("responseOverride", {"header": {}, "status": 0})
    if template:
        try:
            body = render(
                template,
                input_variable=InputVariable(endpoint.body, invocation.template_params()),
                context=invocation.context,
                stage_variables=invocation.stage.variables,
            )
        except GatewayTemplateError as exc:
            raise InternalServerError() from exc
    else:
        body = endpoint.body
    headers.setdefault("Content-Type", "application/json")
    headers.update({k: str(v) for k, v in (override.get("header") or {}).items()})
    status = int(override.get("status") or chosen["statusCode"])
    return status, body.encode("utf-8"), headers
