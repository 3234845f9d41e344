"""Serves deployed REST API stages on 127.0.0.1 by executing what the control plane holds.

URL shape (LocalStack's path style): /restapis/{apiId}/{stage}/_user_request_/{path}
It reads resources, methods, validators, models and integrations from the (moto) control plane,
then: validates the body, renders Velocity request templates, calls SQS exactly as API Gateway
would (form-encoded, signed), selects and renders the integration response; or builds the Lambda
proxy event and invokes the function through the local Lambda runtime.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .lambda_runtime import InvokeResult
from .vtl import InputVariable, render

log = logging.getLogger("asyncapi.local.gateway")
URL_RE = re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$")
CACHE_SECONDS = 1.0


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


def json_reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def missing_token() -> Reply:
    """What API Gateway answers for a path that no resource (or no method at all) serves."""
    return json_reply(
        403,
        {"message": "Missing Authentication Token"},
        {"x-amzn-ErrorType": "MissingAuthenticationTokenException"},
    )


class ControlPlane:
    """Reads API definitions through the AWS API of the embedded endpoint (briefly cached)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._cache: dict[str, tuple[float, Any]] = {}
        self._refreshing: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def client(self, region: str) -> Any:
        import boto3

        with self._lock:
            if region not in self._clients:
                self._clients[region] = boto3.client(
                    "apigateway",
                    region_name=region,
                    endpoint_url=self.endpoint,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
            return self._clients[region]

    @staticmethod
    def locate(api_id: str) -> tuple[str, str] | None:
        from moto.apigateway.models import apigateway_backends

        for account, regions in list(apigateway_backends.items()):
            for region, backend in list(regions.items()):
                if api_id in backend.apis:
                    return account, region
        return None

    def api(self, api_id: str, stage: str) -> dict[str, Any] | None:
        key = f"{api_id}/{stage}"
        with self._lock:
            cached = self._cache.get(key)
            if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1]
            refresh = self._refreshing.setdefault(key, threading.Lock())
        # One request re-reads an expired definition; concurrent ones wait for it instead of all
        # reading the control plane at once.
        with refresh:
            with self._lock:
                cached = self._cache.get(key)
                if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
                    return cached[1]
            config = self._read(api_id, stage)
            with self._lock:
                self._cache[key] = (time.monotonic(), config)
            return config

    def _read(self, api_id: str, stage: str) -> dict[str, Any] | None:
        where = self.locate(api_id)
        if where is None:
            return None
        account, region = where
        apigw = self.client(region)
        try:
            apigw.get_stage(restApiId=api_id, stageName=stage)
        except Exception:
            return None
        resources = [
            item
            for page in apigw.get_paginator("get_resources").paginate(restApiId=api_id)
            for item in page.get("items", [])
        ]
        methods = {}
        for resource in resources:
            for verb in resource.get("resourceMethods") or {}:
                methods[(resource["path"], verb)] = apigw.get_method(
                    restApiId=api_id, resourceId=resource["id"], httpMethod=verb
                )
        config = {
            "account": account,
            "region": region,
            "resources": resources,
            "methods": methods,
            "validators": {
                v["id"]: v for v in apigw.get_request_validators(restApiId=api_id).get("items", [])
            },
            "models": {m["name"]: m for m in apigw.get_models(restApiId=api_id).get("items", [])},
        }
        return config


def match_resource(
    resources: list[dict[str, Any]], path: str
) -> tuple[dict[str, Any], dict[str, str]] | None:
    segments = [s for s in path.split("/") if s]
    best = None
    for resource in resources:
        template = [s for s in resource["path"].split("/") if s]
        if len(template) != len(segments):
            continue
        params: dict[str, str] = {}
        literal = 0
        for want, got in zip(template, segments, strict=True):
            if want.startswith("{") and want.endswith("}"):
                params[want[1:-1]] = urllib.parse.unquote(got)
            elif want == got:
                literal += 1
            else:
                break
        else:
            if best is None or literal > best[2]:
                best = (resource, params, literal)
    return (best[0], best[1]) if best else None


