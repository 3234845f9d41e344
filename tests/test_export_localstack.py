"""Opt-in (ASYNCAPI_LOCALSTACK=http://127.0.0.1:4566): the exported template deployed by LocalStack's
CloudFormation, an implementation no one here wrote. create_stack reaches CREATE_COMPLETE, a job
submitted with `asyncapi test-job --url` completes, and delete_stack leaves no queue, function, table
or REST API with the name (the results bucket and the account's API Gateway logging role are retained
on purpose: see asyncapi_cli/export/kinds.py bucket and kinds_api.py account).

Start LocalStack with /work/shared/tools/localstack/start.sh and SERVICES including cloudformation.
WebSocket APIs (apigatewayv2) are not in LocalStack's community edition: the websocket feature is left out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli.endpoints import localstack_api_url

from .conftest import run_cli

ENDPOINT = os.environ.get("ASYNCAPI_LOCALSTACK", "")
pytestmark = pytest.mark.skipif(not ENDPOINT, reason="opt-in: set ASYNCAPI_LOCALSTACK to LocalStack's URL")
NAME = "cfn-export-ls"
FEATURES = "webhooks,priorities,batches,scheduling"


def _client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _leftovers() -> dict[str, list[str]]:
    """What still carries the stack's name: queues, functions, tables, REST APIs."""
    queues = _client("sqs").list_queues(QueueNamePrefix=NAME).get("QueueUrls", [])
    functions = [
        f["FunctionName"]
        for page in _client("lambda").get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f["FunctionName"].startswith(NAME)
    ]
    tables = [t for t in _client("dynamodb").list_tables()["TableNames"] if t.startswith(NAME)]
    apis = [a["name"] for a in _client("apigateway").get_rest_apis()["items"] if a["name"].startswith(NAME)]
    return {"queues": queues, "functions": functions, "tables": tables, "apis": apis}


def _empty_and_delete(bucket: str) -> None:
    s3 = _client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_exported_template_deploys_runs_a_job_and_deletes_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "cfn"
    exported = run_cli(
        "export",
        "cloudformation",
        "--name",
        NAME,
        "--with",
        FEATURES,
        "--auth",
        "api-key",
        "--output-dir",
        str(out),
    )
    assert exported.returncode == 0, exported.stderr
    code_bucket = f"{NAME}-code"
    cfn, s3 = _client("cloudformation"), _client("s3")
    s3.create_bucket(Bucket=code_bucket)
    s3.upload_file(str(out / "function.zip"), code_bucket, "function.zip")
    # From S3, as AWS requires of a template over 51,200 bytes (CreateStack: TemplateBody's limit).
    s3.upload_file(str(out / "template.yaml"), code_bucket, "template.yaml")
    parameters = {"ProjectName": NAME, "CodeS3Bucket": code_bucket, "CodeS3Key": "function.zip"}
    try:
        cfn.create_stack(
            StackName=NAME,
            TemplateURL=f"{ENDPOINT}/{code_bucket}/template.yaml",
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        # botocore's waiter: bounded polling of DescribeStacks (fails on CREATE_FAILED / ROLLBACK_*).
        cfn.get_waiter("stack_create_complete").wait(
            StackName=NAME, WaiterConfig={"Delay": 2, "MaxAttempts": 300}
        )
        (stack,) = cfn.describe_stacks(StackName=NAME)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        key = _client("apigateway").get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"]
        url = localstack_api_url(ENDPOINT, outputs["ApiId"], "prod")
        job = run_cli("test-job", "--url", url, "--timeout", "180", "--json", env={"ASYNCAPI_API_KEY": key})
        assert job.returncode == 0, job.stderr + job.stdout
        assert json.loads(job.stdout)["job"]["status"] == "completed"
    finally:
        cfn.delete_stack(StackName=NAME)
        cfn.get_waiter("stack_delete_complete").wait(
            StackName=NAME, WaiterConfig={"Delay": 2, "MaxAttempts": 300}
        )
        _empty_and_delete(code_bucket)
    assert _leftovers() == {"queues": [], "functions": [], "tables": [], "apis": []}
    # Retained on purpose: the results (data) and the account's API Gateway logging role; removed
    # here by hand, as a user would once they are not needed.
    _empty_and_delete(f"{NAME}-results")
    iam = _client("iam")
    (role,) = [
        r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(f"{NAME}-ApiGateway")
    ]
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=policy)
    iam.delete_role(RoleName=role)
