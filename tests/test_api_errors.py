"""Defect 10: retryable SQS errors answer 503 + Retry-After; permanent ones 500; nothing from AWS leaks.

The integration responses are run through the embedded gateway's own selection and Velocity rendering
(asyncapi_cli/local/gateway/rest.py, vtl.py), as API Gateway runs them on an SQS answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.retries import standard

from asyncapi_cli import api_errors
from asyncapi_cli.api_definition import SUBMIT_ACCEPTED_TEMPLATE
from asyncapi_cli.local.gateway.context import Invocation, Request
from asyncapi_cli.local.gateway.mapping import EndpointResponse, render_response
from asyncapi_cli.local.gateway.moto_seam import Deployment, StageConfig


def integration() -> dict[str, Any]:
    responses = {
        "202": {
            "statusCode": "202",
            "selectionPattern": r"2\d{2}",
            "responseTemplates": {"application/json": SUBMIT_ACCEPTED_TEMPLATE},
        }
    }
    for code, response in api_errors.submit_error_responses().items():
        responses[code] = {"statusCode": code, **response}
    return {"type": "AWS", "integrationResponses": responses}


def answer(status: int, body: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The embedded gateway's own integration-response step (selection, VTL, overrides) on an SQS answer."""
    invocation = Invocation(
        api_id="api",
        stage=StageConfig("prod", "d1", {}, {}, None),
        deployment=Deployment("api", "d1", "123456789012", "us-east-1", (), {}, {}, {}, ()),
        request=Request(
            "POST", "/submit", [], [("Content-Type", "application/json")], b"{}", "127.0.0.1", "h"
        ),
        context={"requestId": "req-1", "responseOverride": {"header": {}, "status": None}},
        method={"methodIntegration": integration()},
    )
    got, raw, headers = render_response(invocation, EndpointResponse(status, body))
    return got, headers, json.loads(raw.decode("utf-8"))


def sqs_error(code: str, message: str = "queue arn:aws:sqs:us-east-1:123456789012:q is busy") -> str:
    # SQS's query-protocol error as JSON, as API Gateway receives it from an AWS integration.
    return json.dumps({"Error": {"Code": code, "Message": message, "Type": "Sender"}, "RequestId": "r"})


# Status codes from the SQS model's awsQueryError traits (aws-sdk-js-v3 clients/client-sqs schemas:
# RequestThrottled 403, KmsThrottled -> KMS.ThrottlingException 400) and SQS API Reference, Common
# Errors (ThrottlingException 400, ServiceUnavailable 503, InternalFailure 500).
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "RequestThrottled"),
        (400, "KMS.ThrottlingException"),
        (400, "ThrottlingException"),
        (400, "KmsThrottled"),
        (503, "ServiceUnavailable"),
        (500, "InternalFailure"),
    ],
)
def test_retryable_sqs_errors_answer_503_with_retry_after(status: int, code: str) -> None:
    got, headers, body = answer(status, sqs_error(code))
    assert got == 503
    assert headers["Retry-After"] == str(api_errors.RETRY_AFTER_SECONDS)
    assert body["requestId"] == "req-1" and "nothing was queued" in body["message"]
    assert "arn:" not in json.dumps(body) and code not in json.dumps(body)


# SQS API Reference, SendMessage errors and Common Errors: these do not succeed on a retry.
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "AWS.SimpleQueueService.NonExistentQueue"),
        (400, "KMS.DisabledException"),
        (400, "KMS.AccessDeniedException"),
        (403, "AccessDenied"),
        (403, "InvalidSecurity"),
        (400, "InvalidMessageContents"),
        (400, "InvalidParameterValue"),
    ],
)
def test_permanent_sqs_errors_answer_500_without_retry_after(status: int, code: str) -> None:
    got, headers, body = answer(status, sqs_error(code))
    assert got == 500 and "Retry-After" not in headers
    assert body == {"message": "The job could not be queued.", "requestId": "req-1"}


def test_an_error_without_a_code_is_500() -> None:
    got, headers, _ = answer(400, "{}")
    assert got == 500 and "Retry-After" not in headers


def test_accepted_is_unchanged() -> None:
    body = json.dumps({"SendMessageResponse": {"SendMessageResult": {"MessageId": "m-1"}}})
    got, headers, answer_body = answer(200, body)
    assert got == 202 and answer_body["status"] == "queued" and "Retry-After" not in headers


def test_the_list_covers_botocores_retryable_codes() -> None:
    # Kept true against botocore: every code its standard retry mode treats as throttling or transient.
    botocore_codes = set(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES) | set(
        standard.TransientRetryableChecker._TRANSIENT_ERROR_CODES
    )
    assert botocore_codes <= set(api_errors.RETRYABLE_SQS_ERROR_CODES)


def test_method_responses_declare_every_status_the_templates_answer() -> None:
    declared = api_errors.submit_error_method_responses()
    assert set(api_errors.submit_error_responses()) <= set(declared)
    assert "method.response.header.Retry-After" in declared["503"]
