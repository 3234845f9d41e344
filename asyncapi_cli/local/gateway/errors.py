"""Gateway errors, typed as API Gateway's gateway responses, rendered in one place.

Types, default status codes and fallbacks to DEFAULT_4XX/DEFAULT_5XX: AWS docs "Gateway response types
for API Gateway". `x-amzn-ErrorType` values: LocalStack's gateway_response.py, validated against AWS
(snapshot test_routing_not_found: MissingAuthenticationTokenException).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


class GatewayError(Exception):
    response_type = "DEFAULT_4XX"
    status = 400
    error_type = "BadRequestException"
    message = "Bad Request"

    def __init__(self, message: str | None = None, status: int | None = None) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        if status is not None:
            self.status = status


class BadRequestBody(GatewayError):
    response_type = "BAD_REQUEST_BODY"
    message = "Invalid request body"


class BadRequest(GatewayError):
    response_type = "DEFAULT_4XX"


class MissingAuthenticationToken(GatewayError):
    response_type = "MISSING_AUTHENTICATION_TOKEN"
    status = 403
    error_type = "MissingAuthenticationTokenException"
    message = "Missing Authentication Token"


class InvalidApiKey(GatewayError):
    response_type = "INVALID_API_KEY"
    status = 403
    error_type = "ForbiddenException"
    message = "Forbidden"


class Throttled(GatewayError):
    response_type = "THROTTLED"
    status = 429
    error_type = "TooManyRequestsException"
    message = "Too Many Requests"


class QuotaExceeded(GatewayError):
    response_type = "QUOTA_EXCEEDED"
    status = 429
    error_type = "LimitExceededException"
    message = "Limit Exceeded"


class RequestTooLarge(GatewayError):
    response_type = "REQUEST_TOO_LARGE"
    status = 413
    error_type = "RequestTooLargeException"
    message = "Request Too Long"


class UnsupportedMediaType(GatewayError):
    response_type = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    error_type = "BadRequestException"
    message = "Unsupported Media Type"


class InternalServerError(GatewayError):
    response_type = "DEFAULT_5XX"
    status = 500
    error_type = "InternalServerErrorException"
    message = "Internal server error"


class ApiConfigurationError(InternalServerError):
    response_type = "API_CONFIGURATION_ERROR"


class IntegrationFailure(InternalServerError):
    response_type = "INTEGRATION_FAILURE"


class IntegrationTimeout(InternalServerError):
    response_type = "INTEGRATION_TIMEOUT"
    status = 504
    message = "Endpoint request timed out"


def _static(value: str, context: dict[str, Any]) -> str | None:
    """A gateway response parameter: a quoted static value, or a $context / stage variable name."""
    if value.startswith("'") and value.endswith("'"):
        return value[1:-1]
    if value.startswith("context."):
        current: Any = context
        for part in value.split(".")[1:]:
            current = current.get(part) if isinstance(current, dict) else None
        return None if current is None else str(current)
    return None


def _substitute(template: str, context: dict[str, Any]) -> str:
    """Gateway response templates are not run through Velocity: only $context.* names are replaced
    ("Setting up gateway responses to customize error responses")."""

    def lookup(match: re.Match[str]) -> str:
        current: Any = context
        for part in match.group(1).split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if match.group(1) == "error.messageString":
            return json.dumps(context.get("error", {}).get("message", ""))
        return "" if current is None else str(current)

    return re.sub(r"\$context\.([A-Za-z0-9_.]+)", lookup, template)


def render_error(
    error: GatewayError, gateway_responses: dict[str, dict[str, Any]], context: dict[str, Any]
) -> Reply:
    """The reply API Gateway sends for a gateway error, after the API's own gateway responses."""
    context.setdefault("error", {}).update(
        {
            "message": error.message,
            "messageString": json.dumps(error.message),
            "responseType": error.response_type,
        }
    )
    configured = gateway_responses.get(error.response_type)
    if configured is None and error.response_type != "REQUEST_TOO_LARGE":
        # Unset types fall back to DEFAULT_4XX/DEFAULT_5XX (413 is not customizable: AWS docs, ibid.).
        configured = gateway_responses.get("DEFAULT_5XX" if error.status >= 500 else "DEFAULT_4XX")
    status = error.status
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error.error_type}
    body = json.dumps({"message": error.message}).encode()
    if configured:
        if configured.get("statusCode") and configured.get("responseType") == error.response_type:
            status = int(configured["statusCode"])
        for name, value in (configured.get("responseParameters") or {}).items():
            if name.startswith("gatewayresponse.header."):
                rendered = _static(value, context)
                if rendered is not None:
                    headers[name[len("gatewayresponse.header.") :]] = rendered
        template = (configured.get("responseTemplates") or {}).get("application/json")
        if template:
            body = _substitute(template, context).encode()
    return Reply(status, body, headers)
