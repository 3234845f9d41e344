"""Support for the API Gateway fidelity suite: the embedded AWS's pieces in this process.

moto's server (the control plane), the gateway (the data plane under test) and the Lambda runtime run
here on 127.0.0.1, as `asyncapi local start` runs them in its own process; tests define REST APIs with
boto3 exactly as a user would and call them over HTTP.
"""

from __future__ import annotations

import http.client
import io
import json
import tempfile
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3

from asyncapi_cli.local.gateway.limits import Limits
from asyncapi_cli.local.gateway.rest import Gateway, make_server
from asyncapi_cli.local.lambda_.runtime import LambdaRuntime

ACCOUNT = "123456789012"
REGION = "us-east-1"
APIGW_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


class FakeClock:
    """Time for the token buckets: tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Embedded:
    def __init__(self) -> None:
        from asyncapi_cli.local.moto_server.keepalive import KeepAliveMotoServer

        self.moto = KeepAliveMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # server.py's
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self._tmp = tempfile.TemporaryDirectory()
        self.runtime = LambdaRuntime(self.endpoint, Path(self._tmp.name) / "code", log=None)
        self.clock = FakeClock()
        self.gateway = Gateway(self.runtime.invoke, self.endpoint, limits=Limits(clock=self.clock))
        self.server = make_server(self.gateway)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.server_address[1]
        self.apigw = self.client("apigateway")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.runtime.close()
        self.moto.stop()
        self._tmp.cleanup()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def path(self, api_id: str, stage: str, path: str) -> str:
        return f"/restapis/{api_id}/{stage}/_user_request_{path}"

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: list[tuple[str, str]] | dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on its own connection, headers exactly as given (repeats and case kept)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
            names = {k.lower() for k, _ in items}
            for name, value in items:
                connection.putheader(name, value)
            if body is not None and "content-length" not in names:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    # --- control plane helpers -------------------------------------------------------------------
    def role(self, name: str, policy: dict[str, Any] | None, trust: dict[str, Any] = APIGW_TRUST) -> str:
        iam = self.client("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        if policy is not None:
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
        return str(arn)

    def function(self, name: str, source: str) -> str:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("fn.py", source)
        role = self.role(f"{name}-role", None, LAMBDA_TRUST)
        created = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="fn.handler",
            Code={"ZipFile": buffer.getvalue()},
            Timeout=10,
        )
        return str(created["FunctionArn"])

    def allow_apigateway(self, function: str, source_arn: str) -> None:
        self.client("lambda").add_permission(
            FunctionName=function,
            StatementId=f"apigw-{uuid.uuid4().hex[:8]}",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=source_arn,
        )

    def rest_api(self, name: str) -> tuple[str, str]:
        api = self.apigw.create_rest_api(name=name)
        return api["id"], api["rootResourceId"]

    def resource(self, api_id: str, parent: str, part: str) -> str:
        return str(self.apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"])

    def mock_method(
        self,
        api_id: str,
        resource_id: str,
        verb: str,
        response_template: str,
        request_template: str = '{"statusCode": 200}',
        api_key_required: bool = False,
        response_parameters: dict[str, str] | None = None,
        **method: Any,
    ) -> None:
        apigw = self.apigw
        apigw.put_method(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=verb,
            apiKeyRequired=api_key_required,
            **{"authorizationType": "NONE", **method},
        )
        apigw.put_method_response(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=verb,
            statusCode="200",
            responseParameters={k: False for k in (response_parameters or {})},
        )
        apigw.put_integration(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=verb,
            type="MOCK",
            requestTemplates={"application/json": request_template},
        )
        apigw.put_integration_response(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=verb,
            statusCode="200",
            selectionPattern="",
            responseTemplates={"application/json": response_template},
            responseParameters=response_parameters or {},
        )

    def proxy_method(self, api_id: str, resource_id: str, verb: str, function_arn: str) -> None:
        self.apigw.put_method(
            restApiId=api_id, resourceId=resource_id, httpMethod=verb, authorizationType="NONE"
        )
        self.apigw.put_integration(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=verb,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        )

    def deploy(self, api_id: str, stage: str) -> str:
        return str(self.apigw.create_deployment(restApiId=api_id, stageName=stage)["id"])


def json_body(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))
