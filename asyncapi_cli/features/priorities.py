"""Job priorities: `POST /submit?priority=high|normal` and what serves high-priority jobs.

Resources: `<name>-high-queue` (redrive to `<name>-high-dlq` as the main queue does) and
`<name>-high-processor` (the processor's code, handler and environment) with reserved concurrency,
fed by its own SQS mapping, so high-priority jobs never wait behind normal ones.

How one integration reaches two queues: the integration URI is the SQS endpoint's root
(`arn:<partition>:apigateway:<region>:sqs:path//`) and the form body names the queue with the Query
API's `QueueUrl` parameter, chosen in the request template from a FIXED pair of URLs written into the
template at deploy time; no client text ever becomes part of a queue URL. The API role may send to
those two queues only. (Query-protocol requests carry QueueUrl as a form parameter posted to the
service root: botocore's sqs model before the JSON protocol, "protocol": "query"; the same path//
form is used in Terraform and CloudFormation examples of API Gateway -> SQS with QueueUrl, e.g.
https://blog.junderhill.com/api-gateway-map-path-to-sqs. The embedded moto endpoint accepts it.)

An invalid priority cannot stop the integration call (REST API request validators only check that
parameters are present, not their values), so for one the request template sends no message at all
(an unknown SQS action, refused by SQS with no side effect) and every integration response template
starts with the same check of `$input.params()` and answers 400 through
`$context.responseOverride.status`. `$input.params()` in an integration response template is the
METHOD request's parameters: LocalStack's AWS-validated test
tests/aws/services/apigateway/test_apigateway_basic.py::TestIntegrations::test_mock_integration_response
renders `$input.params().path.id` in a response template (snapshot "mock-response": {"id": 42}).
Overrides: AWS docs, "Override your API's request and response parameters and status codes".
"""

from __future__ import annotations

from typing import Any

from . import URL_SAFE_REQUEST_ID_VTL, FeatureTarget, log_statement, queue_attributes, statement

PRIORITIES = ("high", "normal")
DEFAULT_PRIORITY = "normal"
HIGH_RESERVED_CONCURRENCY = 5  # always available to high-priority jobs; the rest stays account-wide
# The high queue's mapping invokes at most this many at once. A mapping ignores the function's reserved
# concurrency and scales its pollers up; invocations beyond the reservation are throttled, and a
# throttled receive still counts towards the queue's maxReceiveCount, so a burst would dead-letter
# high-priority jobs (Lambda developer guide, "Configuring maximum concurrency for Amazon SQS event
# sources": set it no higher than the reserved concurrency). 2 is the least the API accepts
# (ScalingConfig.MaximumConcurrency: 2 to 1000).
HIGH_MAX_CONCURRENCY = max(2, HIGH_RESERVED_CONCURRENCY)
INVALID_PRIORITY_MESSAGE = "Invalid priority: use priority=high or priority=normal (the default)."
PRIORITY_PARAMETER = "method.request.querystring.priority"

# The one value both the request and the response templates act on: the query string's `priority`
# only (not a header or path parameter of that name, which $input.params('priority') would also find).
# An absent and an empty value both mean the default.
_PRIORITY_VTL = (
    "#set($priority = \"$!input.params().querystring.get('priority')\")##\n"
    '#if($priority == "")#set($priority = "normal")#end##\n'
)
_JOB_ID_VTL = f"#set($jobId = {URL_SAFE_REQUEST_ID_VTL})##\n"
_VALID = '($priority == "high" || $priority == "normal")'


def high_queue_name(target: FeatureTarget) -> str:
    return f"{target.project}-high-queue"


def high_dlq_name(target: FeatureTarget) -> str:
    return f"{target.project}-high-dlq"


def high_processor_name(target: FeatureTarget) -> str:
    return f"{target.project}-high-processor"


def queues(
    target: FeatureTarget,
    *,
    visibility_timeout: int,
    max_receive_count: int,
    dlq_visibility_timeout: int = 300,
) -> list[dict[str, Any]]:
    """The high-priority queue and its DLQ, with the main queue's settings (pass the stack's)."""
    return [
        {
            "key": "high_dlq",
            "name": high_dlq_name(target),
            "attributes": queue_attributes(visibility_timeout=dlq_visibility_timeout),
        },
        {
            "key": "high_queue",
            "name": high_queue_name(target),
            "attributes": queue_attributes(
                visibility_timeout=visibility_timeout,
                dlq_arn=target.queue_arn(high_dlq_name(target)),
                max_receive_count=max_receive_count,
            ),
        },
    ]


def high_processor_function(
    target: FeatureTarget, *, memory: int, timeout: int, environment: dict[str, str]
) -> dict[str, Any]:
    """Same code, handler, role and environment as the processor; reserved concurrency of its own."""
    return {
        "key": "high_processor_fn",
        "name": high_processor_name(target),
        "handler": "job_processor.lambda_handler",
        "memory": memory,
        "timeout": timeout,
        "role": target.names.processor_role,
        "environment": dict(environment),
        "reserved_concurrency": HIGH_RESERVED_CONCURRENCY,
    }


