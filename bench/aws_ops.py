"""Which AWS operation an HTTP request is, and which resource it touches, read from the request itself.

The service comes from the SigV4 credential scope (`Credential=<key>/<date>/<region>/<service>/aws4_request`).
The operation comes from the protocol, as botocore's service models define it:
- JSON protocols (DynamoDB, SQS, CloudWatch Logs): the `X-Amz-Target: <prefix>.<Operation>` header;
- query protocols (IAM, STS): `Action=<Operation>` in the form body (or the query string);
- REST protocols (Lambda, API Gateway: REST-JSON; S3: REST-XML): the method and path, matched against each
  operation's `requestUri` template in the botocore model (`{Var}` is one segment, `{Var+}` the rest; a
  `?key` or `?key=value` suffix must be present in the query string).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from functools import cache
from typing import Any

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


@dataclass
class Call:
    """One AWS API request as the proxy saw it."""

    service: str
    operation: str
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # required query keys (and values, where the model fixes one)
    operation: str
    literal: int  # how specific the template is (literal characters), to prefer the best match


@cache
def _routes(service: str) -> tuple[_Route, ...]:
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template, _, query = http["requestUri"].partition("?")
        regex = ""
        for piece in re.split(r"(\{[^}]+\})", template):
            if piece.startswith("{"):
                var = piece.strip("{}")
                greedy = var.endswith("+")
                var = var.rstrip("+")
                regex += f"(?P<{var}>.+)" if greedy else f"(?P<{var}>[^/]+)"
            else:
                regex += re.escape(piece)
        required = tuple(
            (key, value if sep else None)
            for key, sep, value in (item.partition("=") for item in query.split("&") if item)
        )
        literal = len(re.sub(r"\{[^}]+\}", "", template)) + 10 * len(required)
        routes.append(_Route(http["method"], re.compile(f"^{regex}/?$"), required, name, literal))
    return tuple(sorted(routes, key=lambda r: -r.literal))


def _rest_operation(service: str, method: str, path: str, query: dict[str, list[str]]) -> tuple[str, dict]:
    for route in _routes(service):
        if route.method != method:
            continue
        match = route.pattern.match(path)
        if not match:
            continue
        if any(
            key not in query or (value is not None and value not in query[key]) for key, value in route.query
        ):
            continue
        params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
        return route.operation, params
    return f"{method} {path}", {}


def identify(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Call:
    """The operation and its parameters (path variables, query string, JSON or form body)."""
    lower = {k.lower(): v for k, v in headers.items()}
    scope = CREDENTIAL_SCOPE.search(lower.get("authorization", ""))
    service = scope.group(1) if scope else "unknown"
    parsed = urllib.parse.urlsplit(raw_path)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    params: dict[str, Any] = {k: v[0] for k, v in query.items()}
    target = lower.get("x-amz-target")
    content_type = lower.get("content-type", "")
    if target:  # JSON protocols
        operation = target.rpartition(".")[2]
        params.update(_json(body))
    elif "x-www-form-urlencoded" in content_type or "Action" in params:  # query protocols
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
        params.update(form)
        operation = str(params.get("Action", f"{method} {parsed.path}"))
    elif not scope:  # unsigned (no SigV4 scope, so no service model to match): forwarded as it is
        operation = f"{method} {parsed.path}"
    else:  # REST protocols
        operation, path_params = _rest_operation(service, method, parsed.path, query)
        params.update(path_params)
        if "json" in content_type or body.startswith(b"{"):
            params.update(_json(body))
    return Call(service, operation, method, parsed.path, params)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def short_name(value: str) -> str:
    """A Lambda function or IAM role given by name or ARN, as its name."""
    if value.startswith("arn:"):
        return (
            value.split(":function:")[-1].split(":")[0] if ":function:" in value else value.rsplit("/", 1)[-1]
        )
    return value


def resource_of(call: Call, answer: dict[str, Any]) -> str:
    """A label for the resource a call touched: `<kind>:<name>` (for the trace)."""
    p = call.params
    if call.service == "sqs":
        name = p.get("QueueName") or str(p.get("QueueUrl", "")).rsplit("/", 1)[-1]
        return f"sqs:{name}"
    if call.service == "dynamodb":
        return f"dynamodb:{p.get('TableName', '')}"
    if call.service == "logs":
        return f"logs:{p.get('logGroupName') or p.get('logGroupNamePrefix', '')}"
    if call.service == "iam":
        return f"iam:{p.get('RoleName', '')}"
    if call.service == "s3":
        return f"s3:{p.get('Bucket', '')}"
    if call.service == "apigateway":
        api = p.get("restapi_id") or answer.get("id", "")
        if "resource_arn" in p:  # TagResource: arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>
            api = str(p["resource_arn"]).split("/restapis/")[-1].split("/")[0]
        return f"apigateway:{api}"
    if call.service == "lambda":
        if "EventSourceMapping" in call.operation:
            uuid = p.get("UUID") or answer.get("UUID")
            return f"lambda-mapping:{uuid or short_name(str(p.get('FunctionName', '')))}"
        return f"lambda:{short_name(str(p.get('FunctionName', '')))}"
    return call.service
