"""The recipe's API as data: POST /submit (direct SQS SendMessage) and GET /status/{jobId} (Lambda proxy).

The recipe's /submit integration cannot reach SQS: it sends JSON-protocol headers with query-protocol
parameters. This is the documented form-encoded integration instead. stack.py fills in the values
that come from other units (the queue, the role, the status function) as references.
"""

from __future__ import annotations

from typing import Any

from .features import URL_SAFE_REQUEST_ID_VTL

MODEL_NAME = "JobRequest"
VALIDATOR_NAME = "asyncapi-body"
JOB_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "JobRequest",
    "description": "A job payload: any JSON object.",
    "type": "object",
}

# The job id is $context.extendedRequestId made URL-safe, never $context.requestId, which a
# client can set with an X-Amzn-RequestId header (AWS docs, "$context variables for data models,
# authorizers, mapping templates, and access logging": "Clients can override this request ID").
JOB_ID_VTL = URL_SAFE_REQUEST_ID_VTL

# The client's JSON goes to SQS untouched as the message body; the job id (API Gateway's request
# id) and the submission time travel as message attributes.
SUBMIT_REQUEST_TEMPLATE = (
    "Action=SendMessage"
    "&MessageBody=$util.urlEncode($input.body)"
    "&MessageAttribute.1.Name=jobId"
    "&MessageAttribute.1.Value.DataType=String"
    f"&MessageAttribute.1.Value.StringValue=$util.urlEncode({JOB_ID_VTL})"
    "&MessageAttribute.2.Name=submittedAt"
    "&MessageAttribute.2.Value.DataType=Number"
    "&MessageAttribute.2.Value.StringValue=$context.requestTimeEpoch"
)
# Location is relative ("status/<id>"), so it resolves against /submit under any stage or base path.
SUBMIT_ACCEPTED_TEMPLATE = (
    f"#set($jobId = {JOB_ID_VTL})\n"
    '#set($context.responseOverride.header.Location = "status/$jobId")\n'
    '{"jobId": "$jobId", "status": "queued", "statusUrl": "status/$jobId"}'
)
SUBMIT_UNAVAILABLE_TEMPLATE = (
    '{"message": "The job queue is unavailable; nothing was queued. Retry later.", '
    '"requestId": "$context.requestId"}'
)
SUBMIT_FAILED_TEMPLATE = '{"message": "The job could not be queued.", "requestId": "$context.requestId"}'

STATUS_PATH = "/status/{jobId}"
SUBMIT_PATH = "/submit"


def job_api(*, queue_uri: Any, queue_role_arn: Any, status_uri: Any) -> dict[str, Any]:
    """The routes unit's attributes, but for the REST API id: models, validators and methods.

    Methods are keyed "VERB /path" and written in the normalized shape routes.py reads live ones into.
    """
    return {
        "models": {MODEL_NAME: {"contentType": "application/json", "schema": JOB_SCHEMA}},
        "validators": {VALIDATOR_NAME: {"validateRequestBody": True, "validateRequestParameters": False}},
        "methods": {
            f"POST {SUBMIT_PATH}": {
                "authorizationType": "NONE",
                "requestValidator": VALIDATOR_NAME,
                "requestModels": {"application/json": MODEL_NAME},
                "requestParameters": {},
                "integration": {
                    "type": "AWS",
                    "httpMethod": "POST",
                    "uri": queue_uri,
                    "credentials": queue_role_arn,
                    "requestParameters": {
                        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
                    },
                    "requestTemplates": {"application/json": SUBMIT_REQUEST_TEMPLATE},
                    # Bodies of other content types are refused (415), never passed through to SQS.
                    "passthroughBehavior": "NEVER",
                },
                "methodResponses": {
                    "202": {"method.response.header.Location": False},
                    "500": {},
                    "503": {},
                },
                "integrationResponses": {
                    "202": {
                        "selectionPattern": r"2\d{2}",
                        "responseTemplates": {"application/json": SUBMIT_ACCEPTED_TEMPLATE},
                    },
                    "503": {
                        "selectionPattern": r"5\d{2}",
                        "responseTemplates": {"application/json": SUBMIT_UNAVAILABLE_TEMPLATE},
                    },
                    # The default response (no pattern) catches every other SQS answer: never "queued".
                    "500": {
                        "selectionPattern": None,
                        "responseTemplates": {"application/json": SUBMIT_FAILED_TEMPLATE},
                    },
                },
            },
            f"GET {STATUS_PATH}": {
                "authorizationType": "NONE",
                "requestValidator": None,
                "requestModels": {},
                "requestParameters": {"method.request.path.jobId": True},
                "integration": {
                    "type": "AWS_PROXY",
                    "httpMethod": "POST",
                    "uri": status_uri,
                    "credentials": None,
                    "requestParameters": {},
                    "requestTemplates": {},
                    "passthroughBehavior": "WHEN_NO_MATCH",
                },
                "methodResponses": {},
                "integrationResponses": {},
            },
        },
    }
