"""Integrations, looked up by type: AWS (service, SQS here), AWS_PROXY (Lambda), MOCK, HTTP.

AWS service integrations call the service as API Gateway does: the rendered request, signed with the
integration's `credentials` role, `Accept: application/json` unless the integration sets another
(LocalStack integration_request.py DEFAULT_REQUEST_HEADERS, validated). SQS answers such a query-
protocol request in JSON (LocalStack test_sqs_request_and_response_xml_templates_integration: a template
reading `$input.path('$.SendMessageResponse.SendMessageResult.MessageId')` works, and with
`Accept: application/xml` the body is XML). The embedded SQS (moto) only speaks XML, so it is converted.
The role must let API Gateway assume it and allow the action on the queue; otherwise SQS's answer is
403 AccessDenied, which goes through the integration responses like any other answer.

The request reaches SQS through a transport (`SqsTransport`): by default the embedded SQS in this
process (sqs_seam.answer_query: moto's own SQS front end, no HTTP to the server itself); `HttpSqs`
signs and sends it to an endpoint, as API Gateway does (tests compare the two answers).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from typing import Any, Protocol

from ..events import sqs_seam
from . import iam, lambda_proxy, moto_seam
from .context import Invocation
from .errors import InternalServerError
from .mapping import EndpointResponse, render_request, render_response

Result = tuple[int, bytes, dict[str, str]]
SERVICE_URI = re.compile(r"^arn:[^:]+:apigateway:([^:]+):([^:]+):(path|action)/(.+)$")
HOP_BY_HOP = {"host", "connection", "content-length", "transfer-encoding", "keep-alive", "date"}
SEND_MESSAGE_OPTIONAL = ("MD5OfMessageAttributes", "MD5OfMessageSystemAttributes", "SequenceNumber")


def _xml_to_json(text: str) -> Any:
    def strip(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    def convert(element: ElementTree.Element) -> Any:
        children = list(element)
        if not children:
            return element.text
        out: dict[str, Any] = {}
        for child in children:
            name, value = strip(child.tag), convert(child)
            if name in out:
                out[name] = out[name] if isinstance(out[name], list) else [out[name]]
                out[name].append(value)
            else:
                out[name] = value
        return out

    root = ElementTree.fromstring(text)
    document = {strip(root.tag): convert(root)}
    result = document.get("SendMessageResponse", {}).get("SendMessageResult")
    if isinstance(result, dict):  # AWS's JSON lists the optional members as null
        for key in SEND_MESSAGE_OPTIONAL:
            result.setdefault(key, None)
    if "ErrorResponse" in document:
        return document["ErrorResponse"]
    return document


def _access_denied(role_arn: str, action: str, resource: str) -> EndpointResponse:
    who = (
        role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
        + "/BackplaneAssumeRoleSession"
    )
    body = {
        "Error": {
            "Code": "AccessDenied",
            "Message": f"User: {who} is not authorized to perform: {action.lower()} on resource: {resource}",
            "Type": "Sender",
        },
        "RequestId": "00000000-0000-0000-0000-000000000000",
    }
    return EndpointResponse(403, json.dumps(body), {"Content-Type": "application/json"})


class SqsTransport(Protocol):
    """Answers an SQS request: path relative to the service root (query string included)."""

    def __call__(
        self, region: str, path: str, verb: str, headers: dict[str, str], body: str
    ) -> tuple[int, str, dict[str, str]]: ...


class InProcessSqs:
    """The embedded SQS, answered in this process (the server's own handler, without HTTP)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")

    def __call__(
        self, region: str, path: str, verb: str, headers: dict[str, str], body: str
    ) -> tuple[int, str, dict[str, str]]:
        return sqs_seam.answer_query(self.endpoint, region, path, verb, headers, body)


class HttpSqs:
    """SQS over HTTP, signed with SigV4 as API Gateway signs with the integration's role."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")

    def __call__(
        self, region: str, path: str, verb: str, headers: dict[str, str], body: str
    ) -> tuple[int, str, dict[str, str]]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        url = f"{self.endpoint}/{path}"
        request = AWSRequest(method=verb, url=url, data=body.encode("utf-8"), headers=headers)
        SigV4Auth(Credentials("testing", "testing"), "sqs", region).add_auth(request)
        return Integrations._send(url, verb, dict(request.headers.items()), body)


class Integrations:
    def __init__(
        self,
        sqs_endpoint: str,
        invoke_lambda: Callable[[str, str, str, Any], Any],
        sqs: SqsTransport | None = None,
    ) -> None:
        self.sqs_endpoint = sqs_endpoint.rstrip("/")
        self.sqs: SqsTransport = sqs or InProcessSqs(self.sqs_endpoint)
        self.invoke_lambda = invoke_lambda
        self.table: dict[str, Callable[[Invocation], Result]] = {
            "AWS": self.aws,
            "AWS_PROXY": lambda inv: lambda_proxy.invoke(inv, self.invoke_lambda),
            "MOCK": self.mock,
            "HTTP": self.http,
            "HTTP_PROXY": self.http_proxy,
        }

    def __call__(self, invocation: Invocation) -> Result:
        handler = self.table.get(invocation.integration.get("type") or "")
        if handler is None:
            raise InternalServerError()
        return handler(invocation)

    # --- MOCK: the request template's statusCode selects the integration response ---------------
    def mock(self, invocation: Invocation) -> Result:
        request = render_request(invocation)
        try:
            status = int(json.loads(request.body or "{}").get("statusCode", 200))
        except (ValueError, AttributeError, TypeError):
            # AWS docs "Set up mock integrations": the template must produce {"statusCode": ...}.
            raise InternalServerError() from None
        return render_response(invocation, EndpointResponse(status, ""))

    # --- HTTP (non-proxy) --------------------------------------------------------------------------
    def http(self, invocation: Invocation) -> Result:
        request = render_request(invocation)
        uri = invocation.integration.get("uri") or ""
        for name, value in request.path.items():
            uri = uri.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
        if request.query:
            uri += ("&" if "?" in uri else "?") + urllib.parse.urlencode(request.query)
        verb = invocation.integration.get("httpMethod") or invocation.request.verb
        status, body, headers = self._send(
            uri, verb, {"Accept": "application/json", **request.headers}, request.body
        )
        invocation.integration_status = status
        return render_response(invocation, EndpointResponse(status, body, headers))

    # --- HTTP_PROXY: the request passed through, the answer passed back ----------------------------------
    def http_proxy(self, invocation: Invocation) -> Result:
        request = invocation.request
        uri = invocation.integration.get("uri") or ""
        for name, value in invocation.path_parameters.items():
            uri = uri.replace("{" + name + "+}", value).replace(
                "{" + name + "}", urllib.parse.quote(value, safe="")
            )
        if request.query:
            uri += ("&" if "?" in uri else "?") + urllib.parse.urlencode(request.query)
        headers = {k: v for k, v in request.headers if k.lower() not in HOP_BY_HOP}
        verb = invocation.integration.get("httpMethod") or request.verb
        if verb == "ANY":
            verb = request.verb
        status, body, answer = self._send(uri, verb, headers, request.body.decode("utf-8", errors="replace"))
        invocation.integration_status = status
        return status, body.encode("utf-8"), {k: v for k, v in answer.items() if k.lower() not in HOP_BY_HOP}

    # --- AWS service (SQS) ---------------------------------------------------------------------------
    def aws(self, invocation: Invocation) -> Result:
        request = render_request(invocation)
        integration = invocation.integration
        match = SERVICE_URI.match(integration.get("uri") or "")
        if not match or match.group(2) != "sqs" or match.group(3) != "path":
            raise InternalServerError()  # only SQS path integrations are modelled locally
        region, _, _, service_path = match.groups()
        headers = {"Accept": "application/json", **request.headers}
        endpoint = self._authorize_sqs(invocation, region, service_path, request.body, headers)
        if endpoint is None:
            query = ("?" + urllib.parse.urlencode(request.query)) if request.query else ""
            status, body, answer_headers = self.sqs(
                region,
                f"{service_path}{query}",
                integration.get("httpMethod") or "POST",
                headers,
                request.body,
            )
            if "json" in headers.get("Accept", "").lower() and body.lstrip().startswith("<"):
                try:
                    body = json.dumps(_xml_to_json(body))
                    answer_headers["Content-Type"] = "application/json"
                except ElementTree.ParseError:
                    pass
            endpoint = EndpointResponse(status, body, answer_headers)
        invocation.integration_status = endpoint.status
        return render_response(invocation, endpoint)

    def _authorize_sqs(
        self, invocation: Invocation, region: str, path: str, body: str, headers: dict[str, str]
    ) -> EndpointResponse | None:
        account, _, queue = path.strip("/").partition("/")
        if not queue:
            # The service root (`sqs:path//`): the queue is named by the form's QueueUrl, as SQS's query
            # API reads it (.../<account>/<queue>).
            queue_url = sqs_seam.form_field(body, "QueueUrl")  # dict(parse_qsl(body)).get(...), cheaper
            account, _, queue = urllib.parse.urlparse(queue_url).path.strip("/").rpartition("/")
            account = account.rpartition("/")[2]
        queue_arn = f"arn:aws:sqs:{region}:{account}:{queue.strip('/')}"
        target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
        name = target.rpartition(".")[2] if target else sqs_seam.form_field(body, "Action")
        action = f"sqs:{name}"
        role_arn = invocation.integration.get("credentials") or ""
        role = moto_seam.role_policies(role_arn) if role_arn else None
        if role_arn and (role is None or not iam.service_may_assume(role.trust, "apigateway.amazonaws.com")):
            # "Execution failed due to configuration error: ... unable to assume the provided role"
            raise InternalServerError()
        if role is None or iam.evaluate(role.identity, action, queue_arn) != iam.ALLOW:
            return _access_denied(role_arn or "anonymous", action, queue_arn)
        return None

    @staticmethod
    def _send(url: str, verb: str, headers: dict[str, str], body: str) -> tuple[int, str, dict[str, str]]:
        data = body.encode("utf-8") if verb not in ("GET", "HEAD") else None
        prepared = urllib.request.Request(url, data=data, method=verb, headers=headers)
        try:
            with urllib.request.urlopen(prepared, timeout=29) as response:  # API Gateway's 29 s
                return (
                    response.status,
                    response.read().decode("utf-8", errors="replace"),
                    dict(response.headers),
                )
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", errors="replace"), dict(exc.headers or {})
        except OSError as exc:
            # The service could not be reached: answered as a 503 from it, so the integration
            # responses decide what the client sees (the recipe maps 5xx to its own 503).
            return 503, json.dumps({"message": f"service unreachable: {type(exc).__name__}"}), {}