def event_source_mapping(target: FeatureTarget, *, batch_size: int, batching_window: int) -> dict[str, Any]:
    return {
        "key": "high_mapping",
        "function": high_processor_name(target),
        "queue": high_queue_name(target),
        "BatchSize": batch_size,
        "MaximumBatchingWindowInSeconds": batching_window,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }


def processor_statements(target: FeatureTarget) -> list[dict[str, Any]]:
    """Added to the processor's role (shared by the high processor): poll the high queue, write the
    high processor's own log group (`/aws/lambda/<name>-high-processor`, created by `up`)."""
    return [
        statement(
            # ChangeMessageVisibility: the processor's retry backoff (handlers/job_processor.py).
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            [target.queue_arn(high_queue_name(target))],
        ),
        log_statement(target, high_processor_name(target)),
    ]


def api_role_statements(target: FeatureTarget) -> list[dict[str, Any]]:
    """The API role may send to exactly the two queues the template can name."""
    return [
        statement(
            ["sqs:SendMessage"],
            [target.queue_arn(target.names.main_queue), target.queue_arn(high_queue_name(target))],
        )
    ]


def submit_request_template(*, main_queue_url: str, high_queue_url: str) -> str:
    for url in (main_queue_url, high_queue_url):
        if any(char in url for char in "\"'$#\\") or not url.startswith(("https://", "http://")):
            raise ValueError(f"not a queue URL: {url!r}")
    return (
        _JOB_ID_VTL + _PRIORITY_VTL + f'#if($priority == "high")#set($queueUrl = "{high_queue_url}")'
        f'#else#set($queueUrl = "{main_queue_url}")#end##\n'
        f"#if{_VALID}##\n"
        "Action=SendMessage"
        "&QueueUrl=$util.urlEncode($queueUrl)"
        "&MessageBody=$util.urlEncode($input.body)"
        "&MessageAttribute.1.Name=jobId"
        "&MessageAttribute.1.Value.DataType=String"
        "&MessageAttribute.1.Value.StringValue=$util.urlEncode($jobId)"
        "&MessageAttribute.2.Name=submittedAt"
        "&MessageAttribute.2.Value.DataType=Number"
        "&MessageAttribute.2.Value.StringValue=$context.requestTimeEpoch"
        "&MessageAttribute.3.Name=priority"
        "&MessageAttribute.3.Value.DataType=String"
        "&MessageAttribute.3.Value.StringValue=$priority##\n"
        "#else##\n"
        # Nothing is sent for an invalid priority: SQS refuses an unknown action without side effect.
        "Action=RefusedInvalidPriority##\n"
        "#end"
    )


def guarded(template: str) -> str:
    """Every answer of /submit first turns an invalid priority into a 400 (whatever SQS said)."""
    return (
        _PRIORITY_VTL + f"#if(!{_VALID})##\n"
        "#set($context.responseOverride.status = 400)##\n"
        f'{{"message": "{INVALID_PRIORITY_MESSAGE}"}}##\n'
        "#else##\n" + template + "##\n#end"
    )


SUBMIT_ACCEPTED_TEMPLATE = guarded(
    _JOB_ID_VTL + '#set($context.responseOverride.header.Location = "status/$jobId")##\n'
    '{"jobId": "$jobId", "status": "queued", "priority": "$priority", "statusUrl": "status/$jobId"}'
)
SUBMIT_UNAVAILABLE_TEMPLATE = guarded(
    '{"message": "The job queue is unavailable; nothing was queued. Retry later.", '
    '"requestId": "$context.requestId"}'
)
SUBMIT_FAILED_TEMPLATE = guarded(
    '{"message": "The job could not be queued.", "requestId": "$context.requestId"}'
)


def submit_method(
    target: FeatureTarget,
    *,
    main_queue_url: str,
    high_queue_url: str,
    api_role_arn: str,
    validator: str,
    model: str,
) -> dict[str, Any]:
    """POST /submit with priorities, in routes.py's normalized method shape (desired_methods)."""
    return {
        "authorizationType": "NONE",
        "requestValidator": validator,
        "requestModels": {"application/json": model},
        # Declared (optional) so it is part of the method request; its VALUE is checked by the templates.
        "requestParameters": {PRIORITY_PARAMETER: False},
        "integration": {
            "type": "AWS",
            "httpMethod": "POST",
            "uri": target.sqs_integration_uri("/"),  # the service root: the queue is the QueueUrl parameter
            "credentials": api_role_arn,
            "requestParameters": {
                "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
            },
            "requestTemplates": {
                "application/json": submit_request_template(
                    main_queue_url=main_queue_url, high_queue_url=high_queue_url
                )
            },
            "passthroughBehavior": "NEVER",
        },
        "methodResponses": {
            "202": {"method.response.header.Location": False},
            "400": {},
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
            "500": {
                "selectionPattern": None,
                "responseTemplates": {"application/json": SUBMIT_FAILED_TEMPLATE},
            },
        },
    }
