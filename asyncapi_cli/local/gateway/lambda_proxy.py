"""The AWS_PROXY (Lambda proxy) integration: the event, the permission to invoke, the result.

AWS docs "Set up Lambda proxy integrations in API Gateway" (input format, output format) and LocalStack
snapshots recorded on AWS: test_lambda_aws_proxy_integration (event: header case as sent, X-Forwarded-*,
requestContext), test_aws_proxy_response_payload_format_validation (results: only the documented keys,
else 502; statusCode optional (200) but an integer if present; header values string or boolean
(rendered true/false); multiValueHeaders merged with headers; isBase64Encoded decoded only when the
API's binary media types match the Accept header; Content-Type application/json by default).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from . import iam, moto_seam
from .context import Invocation
from .errors import InternalServerError

log = logging.getLogger("asyncapi.local.gateway")
RESULT_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
HOP_BY_HOP = {"content-length", "connection"}  # not passed to the function (snapshot above)


def function_arn_of(uri: str) -> str:
    match = re.search(r"functions/(arn:[^/]+)/invocations", uri)
    if not match:
        raise InternalServerError()
    return match.group(1)


def source_arn(invocation: Invocation) -> str:
    """arn:aws:execute-api:region:account:api/stage/VERB/resource-path (LocalStack helpers.get_source_arn)."""
    deployment = invocation.deployment
    resource_path = (invocation.resource or {}).get("path", "/")
    return (
        f"arn:aws:execute-api:{deployment.region}:{deployment.account}:{invocation.api_id}"
        f"/{invocation.stage.name}/{invocation.request.verb}{resource_path}"
    )


def check_permission(invocation: Invocation, function_arn: str) -> None:
    """The function's resource policy must let apigateway.amazonaws.com invoke it from this API
    (SourceArn), or the integration's credentials role must allow lambda:InvokeFunction; else AWS
    answers 500 Internal server error ("Execution failed due to configuration error: Invalid
    permissions on Lambda function")."""
    credentials = invocation.integration.get("credentials")
    if credentials:
        role = moto_seam.role_policies(credentials)
        if role is None or not iam.service_may_assume(role.trust, "apigateway.amazonaws.com"):
            raise InternalServerError()
        if iam.evaluate(role.identity, "lambda:InvokeFunction", function_arn) != iam.ALLOW:
            raise InternalServerError()
        return
    policy = moto_seam.lambda_resource_policy(function_arn)
    if policy is None:
        raise InternalServerError()
    keys = {"AWS:SourceArn": source_arn(invocation), "AWS:SourceAccount": invocation.deployment.account}
    if not iam.resource_policy_allows(
        policy, "apigateway.amazonaws.com", "lambda:InvokeFunction", function_arn, keys
    ):
        raise InternalServerError()


def build_event(invocation: Invocation) -> dict[str, Any]:
    request = invocation.request
    headers = [(k, v) for k, v in request.headers if k.lower() not in HOP_BY_HOP]
    forwarded = {
        "X-Amzn-Trace-Id": invocation.trace_id,
        "X-Forwarded-For": request.source_ip,
        "X-Forwarded-Port": request.host.rpartition(":")[2] if ":" in request.host else "80",
        "X-Forwarded-Proto": "http",
    }
    present = {k.lower() for k, _ in headers}
    headers += [(k, v) for k, v in forwarded.items() if k.lower() not in present]
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for key, value in headers:
        name = names.setdefault(key.lower(), key)
        single[name] = value
        multi.setdefault(name, []).append(value)
    body: str | None
    try:
        body, encoded = request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(request.body).decode("ascii"), True
    context = {
        k: v
        for k, v in invocation.context.items()
        if k not in ("requestOverride", "responseOverride", "error")
    }
    return {
        "resource": (invocation.resource or {}).get("path"),
        # Leading slashes collapse to one (snapshot test_lambda_aws_proxy_integration,
        # "invocation-payload-with-prepended-slash": /stage//proxy-value -> "/proxy-value"); inner ones
        # stay, and requestContext.path keeps the request's own.
        "path": "/" + request.path.lstrip("/"),
        "httpMethod": request.verb,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": request.single_query() or None,
        "multiValueQueryStringParameters": request.multi_query() or None,
        "pathParameters": invocation.path_parameters or None,
        "stageVariables": invocation.stage.variables or None,
        "requestContext": context,
        "body": body or None,
        "isBase64Encoded": encoded,
    }


def _valid(result: Any) -> bool:
    if not isinstance(result, dict) or set(result) - RESULT_KEYS:
        return False
    headers = result.get("headers")
    if headers is not None and (
        not isinstance(headers, dict) or any(not isinstance(v, (str, bool)) for v in headers.values())
    ):
        return False
    multi = result.get("multiValueHeaders")
    if multi is not None and (
        not isinstance(multi, dict) or any(not isinstance(v, list) for v in multi.values())
    ):
        return False
    if "statusCode" in result:
        try:
            int(result["statusCode"])
        except (TypeError, ValueError):
            return False
    return True


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _binary_accepted(invocation: Invocation) -> bool:
    accept = (invocation.request.header("Accept") or "").split(",")[0].split(";")[0].strip().lower()
    for media in invocation.deployment.binary_media_types:
        media = media.lower()
        if media == "*/*" or media == accept or (media.endswith("/*") and accept.startswith(media[:-1])):
            return True
    return False


def parse_result(invocation: Invocation, result: Any) -> tuple[int, bytes, dict[str, str]]:
    if not _valid(result):
        log.warning("malformed Lambda proxy response: %.200r", result)
        raise InternalServerError(status=502)
    headers = {k: _header_text(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        # multiValueHeaders decide the casing; a same-named single header comes after them.
        single = next((headers.pop(k) for k in list(headers) if k.lower() == name.lower()), None)
        joined = [_header_text(v) for v in values] + ([single] if single is not None else [])
        headers[name] = ", ".join(joined)
    merged = {"Content-Type": "application/json"}
    for name, value in headers.items():
        for existing in [k for k in merged if k.lower() == name.lower()]:
            merged.pop(existing)
        merged[name] = value
    body = result.get("body")
    if body is None or body == "":
        raw = b""
    elif result.get("isBase64Encoded") and _binary_accepted(invocation):
        try:
            raw = base64.b64decode(str(body))
        except ValueError as exc:
            raise InternalServerError() from exc
    else:
        raw = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
    return int(result.get("statusCode") or 200), raw, merged


def invoke(
    invocation: Invocation, call: Callable[[str, str, str, Any], Any]
) -> tuple[int, bytes, dict[str, str]]:
    if (invocation.integration.get("httpMethod") or "POST") != "POST":
        raise InternalServerError()  # AWS_PROXY integrations must call Lambda with POST
    function_arn = function_arn_of(invocation.integration.get("uri", ""))
    check_permission(invocation, function_arn)
    parts = function_arn.split(":")
    outcome = call(parts[4], parts[3], parts[6], build_event(invocation))
    invocation.integration_status = 200
    if not outcome.ok:
        log.warning("proxy integration %s failed: %s %s", parts[6], outcome.error_type, outcome.error_message)
        # A function error (timeouts included: a function's own timeout ends it before API
        # Gateway's 29 s) is a 502 "Internal server error" (AWS docs, Lambda proxy output format).
        raise InternalServerError(status=502)
    return parse_result(invocation, outcome.payload)
