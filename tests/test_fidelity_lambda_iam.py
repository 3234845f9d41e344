"""A function's own AWS calls are judged by its execution role's policies, locally as on AWS.

Source: "Defining Lambda function permissions with an execution role"
(docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html): the function's code gets
temporary credentials of its role; a call the role does not allow fails with AccessDenied.
Our own control-plane calls (placeholder keys) are not judged.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import iam_policy
from asyncapi_cli.local.lambda_.runtime import LambdaRuntime

from .conftest import apply_embedded_moto_patches

REGION = "us-east-1"
FUNCTION = """
import boto3, botocore.exceptions
def handler(event, context):
    s3 = boto3.client("s3")
    try:
        s3.put_object(Bucket=event["bucket"], Key="result.json", Body=b"{}")
    except botocore.exceptions.ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    return {"error": None}
"""


@pytest.fixture
def aws(moto_server: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    apply_embedded_moto_patches()
    iam_policy.install_role_enforcement()

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=moto_server)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", FUNCTION)
    runtime = LambdaRuntime(
        moto_server,
        tmp_path / "code",
        credentials=lambda spec: iam_policy.role_credentials(spec.account, spec.region, spec.role, spec.name),
    )
    yield {"client": client, "zip": buffer.getvalue(), "runtime": runtime}
    runtime.close()


def function_with_role(aws: dict[str, Any], name: str, actions: list[str]) -> None:
    iam = aws["client"]("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if actions:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:s3:::results-bucket/*"}
            ],
        }
        iam.put_role_policy(RoleName=f"{name}-role", PolicyName="results", PolicyDocument=json.dumps(policy))
    aws["client"]("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="fn.handler",
        Code={"ZipFile": aws["zip"]},
        Timeout=60,  # a busy machine must not turn AccessDenied into a timeout
    )


def test_a_role_without_put_object_gets_access_denied(aws: dict[str, Any]) -> None:
    aws["client"]("s3").create_bucket(Bucket="results-bucket")  # our placeholder keys: not judged
    function_with_role(aws, "writer", ["s3:PutObject"])
    function_with_role(aws, "reader", ["s3:GetObject"])
    event = {"bucket": "results-bucket"}
    allowed = aws["runtime"].invoke("123456789012", REGION, "writer", event)
    denied = aws["runtime"].invoke("123456789012", REGION, "reader", event)
    assert allowed.ok and allowed.payload == {"error": None}, allowed
    assert denied.ok and denied.payload == {"error": "AccessDenied"}, denied


def test_deleting_the_inline_policy_takes_the_right_away(aws: dict[str, Any]) -> None:
    aws["client"]("s3").create_bucket(Bucket="results-bucket")
    function_with_role(aws, "revoked", ["s3:PutObject"])
    event = {"bucket": "results-bucket"}
    assert aws["runtime"].invoke("123456789012", REGION, "revoked", event).payload == {"error": None}
    aws["client"]("iam").delete_role_policy(RoleName="revoked-role", PolicyName="results")
    assert aws["runtime"].invoke("123456789012", REGION, "revoked", event).payload == {
        "error": "AccessDenied"
    }
