"""POST /submit: how SQS's answers become the API's answers, as data the API definition includes.

API Gateway picks an AWS integration's response by matching `selectionPattern` against the HTTP
status code of the service's answer ("For all other HTTP and AWS back ends, the HTTP status code is
matched": API Gateway REST API Reference, IntegrationResponse.selectionPattern). SQS answers its
retryable errors with 4xx codes, the same codes as its permanent ones: throttling is
`RequestThrottled` 403 and `KMS.ThrottlingException` 400 (the awsQueryError codes of the SQS model:
`KmsThrottled`, `RequestThrottled` in aws-sdk-js-v3 clients/client-sqs schemas; SQS API Reference,
SendMessage "Errors"). So the status code cannot tell them apart; the error code can. The default
(4xx and anything else) response's template reads `$input.path('$.Error.Code')` and, for a retryable
code, overrides the status to 503 with `$context.responseOverride.status` (API Gateway Developer
Guide, "Override your API's request and response parameters and status codes"). API Gateway asks the
query-protocol service for JSON, so an SQS error reaches the template as
`{"Error": {"Code", "Message", "Type"}, "RequestId"}`.

Retry-After is set with `$context.responseOverride.header.put("Retry-After", …)`. The documented
spelling `#set($context.responseOverride.header.Retry-After = …)` relies on Velocity 1.7 accepting a
hyphen inside an identifier; airspeed (the embedded gateway's and LocalStack's Velocity) does not,
and would refuse the whole template. `header` is a Java Map in API Gateway's Velocity context and a
dict in airspeed: `put` works in both. The `#set($ignored = …)` keeps put's return value out of the body.

No template copies SQS's message: it can name the queue's ARN (account id). Clients get a request id.
"""

from __future__ import annotations

from typing import Any

RETRY_AFTER_SECONDS = 1

# SQS error codes (query protocol, as API Gateway receives them) after which the same request can
# succeed later. From the SQS model's awsQueryError codes (RequestThrottled 403,
# KMS.ThrottlingException 400), SQS API Reference "Common Errors" (ThrottlingException 400,
# ServiceUnavailable 503, InternalFailure 500) and botocore's standard retry mode
# (botocore/retries/standard.py: ThrottledRetryableChecker._THROTTLED_ERROR_CODES and
# TransientRetryableChecker._TRANSIENT_ERROR_CODES, which a test keeps this list a superset of).
# The JSON-protocol shape names (KmsThrottled) are listed too: a service may report either spelling.
RETRYABLE_SQS_ERROR_CODES: tuple[str, ...] = (
    "RequestThrottled",
    "KMS.ThrottlingException",
    "KmsThrottled",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "AWS.SimpleQueueService.InternalError",
)

_SET_RETRY_AFTER = (
    f'#set($ignored = $context.responseOverride.header.put("Retry-After", "{RETRY_AFTER_SECONDS}"))'
)
_UNAVAILABLE_BODY = (
    '{"message": "The job queue is unavailable; nothing was queued. Retry later.", '
    '"requestId": "$context.requestId"}'
)
_BUSY_BODY = (
    '{"message": "The job queue is busy; nothing was queued. Retry later.", '
    '"requestId": "$context.requestId"}'
)
_FAILED_BODY = '{"message": "The job could not be queued.", "requestId": "$context.requestId"}'


def _velocity_list(values: tuple[str, ...]) -> str:
    # Codes are fixed identifiers (letters, digits, dots): nothing to escape inside the quotes.
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


# SQS answered 5xx: the queue is unavailable right now.
SUBMIT_UNAVAILABLE_TEMPLATE = f"{_SET_RETRY_AFTER}\n{_UNAVAILABLE_BODY}"

# Everything else that is not 2xx: a retryable error code becomes 503 + Retry-After, the rest 500.
SUBMIT_REJECTED_TEMPLATE = (
    f"#set($retryable = {_velocity_list(RETRYABLE_SQS_ERROR_CODES)})\n"
    "#set($code = \"$!input.path('$.Error.Code')\")\n"
    "#if($retryable.contains($code))\n"
    "#set($context.responseOverride.status = 503)\n"
    f"{_SET_RETRY_AFTER}\n"
    f"{_BUSY_BODY}\n"
    "#else\n"
    f"{_FAILED_BODY}\n"
    "#end"
)


def submit_error_responses() -> dict[str, dict[str, Any]]:
    """The /submit integration responses besides the 2xx one, in the shape routes.py deploys.

    Status code -> selectionPattern (None: the default response) and response templates.
    """
    return {
        "503": {
            "selectionPattern": r"5\d{2}",
            "responseTemplates": {"application/json": SUBMIT_UNAVAILABLE_TEMPLATE},
        },
        # The default response catches every other answer, 4xx included: never "queued".
        "500": {
            "selectionPattern": None,
            "responseTemplates": {"application/json": SUBMIT_REJECTED_TEMPLATE},
        },
    }


def submit_error_method_responses() -> dict[str, dict[str, bool]]:
    """Method responses the error answers need (Retry-After is declared on the 503)."""
    return {"500": {}, "503": {"method.response.header.Retry-After": False}}
