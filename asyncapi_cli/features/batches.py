"""Batch jobs: `POST /batches` and `GET /batches/{batchId}`, as data.

- POST /batches `{"jobs": [<object>, ...]}` (1-100 items; the request validator's model, 400
  otherwise) sends ONE message to the main queue with attributes kind=batch, batchId (API Gateway's
  extendedRequestId made URL-safe) and submittedAt. The processor (handlers/batch_jobs.py) runs it.
- 202 `{"batchId", "jobIds": ["<batchId>-0", ...], "status": "queued", "statusUrl": "batches/<batchId>"}`
  with a Location header. The response template cannot see the request body (in an integration
  response `$input` is SQS's answer), so the request template passes the item count on through
  `$context.requestOverride.header.AsyncapiBatchSize` (an extra header on the SQS call, ignored by
  SQS) and the response template's #foreach reads it back. Values set on $context.requestOverride in
  a request template are readable in the response template: LocalStack's AWS-validated test
  tests/aws/services/apigateway/test_apigateway_integrations.py::
  test_integration_mock_with_request_overrides_in_response_template (path override read back).
- GET /batches/{batchId}: Lambda proxy to the status checker's function, which routes the resource
  to handlers/batch_status.py (one function fewer; same table and bucket reads).
"""

from __future__ import annotations

from typing import Any

from . import URL_SAFE_REQUEST_ID_VTL, FeatureTarget, statement

MAX_ITEMS = 100
MODEL_NAME = "BatchRequest"
POST_PATH = "/batches"
GET_PATH = "/batches/{batchId}"
BATCH_SIZE_HEADER = "AsyncapiBatchSize"  # no '-': Velocity identifiers cannot hold one


def batch_schema(job_schema: dict[str, Any]) -> dict[str, Any]:
    """{"jobs": [1..100 job objects]} and nothing else; each item follows the /submit job model."""
    item = {key: value for key, value in job_schema.items() if key not in ("$schema", "title")}
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": MODEL_NAME,
        "description": "A batch: 1 to 100 job payloads, each a JSON object.",
        "type": "object",
        "required": ["jobs"],
        "additionalProperties": False,
        "properties": {"jobs": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": item}},
    }


_BATCH_ID_VTL = f"#set($batchId = {URL_SAFE_REQUEST_ID_VTL})##\n"

BATCH_REQUEST_TEMPLATE = (
    _BATCH_ID_VTL
    + f"#set($context.requestOverride.header.{BATCH_SIZE_HEADER} = \"$input.path('$.jobs').size()\")##\n"
    "Action=SendMessage"
    "&MessageBody=$util.urlEncode($input.body)"
    "&MessageAttribute.1.Name=kind"
    "&MessageAttribute.1.Value.DataType=String"
    "&MessageAttribute.1.Value.StringValue=batch"
    "&MessageAttribute.2.Name=batchId"
    "&MessageAttribute.2.Value.DataType=String"
    "&MessageAttribute.2.Value.StringValue=$util.urlEncode($batchId)"
    "&MessageAttribute.3.Name=submittedAt"
    "&MessageAttribute.3.Value.DataType=Number"
    "&MessageAttribute.3.Value.StringValue=$context.requestTimeEpoch"
)
# The batch IS queued when this renders: it must never fail. Should the item count not come through,
# the answer still says queued, without jobIds (never a 5xx that would make a client submit it again).
BATCH_ACCEPTED_TEMPLATE = (
    _BATCH_ID_VTL + f'#set($size = "$!context.requestOverride.header.{BATCH_SIZE_HEADER}")##\n'
    '#set($context.responseOverride.header.Location = "batches/$batchId")##\n'
    '{"batchId": "$batchId", '
    '#if($size != "")#set($last = $util.parseJson($size) - 1)##\n'
    '"jobIds": [#foreach($n in [0..$last])"$batchId-$n"#if($foreach.hasNext), #end#end], #end'
    '"status": "queued", "statusUrl": "batches/$batchId"}'
)
BATCH_UNAVAILABLE_TEMPLATE = (
    '{"message": "The job queue is unavailable; nothing was queued. Retry later.", '
    '"requestId": "$context.requestId"}'
)
# SQS refuses a message over its size limit (the whole batch is one message): that lands here too.
BATCH_FAILED_TEMPLATE = (
    '{"message": "The batch could not be queued (a batch travels as one SQS message: keep it under '
    'the SQS message size limit).", "requestId": "$context.requestId"}'
)


