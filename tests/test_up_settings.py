"""`up` provisions every resource with the recipe's settings (its bugs fixed). Asserts live settings."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3
import pytest

from asyncapi_cli.api_definition import SUBMIT_REQUEST_TEMPLATE
from asyncapi_cli.names import TAG_KEY
from asyncapi_cli.stack import build_units

from .conftest import ACCOUNT, REPO, deploy

NAME = "test-stack"


@pytest.fixture
def stack(mocked_aws: None):  # noqa: ANN201
    return deploy(NAME)


def test_queues_redrive_visibility_retention_encryption(stack) -> None:  # noqa: ANN001
    sqs = boto3.client("sqs")
    main_url = sqs.get_queue_url(QueueName=f"{NAME}-main-queue")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=f"{NAME}-dlq")["QueueUrl"]
    main = sqs.get_queue_attributes(QueueUrl=main_url, AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    # Main queue -> the dead-letter recorder's inbox -> the DLQ (both after 3 receives).
    inbox_url = sqs.get_queue_url(QueueName=f"{NAME}-dlq-inbox")["QueueUrl"]
    inbox = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(main["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == inbox["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    inbox_redrive = json.loads(inbox["RedrivePolicy"])
    assert inbox_redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(inbox_redrive["maxReceiveCount"]) == 3 + 3  # the main queue's receives + the recorder's
    # AWS's guidance: at least 6 x the 300 s function timeout plus the 5 s batching window.
    assert int(main["VisibilityTimeout"]) == 6 * 300 + 5
    assert main["MessageRetentionPeriod"] == dlq["MessageRetentionPeriod"] == "1209600"
    assert main["SqsManagedSseEnabled"] == dlq["SqsManagedSseEnabled"] == "true"
    assert "VisibilityTimeoutSeconds" not in main
    assert sqs.list_queue_tags(QueueUrl=main_url)["Tags"][TAG_KEY] == NAME


def test_table_key_and_billing(stack) -> None:  # noqa: ANN001
    table = boto3.client("dynamodb").describe_table(TableName=f"{NAME}-jobs")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "jobId", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": name, "AttributeType": "S"} for name in ("jobId", "status", "createdAt")
    ]
    # Newest jobs by status are a Query on this index, not a Scan of the table (jobs_index.py).
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "byStatusCreated" and index["Projection"] == {"ProjectionType": "ALL"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TableStatus"] == "ACTIVE"


def test_bucket_private_encrypted_tagged(stack) -> None:  # noqa: ANN001
    s3 = boto3.client("s3")
    bucket = f"{NAME}-results"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags[TAG_KEY] == NAME


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_bucket_location_constraint_per_region(mocked_aws: None, region: str) -> None:
    deploy(f"loc-{region}", region=region)
    location = boto3.client("s3", region_name=region).get_bucket_location(Bucket=f"loc-{region}-results")
    # us-east-1 buckets report no LocationConstraint; every other region its own name.
    assert location.get("LocationConstraint") == (None if region == "us-east-1" else region)


def _role(name: str) -> tuple[dict, dict]:
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=name)["Role"]
    policy = iam.get_role_policy(RoleName=name, PolicyName="asyncapi-least-privilege")["PolicyDocument"]
    return role, policy


def test_api_gateway_role_only_sends_to_main_queue(stack) -> None:  # noqa: ANN001
    role, policy = _role(f"{NAME}-api-gateway-role")
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert policy["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [f"arn:aws:sqs:us-east-1:{ACCOUNT}:{NAME}-main-queue"],
        }
    ]
    assert (
        boto3.client("iam").list_attached_role_policies(RoleName=f"{NAME}-api-gateway-role")[
            "AttachedPolicies"
        ]
        == []
    )


def handler_actions(source: Path) -> set[str]:
    """The IAM actions of every `_client("<service>").<operation>(...)` call a handler makes."""
    actions = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        if isinstance(target, ast.Call) and getattr(target.func, "id", None) == "_client":
            service = target.args[0].value  # type: ignore[attr-defined]
            operation = "".join(part.title() for part in node.func.attr.split("_"))
            actions.add(f"{service}:{operation}")
    return actions


def test_lambda_roles_are_scoped(stack) -> None:  # noqa: ANN001
    role, policy = _role(f"{NAME}-lambda-role")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    # Least privilege: exactly the table and bucket calls the processor makes.
    calls = handler_actions(REPO / "handlers" / "job_processor.py")
    assert calls == {"dynamodb:UpdateItem", "s3:PutObject"}
    by_resource = {s["Resource"][0]: sorted(s["Action"]) for s in policy["Statement"]}
    assert by_resource == {
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{NAME}-jobs": sorted(
            c for c in calls if c.startswith("dynamodb:")
        ),
        f"arn:aws:s3:::{NAME}-results/results/*": sorted(c for c in calls if c.startswith("s3:")),
        # The mapping's three, and ChangeMessageVisibility for the processor's own retry backoff
        # (handlers/job_retries.py).
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:{NAME}-main-queue": [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/{NAME}-job-processor:*": [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
    }
    _, status_policy = _role(f"{NAME}-status-role")
    actions = sorted(a for s in status_policy["Statement"] for a in s["Action"])
    assert actions == ["dynamodb:GetItem", "logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject"]
    # resultUrl is presigned with the status role, so it may read results/* and nothing else.
    (get_object,) = [s for s in status_policy["Statement"] if s["Action"] == ["s3:GetObject"]]
    assert get_object["Resource"] == [f"arn:aws:s3:::{NAME}-results/results/*"]
    assert not any(r == "*" for s in status_policy["Statement"] + policy["Statement"] for r in s["Resource"])


def test_functions_settings(stack) -> None:  # noqa: ANN001
    lam = boto3.client("lambda")
    processor = lam.get_function_configuration(FunctionName=f"{NAME}-job-processor")
    assert (processor["Runtime"], processor["MemorySize"], processor["Timeout"]) == ("python3.12", 512, 300)
    assert processor["Handler"] == "job_processor.lambda_handler"
    assert processor["Role"].endswith(f":role/{NAME}-lambda-role")
    assert processor["Environment"]["Variables"] == {
        "JOBS_TABLE_NAME": f"{NAME}-jobs",
        "RESULTS_BUCKET_NAME": f"{NAME}-results",
        "MAX_RECEIVE_COUNT": "3",
        "RETRY_BACKOFF_SECONDS": "2",  # [processor] retry_backoff's default
        "ASYNCAPI_STACK": NAME,  # the dimension of the jobs' metrics (handlers/job_metrics.py)
    }
    status = lam.get_function_configuration(FunctionName=f"{NAME}-status-checker")
    assert (status["Runtime"], status["MemorySize"], status["Timeout"]) == ("python3.12", 256, 30)
    assert status["Environment"]["Variables"] == {"JOBS_TABLE_NAME": f"{NAME}-jobs"}
    assert status["Role"].endswith(f":role/{NAME}-status-role")
    assert lam.list_tags(Resource=processor["FunctionArn"])["Tags"][TAG_KEY] == NAME


def test_log_groups_with_retention(stack) -> None:  # noqa: ANN001
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{NAME}-")["logGroups"]
    assert {(g["logGroupName"], g["retentionInDays"]) for g in groups} == {
        (f"/aws/lambda/{NAME}-job-processor", 14),
        (f"/aws/lambda/{NAME}-status-checker", 14),
        (f"/aws/lambda/{NAME}-dl-recorder", 14),  # the dead-letter recorder
    }
    access = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/aws/apigateway/")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in access] == [
        (f"/aws/apigateway/{NAME}-access", 14)
    ]


def _method(api_id: str, path: str, verb: str) -> dict:
    apigw = boto3.client("apigateway")
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api_id)["items"]}
    return apigw.get_method(restApiId=api_id, resourceId=resources[path]["id"], httpMethod=verb)


def test_submit_integration_is_form_encoded_sqs(stack) -> None:  # noqa: ANN001
    apigw = boto3.client("apigateway")
    apis = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{NAME}-api"]
    assert len(apis) == 1 and apis[0]["endpointConfiguration"]["types"] == ["REGIONAL"]
    api_id = apis[0]["id"]
    method = _method(api_id, "/submit", "POST")
    integration = method["methodIntegration"]
    assert integration["type"] == "AWS"
    assert integration["uri"] == f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/{NAME}-main-queue"
    assert integration["credentials"].endswith(f":role/{NAME}-api-gateway-role")
    assert integration["requestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
    }
    template = integration["requestTemplates"]["application/json"]
    assert template == SUBMIT_REQUEST_TEMPLATE
    assert template.startswith("Action=SendMessage&MessageBody=$util.urlEncode($input.body)")
    # The job id is extendedRequestId (a client can set requestId with X-Amzn-RequestId).
    assert "$context.requestId" not in template and "$context.extendedRequestId" in template
    assert integration["passthroughBehavior"] == "NEVER"
    responses = integration["integrationResponses"]
    assert responses["202"]["selectionPattern"] == r"2\d{2}"
    assert '"status": "queued"' in responses["202"]["responseTemplates"]["application/json"]
    # Every non-2xx answer from SQS maps to an error, never to "queued".
    for code in ("500", "503"):
        assert '"status": "queued"' not in responses[code]["responseTemplates"]["application/json"]
    assert not responses["500"].get("selectionPattern")
    validators = apigw.get_request_validators(restApiId=api_id)["items"]
    validator = next(v for v in validators if v["id"] == method["requestValidatorId"])
    assert validator["validateRequestBody"] is True
    assert method["requestModels"] == {"application/json": "JobRequest"}
    schema = json.loads(apigw.get_model(restApiId=api_id, modelName="JobRequest")["schema"])
    assert schema["type"] == "object"


def test_status_proxy_integration_and_scoped_permission(stack) -> None:  # noqa: ANN001
    api_id = stack.state.resources["rest_api"]["id"]
    method = _method(api_id, "/status/{jobId}", "GET")
    integration = method["methodIntegration"]
    assert integration["type"] == "AWS_PROXY"
    assert integration["httpMethod"] == "POST"
    assert integration["uri"].endswith(f":function:{NAME}-status-checker/invocations")
    assert method["requestParameters"] == {"method.request.path.jobId": True}
    policy = json.loads(boto3.client("lambda").get_policy(FunctionName=f"{NAME}-status-checker")["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/*/GET/status/*"
    )


def test_mapping_batching_and_partial_failures(stack) -> None:  # noqa: ANN001
    main_queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{NAME}-main-queue"
    mappings = boto3.client("lambda").list_event_source_mappings(
        EventSourceArn=main_queue, FunctionName=f"{NAME}-job-processor"
    )
    (mapping,) = mappings["EventSourceMappings"]  # one mapping from the main queue (others may exist)
    assert mapping["UUID"] == stack.state.resources["mapping"]["uuid"]
    assert mapping["BatchSize"] == 10
    assert mapping["MaximumBatchingWindowInSeconds"] == 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["State"] == "Enabled"


def test_stage_deployed_and_recorded(stack) -> None:  # noqa: ANN001
    api_id = stack.state.resources["rest_api"]["id"]
    stage = boto3.client("apigateway").get_stage(restApiId=api_id, stageName="prod")
    assert stage["deploymentId"] == stack.state.resources["stage"]["deployment_id"]
    url = f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod"
    assert stack.state.outputs["api_url"] == url
    assert stack.state.outputs["submit_url"] == f"{url}/submit"
    on_disk = json.loads(stack.store.path.read_text())
    assert on_disk["schema"] == 1 and on_disk["target"]["account"] == ACCOUNT
    assert on_disk["outputs"]["api_url"] == url
    # Every unit of the stack is recorded under its key (the keys existing state files use).
    assert set(on_disk["resources"]) == {unit.key for unit in build_units(stack.ctx)}
    assert {"dlq", "main_queue", "mapping", "rest_api", "stage"} <= set(on_disk["resources"])
