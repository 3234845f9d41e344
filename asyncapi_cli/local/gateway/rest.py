"""Serves deployed REST API stages on 127.0.0.1, as API Gateway's data plane does.

URL shapes (LocalStack's): /restapis/{apiId}/{stage}/_user_request_/{path} and
/_aws/execute-api/{apiId}/{stage}/{path}. A request runs through a short chain of handlers over one
invocation context (apigw/): find the stage's *deployment*, build $context, route, check API keys and
throttles, validate the method request, run the integration (looked up by type), then add API Gateway's
response headers; any gateway error is rendered once, after the API's gateway responses, and every
request writes the stage's access log line.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import re
import socket
import time
import urllib.parse
import uuid
import zlib
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..lambda_.runtime import InvokeResult
from . import access_log, moto_seam
from .context import Invocation, Request, add_route, build_context, extended_request_id, trace_id
from .errors import (
    BadRequest,
    BadRequestBody,
    GatewayError,
    InternalServerError,
    MissingAuthenticationToken,
    Reply,
    RequestTooLarge,
    render_error,
)
from .integrations import Integrations
from .limits import Limits, method_setting
from .router import route
from .vtl_variables import parse_json_strictly

log = logging.getLogger("asyncapi.local.gateway")
URL_RE = re.compile(
    r"^(?:/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?"
    r"|/_aws/execute-api/(?P<api2>[^/]+)/(?P<stage2>[^/]+)(?P<path2>/.*)?)$"
)
MAX_BODY = 10 * 1024 * 1024  # AWS docs "Amazon API Gateway quotas": payload size 10 MB
__all__ = ["Gateway", "Reply", "make_server", "json_reply"]


def json_reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def decode_body(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    """Content-Encoding gzip/deflate request bodies are decompressed (AWS docs "Content encoding for
    REST APIs": API Gateway decompresses a request body it can decode before mapping it)."""
    encoding = next((v.strip().lower() for k, v in headers if k.lower() == "content-encoding"), "")
    if not body or encoding in ("", "identity"):
        return body
    try:
        if encoding == "gzip":
            data = gzip.decompress(body)
        elif encoding == "deflate":
            data = zlib.decompress(body)
        else:
            return body
    except (OSError, zlib.error, EOFError) as exc:
        raise BadRequestBody("Request body is not valid " + encoding) from exc
    if len(data) > MAX_BODY:
        raise RequestTooLarge()
    return data


class Gateway:
    def __init__(
        self,
        invoke: Callable[[str, str, str, Any], InvokeResult],
        sqs_endpoint: str,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        moto_seam.install()
        self.integrations = Integrations(sqs_endpoint, invoke)
        self.limits = limits or Limits()
        self.clock = clock
        self.observers: list[Callable[[Invocation, int], None]] = []  # each answered request (metrics)

    # --- the chain -------------------------------------------------------------------------------
    def handle(
        self,
        verb: str,
        raw_path: str,
        headers: list[tuple[str, str]] | dict[str, str],
        body: bytes,
        host: str,
        source_ip: str,
    ) -> Reply:
        header_list = list(headers.items()) if isinstance(headers, dict) else list(headers)
        parsed = urllib.parse.urlsplit(raw_path)
        match = URL_RE.match(parsed.path)
        if not match:
            return json_reply(404, {"message": "Not Found: use /restapis/{apiId}/{stage}/_user_request_/..."})
        api_id = match["api"] or match["api2"]
        stage_name = match["stage"] or match["stage2"]
        path = match["path"] or match["path2"] or "/"
        stage = moto_seam.stage_config(api_id, stage_name)
        deployment = moto_seam.deployment(api_id, stage.deployment_id) if stage else None
        if stage is None or deployment is None:
            return json_reply(403, {"message": "Forbidden"}, {"x-amzn-ErrorType": "ForbiddenException"})
        request = Request(
            verb=verb,
            path=path,
            query=urllib.parse.parse_qsl(parsed.query, keep_blank_values=True),
            headers=header_list,
            body=body,
            source_ip=source_ip,
            host=host,
        )
        invocation = Invocation(api_id=api_id, stage=stage, deployment=deployment, request=request)
        invocation.context = build_context(invocation, self.clock())
        invocation.trace_id = trace_id(request.header("X-Amzn-Trace-Id"), self.clock())
        try:
            request.body = decode_body(body, header_list)
            status, out_body, out_headers = self._run(invocation)
            reply = Reply(status, out_body, out_headers)
        except GatewayError as error:
            reply = render_error(error, deployment.gateway_responses, invocation.context)
        except Exception:
            log.exception("gateway error")
            reply = render_error(InternalServerError(), deployment.gateway_responses, invocation.context)
        self._enrich(invocation, reply)
        return reply

    def _run(self, invocation: Invocation) -> tuple[int, bytes, dict[str, str]]:
        request = invocation.request
        found = route(invocation.deployment, request.verb, request.path)
        invocation.resource, invocation.method = found.resource, found.method
        invocation.path_parameters = found.path_parameters
        add_route(invocation.context, found.resource)
        deployment, stage = invocation.deployment, invocation.stage
        if found.method.get("authorizationType") == "AWS_IAM" and not request.header("Authorization"):
            # An unsigned call to an IAM-authorized method (AWS docs "Control access to a REST API
            # with IAM permissions"); signatures themselves are not verified locally.
            raise MissingAuthenticationToken()
        if found.method.get("apiKeyRequired"):
            grant = self.limits.check_api_key(
                deployment.account, deployment.region, invocation.api_id, stage.name, dict(request.headers)
            )
            invocation.context["identity"]["apiKeyId"] = grant.key_id
            invocation.context["identity"]["apiKey"] = request.header("x-api-key")
            self.limits.charge_usage_plan(grant)
        setting = method_setting(stage.method_settings, found.resource["path"], request.verb)
        self.limits.charge_stage(invocation.api_id, stage.name, found.resource["path"], request.verb, setting)
        self._validate(invocation)
        started = time.monotonic()
        try:
            return self.integrations(invocation)
        finally:
            invocation.integration_latency_ms = int((time.monotonic() - started) * 1000)

    def _validate(self, invocation: Invocation) -> None:
        """Request validators (AWS docs "Request validation for REST APIs in API Gateway"): required
        parameters (400 "Missing required request parameters: [...]"), then the body against the
        model for its content type (400 "Invalid request body")."""
        method = invocation.method or {}
        validator = invocation.deployment.validators.get(method.get("requestValidatorId") or "")
        if not validator:
            return
        request = invocation.request
        if validator.get("validateRequestParameters"):
            missing = []
            for name, required in sorted((method.get("requestParameters") or {}).items()):
                if not required:
                    continue
                kind, _, key = name.removeprefix("method.request.").partition(".")
                value = {
                    "header": lambda k: request.header(k),
                    "querystring": lambda k: request.single_query().get(k),
                    "path": lambda k: invocation.path_parameters.get(k),
                }.get(kind, lambda k: None)(key)
                if not value:
                    missing.append(key)
            if missing:
                raise BadRequest(f"Missing required request parameters: [{', '.join(missing)}]")
        if not validator.get("validateRequestBody"):
            return
        content_type = (request.header("Content-Type") or "application/json").split(";")[0].strip().lower()
        model = invocation.deployment.models.get((method.get("requestModels") or {}).get(content_type) or "")
        if model is None or not model.get("schema"):
            return
        try:
            document = parse_json_strictly(request.body.decode("utf-8"))
            valid = _schema_validator(model["schema"]).is_valid(document)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise BadRequestBody() from exc
        if not valid:
            raise BadRequestBody()

    def _enrich(self, invocation: Invocation, reply: Reply) -> None:
        context = invocation.context
        reply.headers["x-amzn-RequestId"] = context["requestId"]
        reply.headers["x-amz-apigw-id"] = context["extendedRequestId"]
        kind = invocation.integration.get("type")
        if kind and kind not in ("MOCK", "HTTP_PROXY") and "error" not in context:
            # Integrations that X-Ray traces answer with the trace header (snapshot test_invocation_trace_id).
            reply.headers["X-Amzn-Trace-Id"] = invocation.trace_id
        context["status"] = reply.status
        context["responseLength"] = len(reply.body)
        context["responseLatency"] = int((time.monotonic() - invocation.started) * 1000)
        context["integrationLatency"] = invocation.integration_latency_ms
        context["integrationStatus"] = invocation.integration_status
        try:
            access_log.write(invocation.stage.access_log, context, invocation.deployment.deployment_id)
        except Exception:
            log.exception("access log")
        for observer in self.observers:
            try:
                observer(invocation, reply.status)
            except Exception:  # an observer's failure is not the request's
                log.exception("request observer")


# --- HTTP ------------------------------------------------------------------------------------------


def _reply_bytes(
    status: int, reason: str, headers: dict[str, str], body: bytes, head: bool, close: bool
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(usegmt=True)}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length"]
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
    return head_bytes if head else head_bytes + body


@functools.lru_cache(maxsize=64)
def _schema_validator(schema_text: str) -> Any:
    """What jsonschema.validate builds for a schema (its draft's validator, after checking the schema
    itself against the draft: an invalid one raises, every time), once per model text rather than per
    request (checking the schema was most of the validation's cost)."""
    import jsonschema

    schema = json.loads(schema_text)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def make_server(gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Without it, a kept-alive connection waits out Nagle + delayed ACK (~40 ms) per reply.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _send(self, reply: Reply, close: bool = False) -> None:
            if close:
                self.close_connection = True
            reason = self.responses.get(reply.status, ("",))[0]
            data = _reply_bytes(
                reply.status, reason, reply.headers, reply.body, self.command == "HEAD", self.close_connection
            )
            self.wfile.write(data)  # one send: status line, headers and body together
            self.log_request(reply.status, len(reply.body))

        def _read_body(self) -> bytes | Reply:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks, total = [], 0
                while True:
                    size_line = self.rfile.readline(1024).split(b";")[0].strip()
                    try:
                        size = int(size_line, 16)
                    except ValueError:
                        return json_reply(400, {"message": "Bad Request"})
                    if size == 0:
                        while self.rfile.readline(1024).strip():
                            pass
                        return b"".join(chunks)
                    total += size
                    if total > MAX_BODY:
                        return render_error(RequestTooLarge(), {}, {})
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(8)
            lengths = self.headers.get_all("Content-Length") or []
            if not lengths:
                return b""
            if len(set(lengths)) > 1 or not lengths[0].strip().isdigit():
                return json_reply(400, {"message": "Bad Request"})  # RFC 9112 6.3: unrecoverable framing
            length = int(lengths[0])
            if length > MAX_BODY:
                # Read what was announced (up to a bound) so the client gets to read the 413.
                remaining = min(length, 8 * MAX_BODY)
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                return render_error(RequestTooLarge(), {}, {})
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            body = self._read_body()
            if isinstance(body, Reply):
                body.headers["x-amzn-RequestId"] = str(uuid.uuid4())
                body.headers["x-amz-apigw-id"] = extended_request_id()
                self._send(body, close=True)  # the rest of the body cannot be framed: end the connection
                return
            try:
                reply = gateway.handle(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.headers.get("Host", f"{host}:{port}"),
                    self.client_address[0],
                )
            except Exception:
                log.exception("gateway error")
                reply = json_reply(500, {"message": "Internal server error"})
            self._send(reply)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.info("%s %s", self.address_string(), format % args)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # A line per request is a debug line, as moto's own request lines are (the werkzeug logger
            # at WARNING): formatted and written to server.log it was ~6% of a submit's CPU. A stage's
            # access log (apigw/access_log.py) records requests as API Gateway does; errors still log.
            if log.isEnabledFor(logging.DEBUG):
                super().log_request(code, size)

    return GatewayServer((host, port), Handler)


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog (5) drops connections under a burst of concurrent clients: the
    # kernel resets them or they wait out SYN retransmits (1 s, 3 s...).
    request_queue_size = 256