def post_method(
    target: FeatureTarget, *, api_role_arn: str, validator: str, model: str = MODEL_NAME
) -> dict[str, Any]:
    """POST /batches in routes.py's normalized method shape."""
    return {
        "authorizationType": "NONE",
        "requestValidator": validator,
        "requestModels": {"application/json": model},
        "requestParameters": {},
        "integration": {
            "type": "AWS",
            "httpMethod": "POST",
            "uri": target.sqs_integration_uri(f"{target.account}/{target.names.main_queue}"),
            "credentials": api_role_arn,
            "requestParameters": {
                "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
            },
            "requestTemplates": {"application/json": BATCH_REQUEST_TEMPLATE},
            "passthroughBehavior": "NEVER",
        },
        "methodResponses": {"202": {"method.response.header.Location": False}, "500": {}, "503": {}},
        "integrationResponses": {
            "202": {
                "selectionPattern": r"2\d{2}",
                "responseTemplates": {"application/json": BATCH_ACCEPTED_TEMPLATE},
            },
            "503": {
                "selectionPattern": r"5\d{2}",
                "responseTemplates": {"application/json": BATCH_UNAVAILABLE_TEMPLATE},
            },
            "500": {
                "selectionPattern": None,
                "responseTemplates": {"application/json": BATCH_FAILED_TEMPLATE},
            },
        },
    }


def get_method(target: FeatureTarget, *, status_function_arn: str) -> dict[str, Any]:
    """GET /batches/{batchId}: Lambda proxy to the status checker (it routes this resource)."""
    return {
        "authorizationType": "NONE",
        "requestValidator": None,
        "requestModels": {},
        "requestParameters": {"method.request.path.batchId": True},
        "integration": {
            "type": "AWS_PROXY",
            "httpMethod": "POST",
            "uri": target.lambda_integration_uri(status_function_arn),
            "credentials": None,
            "requestParameters": {},
            "requestTemplates": {},
            "passthroughBehavior": "WHEN_NO_MATCH",
        },
        "methodResponses": {},
        "integrationResponses": {},
    }


def methods(
    target: FeatureTarget, *, api_role_arn: str, status_function_arn: str, validator: str
) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (POST_PATH, "POST"): post_method(target, api_role_arn=api_role_arn, validator=validator),
        (GET_PATH, "GET"): get_method(target, status_function_arn=status_function_arn),
    }


def invoke_permission_source_arn(target: FeatureTarget, api_id: str) -> str:
    """lambda:AddPermission SourceArn for the status checker's second route."""
    return f"arn:{target.partition}:execute-api:{target.region}:{target.account}:{api_id}/*/GET/batches/*"


def processor_statements(target: FeatureTarget) -> list[dict[str, Any]]:
    """Added to the processor's role: read its items' records after a run, and their results to combine."""
    return [
        statement(["dynamodb:BatchGetItem"], [target.table_arn]),
        statement(["s3:GetObject"], [target.bucket_objects_arn("results/")]),
    ]


def status_statements(target: FeatureTarget) -> list[dict[str, Any]]:
    """Added to the status checker's role: the batch record and its items; the combined result."""
    return [
        statement(["dynamodb:BatchGetItem", "dynamodb:GetItem"], [target.table_arn]),
        statement(["s3:GetObject"], [target.bucket_objects_arn("results/batches/")]),
    ]
