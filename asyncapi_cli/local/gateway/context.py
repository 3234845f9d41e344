"""The invocation context every handler reads and fills, and the `$context` variables it carries.

`$context` as AWS documents it ("$context variables for data models, authorizers, mapping templates,
and CloudWatch access logging") and records it (LocalStack snapshot test_lambda_aws_proxy_integration,
requestContext): requestId (a client may override it with an X-Amzn-RequestId header: "Clients can
override this request ID"), extendedRequestId (never overridable; also the x-amz-apigw-id header),
deploymentId, domainName, domainPrefix, protocol, the full identity with nulls, requestTime(Epoch).
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .moto_seam import Deployment, StageConfig

IDENTITY_KEYS = (
    "cognitoIdentityPoolId",
    "accountId",
    "cognitoIdentityId",
    "caller",
    "sourceIp",
    "principalOrgId",
    "accessKey",
    "cognitoAuthenticationType",
    "cognitoAuthenticationProvider",
    "userArn",
    "userAgent",
    "user",
)


@dataclass
class Request:
    verb: str
    path: str  # after the stage, as sent (not decoded, double slashes kept)
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]  # as sent: case and repeats kept
    body: bytes
    source_ip: str
    host: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        found = [v for k, v in self.headers if k.lower() == wanted]
        return found[-1] if found else None

    def single_headers(self) -> dict[str, str]:
        """One value per header (the last of repeats, as in the proxy event), the casing of its first."""
        out: dict[str, str] = {}
        names: dict[str, str] = {}
        for key, value in self.headers:
            out[names.setdefault(key.lower(), key)] = value
        return out

    def multi_headers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for key, value in self.headers:
            out.setdefault(names.setdefault(key.lower(), key), []).append(value)
        return out

    def single_query(self) -> dict[str, str]:
        return {k: v for k, v in self.query}  # the last value of a repeated key (AWS)

    def multi_query(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in self.query:
            out.setdefault(key, []).append(value)
        return out


@dataclass
class Invocation:
    api_id: str
    stage: StageConfig
    deployment: Deployment
    request: Request
    context: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] | None = None
    method: dict[str, Any] | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    integration_status: int | None = None
    integration_latency_ms: int | None = None
    trace_id: str = ""

    @property
    def integration(self) -> dict[str, Any]:
        return (self.method or {}).get("methodIntegration") or {}

    def template_params(self) -> dict[str, dict[str, str]]:
        return {
            "path": dict(self.path_parameters),
            "querystring": self.request.single_query(),
            "header": self.request.single_headers(),
        }


def extended_request_id() -> str:
    """The shape AWS uses (e.g. "LuDK8Fq1vHcFxzA="): 11 random bytes in base64."""
    return base64.b64encode(os.urandom(11)).decode("ascii")


def trace_id(incoming: str | None, now: float) -> str:
    """X-Ray's header: the caller's Root (and Parent) kept, else new ones (LocalStack parse.py,
    validated by snapshot test_invocation_trace_id)."""
    fields = dict(part.strip().split("=", 1) for part in (incoming or "").split(";") if "=" in part)
    fields = {k.capitalize(): v for k, v in fields.items()}
    root = fields.get("Root") or f"1-{int(now):08x}-{os.urandom(12).hex()}"
    parent = fields.get("Parent") or os.urandom(8).hex()
    sampled = fields.get("Sampled", "1" if "Parent" in fields else "0")
    return f"Root={root};Parent={parent};Sampled={sampled}"


def build_context(invocation: Invocation, now: float) -> dict[str, Any]:
    request = invocation.request
    override = request.header("X-Amzn-RequestId")
    host = request.host
    user_agent = request.header("User-Agent")
    identity = {key: None for key in IDENTITY_KEYS}
    identity.update({"sourceIp": request.source_ip, "userAgent": user_agent})
    return {
        "accountId": invocation.deployment.account,
        "apiId": invocation.api_id,
        "deploymentId": invocation.deployment.deployment_id,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "extendedRequestId": extended_request_id(),
        "httpMethod": request.verb,
        "identity": identity,
        "path": f"/{invocation.stage.name}{request.path}",
        "protocol": "HTTP/1.1",
        "requestId": override if override else str(uuid.uuid4()),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "stage": invocation.stage.name,
    }


def add_route(context: dict[str, Any], resource: dict[str, Any]) -> None:
    context["resourceId"] = resource["id"]
    context["resourcePath"] = resource["path"]