class Gateway:
    def __init__(
        self, control: ControlPlane, invoke: Callable[[str, str, str, Any], InvokeResult], sqs_endpoint: str
    ) -> None:
        self.control = control
        self.invoke = invoke
        self.sqs_endpoint = sqs_endpoint.rstrip("/")

    def handle(
        self, verb: str, raw_path: str, headers: dict[str, str], body: bytes, host: str, source_ip: str
    ) -> Reply:
        parsed = urllib.parse.urlsplit(raw_path)
        match = URL_RE.match(parsed.path)
        if not match:
            return json_reply(404, {"message": "Not Found: use /restapis/{apiId}/{stage}/_user_request_/..."})
        api_id, stage, path = match["api"], match["stage"], match["path"] or "/"
        config = self.control.api(api_id, stage)
        if config is None:
            return json_reply(403, {"message": "Forbidden"})
        found = match_resource(config["resources"], path)
        if found is None:
            return missing_token()
        resource, path_params = found
        method = config["methods"].get((resource["path"], verb)) or config["methods"].get(
            (resource["path"], "ANY")
        )
        if method is None:
            if not resource.get("resourceMethods"):
                return missing_token()
            return json_reply(405, {"message": "Method Not Allowed"})
        request_id = str(uuid.uuid4())
        now = time.time()
        context = {
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "stage": stage,
            "httpMethod": verb,
            "resourcePath": resource["path"],
            "resourceId": resource["id"],
            "path": f"/{stage}{path}",
            "domainName": host,
            "apiId": api_id,
            "accountId": config["account"],
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
            "responseOverride": {"header": {}, "status": None},
        }
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        text = body.decode("utf-8", errors="replace")
        content_type = (headers.get("content-type") or "application/json").split(";")[0].strip().lower()
        rejection = self._validate(config, method, content_type, text)
        if rejection is not None:
            return rejection
        integration = method.get("methodIntegration") or {}
        if integration.get("type") == "AWS_PROXY":
            return self._lambda_proxy(
                config, integration, context, resource, path, path_params, query, headers, body, verb
            )
        if integration.get("type") == "AWS":
            params = {"path": path_params, "querystring": query, "header": headers}
            return self._aws_service(config, integration, context, content_type, text, params)
        return json_reply(
            500, {"message": f"integration type {integration.get('type')} is not supported locally"}
        )

    def _validate(
        self, config: dict[str, Any], method: dict[str, Any], content_type: str, text: str
    ) -> Reply | None:
        validator = config["validators"].get(method.get("requestValidatorId") or "")
        if not validator or not validator.get("validateRequestBody"):
            return None
        model_name = (method.get("requestModels") or {}).get(content_type)
        model = config["models"].get(model_name or "")
        if model is None:
            return None
        import jsonschema

        try:
            document = json.loads(text)
            jsonschema.validate(document, json.loads(model["schema"]))
        except (ValueError, jsonschema.ValidationError):
            return json_reply(
                400, {"message": "Invalid request body"}, {"x-amzn-ErrorType": "BadRequestException"}
            )
        return None

    def _aws_service(
        self,
        config: dict[str, Any],
        integration: dict[str, Any],
        context: dict[str, Any],
        content_type: str,
        text: str,
        params: dict[str, Any],
    ) -> Reply:
        templates = integration.get("requestTemplates") or {}
        template = templates.get(content_type)
        if template is None:
            passthrough = integration.get("passthroughBehavior") or "WHEN_NO_MATCH"
            if passthrough == "NEVER" or (passthrough == "WHEN_NO_TEMPLATES" and templates):
                return json_reply(415, {"message": "Unsupported Media Type"})
            rendered = text
        else:
            rendered = render(template, input_variable=InputVariable(text, params), context=context)
        uri = integration.get("uri", "")
        service_match = re.match(r"^arn:[^:]+:apigateway:([^:]+):([^:]+):path/(.+)$", uri)
        if not service_match:
            return json_reply(500, {"message": f"unsupported integration uri {uri}"})
        region, service, service_path = service_match.groups()
        out_headers = {}
        for name, value in (integration.get("requestParameters") or {}).items():
            if name.startswith("integration.request.header.") and value.startswith("'"):
                out_headers[name.rsplit(".", 1)[-1]] = value.strip("'")
        status, response_body = self._call_service(
            service, region, service_path, integration.get("httpMethod") or "POST", out_headers, rendered
        )
        return self._integration_response(integration, context, status, response_body)

    def _call_service(
        self, service: str, region: str, path: str, verb: str, headers: dict[str, str], body: str
    ) -> tuple[int, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        url = f"{self.sqs_endpoint}/{path}"
        request = AWSRequest(method=verb, url=url, data=body.encode("utf-8"), headers=headers)
        SigV4Auth(Credentials("testing", "testing"), service, region).add_auth(request)
        prepared = urllib.request.Request(
            url, data=body.encode("utf-8"), method=verb, headers=dict(request.headers.items())
        )
        try:
            with urllib.request.urlopen(prepared, timeout=30) as response:
                return response.status, response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return 503, str(exc)

    def _integration_response(
        self, integration: dict[str, Any], context: dict[str, Any], status: int, body: str
    ) -> Reply:
        responses = integration.get("integrationResponses") or {}
        chosen = None
        for response in responses.values():
            pattern = response.get("selectionPattern")
            if pattern and re.fullmatch(pattern, str(status)):
                chosen = response
                break
        if chosen is None:
            chosen = next((r for r in responses.values() if not r.get("selectionPattern")), None)
        if chosen is None:
            return json_reply(500, {"message": "Internal server error"})
        template = (chosen.get("responseTemplates") or {}).get("application/json")
        rendered = render(template, input_variable=InputVariable(body), context=context) if template else body
        override = context["responseOverride"]
        headers = {"Content-Type": "application/json", **{k: str(v) for k, v in override["header"].items()}}
        code = int(override.get("status") or chosen["statusCode"])
        return Reply(code, rendered.encode("utf-8"), headers)

    def _lambda_proxy(
        self,
        config: dict[str, Any],
        integration: dict[str, Any],
        context: dict[str, Any],
        resource: dict[str, Any],
        path: str,
        path_params: dict[str, str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        verb: str,
    ) -> Reply:
        match = re.search(r"functions/(arn:[^/]+)/invocations", integration.get("uri", ""))
        if not match:
            return json_reply(500, {"message": "Internal server error"})
        function_arn = match.group(1)
        parts = function_arn.split(":")
        region, account, function = parts[3], parts[4], parts[6]
        event = {
            "resource": resource["path"],
            "path": path,
            "httpMethod": verb,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": {k: v for k, v in context.items() if k != "responseOverride"},
            "body": body.decode("utf-8", errors="replace") if body else None,
            "isBase64Encoded": False,
        }
        result = self.invoke(account, region, function, event)
        if not result.ok or not isinstance(result.payload, dict) or "statusCode" not in result.payload:
            log.warning(
                "proxy integration %s failed: %s %s", function, result.error_type, result.error_message
            )
            return json_reply(502, {"message": "Internal server error"})
        payload = result.payload
        out_body = payload.get("body") or ""
        raw = base64.b64decode(out_body) if payload.get("isBase64Encoded") else str(out_body).encode("utf-8")
        out_headers = {k: str(v) for k, v in (payload.get("headers") or {}).items()}
        return Reply(int(payload["statusCode"]), raw, out_headers)


def make_server(gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                reply = gateway.handle(
                    self.command,
                    self.path,
                    headers,
                    body,
                    self.headers.get("Host", f"{host}:{port}"),
                    self.client_address[0],
                )
            except Exception:
                log.exception("gateway error")
                reply = json_reply(500, {"message": "Internal server error"})
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.info("%s %s", self.address_string(), format % args)

    server = GatewayServer((host, port), Handler)
    return server


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog (5) drops connections under a burst of concurrent clients: the
    # kernel resets them or they wait out SYN retransmits (1 s, 3 s...).
    request_queue_size = 256
