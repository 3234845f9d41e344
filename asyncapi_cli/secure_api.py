"""Secure API defaults, as units and definitions stack.py adds with a few lines.

- Throttling: the stage's `*/*` method settings (settings.throttle_*; see names.py for the numbers).
- Access logs: JSON lines to /aws/apigateway/<name>-access, which `up` creates and `down` removes;
  the account's API Gateway CloudWatch role is set only when unset (resources/apigw_account.py).
- API keys (settings.auth == "api-key"): a key, a usage plan (throttle + daily quota) bound to the
  stage, and apiKeyRequired on every route (never on CORS preflights: browsers send no custom header).
- CORS (settings.cors_origins): an OPTIONS preflight per path (MOCK), Access-Control-Allow-Origin on
  /submit's answers, on API Gateway's own errors (DEFAULT_4XX/5XX) and on the status Lambda's answers.
- /submit's SQS errors: 503 + Retry-After for retryable ones, else 500 (api_errors.py).
- Dead-lettered jobs end `failed` (reason dead-lettered): main queue -> inbox -> recorder -> DLQ.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from . import api_errors
from .cors import cors_method_headers, cors_response, gateway_responses, preflight
from .engine import Context, Unit
from .features import batches, priorities, wiring
from .refs import Sub, ref
from .resources.api_key import ApiKey
from .resources.apigw_account import ApiGatewayAccountLogging
from .resources.function import Function
from .resources.gateway_responses import GatewayResponses
from .resources.log_group import LogGroup
from .resources.mapping import EventSourceMapping
from .resources.usage_plan import UsagePlan

DLQ_INBOX = "dlq_inbox"  # the unit key the main queue's redrive policy targets
RECORDER_TIMEOUT = 30
RECORDER_ATTEMPTS = 3  # receives the recorder gets before the inbox hands a message to the DLQ as is

# One JSON object per request (AWS docs "Set up CloudWatch logging for REST APIs": $context variables
# for access logging). No header or body is logged: an x-api-key never reaches the logs.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
        "errorType": "$context.error.responseType",
        "apiKeyId": "$context.identity.apiKeyId",
    },
    separators=(",", ":"),
)


def access_log_group(project: str) -> str:
    return f"/aws/apigateway/{project}-access"


def dlq_inbox_name(project: str) -> str:
    return f"{project}-dlq-inbox"


def recorder_name(project: str) -> str:
    return f"{project}-dl-recorder"


def recorder_role_name(project: str) -> str:
    return f"{project}-dl-recorder-role"


# --- the routes -----------------------------------------------------------------------------------


def secure_routes(ctx: Context, routes: dict[str, Any]) -> dict[str, Any]:
    """The routes with /submit's error answers, API keys and CORS applied (a new dict)."""
    settings = ctx.settings
    routes = copy.deepcopy(routes)
    methods: dict[str, Any] = routes["methods"]
    submit = methods.get("POST /submit")
    if submit is not None:
        errors = api_errors.submit_error_responses()
        if priorities.PRIORITY_PARAMETER in (submit.get("requestParameters") or {}):
            # With priorities, every answer of /submit first turns an invalid priority into a 400.
            for response in errors.values():
                templates = response["responseTemplates"]
                response["responseTemplates"] = {ct: priorities.guarded(t) for ct, t in templates.items()}
        submit["integrationResponses"].update(errors)
        submit["methodResponses"].update(api_errors.submit_error_method_responses())
    for method in methods.values():
        method["apiKeyRequired"] = settings.auth == "api-key"
    origins = settings.cors_origins
    if origins:
        for method in methods.values():
            for code in method["integrationResponses"]:
                method["integrationResponses"][code] = cors_response(
                    origins, method["integrationResponses"][code]
                )
                method["methodResponses"][code] = {
                    **method["methodResponses"].get(code, {}),
                    **cors_method_headers(origins),
                }
        verbs_by_path: dict[str, list[str]] = {}
        for key in methods:
            verb, _, path = key.partition(" ")
            verbs_by_path.setdefault(path, []).append(verb)
        for path, verbs in verbs_by_path.items():
            methods[f"OPTIONS {path}"] = preflight(origins, verbs)
    return routes


def status_environment(ctx: Context) -> dict[str, str]:
    """The status function's extra environment: the allowed origins (not a secret)."""
    origins = ctx.settings.cors_origins
    return {"ALLOWED_ORIGINS": ",".join(origins)} if origins else {}


# --- the stage ------------------------------------------------------------------------------------


def batch_throttle(rate: float, burst: int) -> dict[str, Any]:
    """POST /batches' own throttle: a request carries up to MAX_ITEMS jobs, so its rate is the stage's
    divided by MAX_ITEMS, and batch jobs cannot arrive faster than /submit's jobs may (a method's own
    setting replaces the stage's `*/*` for it: "Throttle requests to your REST APIs", method-level
    throttling; patched as /batches/POST/throttling/...: LocalStack's AWS-validated snapshot
    test_apigateway_common.snapshot.json, TestStages::test_create_update_stages, key "test/GET")."""
    return {
        "throttlingRateLimit": float(rate) / batches.MAX_ITEMS,
        "throttlingBurstLimit": max(1, int(burst) // batches.MAX_ITEMS),
    }


def stage_attributes(ctx: Context) -> dict[str, Any]:
    """Throttling and access logs for the stage unit."""
    settings = ctx.settings
    methods: dict[str, Any] = {
        "*/*": {
            "throttlingRateLimit": float(settings.throttle_rate_limit),
            "throttlingBurstLimit": int(settings.throttle_burst_limit),
        }
    }
    if "batches" in settings.features:
        methods[f"{batches.POST_PATH.strip('/')}/POST"] = batch_throttle(
            settings.throttle_rate_limit, settings.throttle_burst_limit
        )
    return {
        "methodSettings": methods,
        "accessLogSettings": {"destinationArn": ref("access_logs").arn, "format": ACCESS_LOG_FORMAT},
    }


def stage_description(ctx: Context) -> Sub:
    """The deployment's description, a digest of what it serves: a change redeploys. With CORS, the
    gateway responses' digest too (without, the description is what it always was)."""
    if not ctx.settings.cors_origins:
        return Sub.of("asyncapi routes {digest}", digest=ref("routes").fingerprint)
    return Sub.of(
        "asyncapi routes {digest} responses {responses}",
        digest=ref("routes").fingerprint,
        responses=ref("gateway_responses").fingerprint,
    )


# --- policies -------------------------------------------------------------------------------------


def _statement(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def status_result_statement(ctx: Context) -> dict[str, Any]:
    """The status role signs resultUrl: a presigned GET works only if the signer may GetObject."""
    return _statement(["s3:GetObject"], [f"arn:{ctx.partition}:s3:::{ctx.names.bucket}/results/*"])


def recorder_policy(ctx: Context) -> dict[str, Any]:
    """handlers/dead_letter_recorder.py calls UpdateItem on the table and SendMessage to the DLQ; its
    mapping polls the inbox; it writes its own log group. Nothing else."""
    group = ctx.names.log_group(recorder_name(ctx.names.project))
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement(["dynamodb:UpdateItem"], [ctx.arn("dynamodb", f"table/{ctx.names.table}")]),
            _statement(["sqs:SendMessage"], [ctx.arn("sqs", ctx.names.dlq)]),
            _statement(
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                [ctx.arn("sqs", dlq_inbox_name(ctx.names.project))],
            ),
            _statement(
                ["logs:CreateLogStream", "logs:PutLogEvents"], [ctx.arn("logs", f"log-group:{group}:*")]
            ),
            # Webhooks on: the dead-lettered job's one delivery goes to the webhooks queue.
            *wiring.recorder_statements(ctx),
        ],
    }


# --- units ----------------------------------------------------------------------------------------


def secure_units(ctx: Context, *, queue: Any, role: Any, code: str) -> list[Unit]:
    """The units the secure defaults add. `queue` and `role` are stack.py's builders (same shape as
    its own queues and roles), `code` the bundle the recorder runs."""
    names, settings = ctx.names, ctx.settings
    project = names.project
    units: list[Unit] = [
        LogGroup(
            key="access_logs",
            name=access_log_group(project),
            attributes={"retentionInDays": settings.log_retention_days},
        ),
        ApiGatewayAccountLogging(key="apigw_account", name="API Gateway account CloudWatch role"),
        # --- dead-lettered jobs end failed ---
        queue(
            DLQ_INBOX,
            dlq_inbox_name(project),
            6 * RECORDER_TIMEOUT,
            # A dead-lettered message may keep its receive count (moto's SQS does; AWS documents no
            # reset), so the inbox allows the main queue's receives plus RECORDER_ATTEMPTS of its own:
            # otherwise its first receive would pass it straight on, unrecorded.
            RedrivePolicy=_redrive(ref("dlq").arn, settings.max_receive_count + RECORDER_ATTEMPTS),
        ),
        role("recorder_role", recorder_role_name(project), "lambda.amazonaws.com", recorder_policy(ctx)),
        LogGroup(
            key="recorder_logs",
            name=names.log_group(recorder_name(project)),
            attributes={"retentionInDays": settings.log_retention_days},
        ),
        Function(
            key="recorder_fn",
            name=recorder_name(project),
            code=code,
            attributes={
                "Runtime": settings.runtime,
                "Handler": "dead_letter_recorder.lambda_handler",
                "MemorySize": 128,
                "Timeout": RECORDER_TIMEOUT,
                "Role": ref("recorder_role").arn,
                "Environment": {
                    "Variables": {
                        "JOBS_TABLE_NAME": ref("table").name,
                        "DEAD_LETTER_QUEUE_URL": ref("dlq").url,
                        **wiring.processor_environment(ctx),  # WEBHOOK_QUEUE_URL when webhooks are on
                    }
                },
            },
            after=("recorder_logs",),
        ),
        EventSourceMapping(
            key="recorder_mapping",
            name=f"{dlq_inbox_name(project)} -> {recorder_name(project)}",
            attributes={
                "EventSourceArn": ref(DLQ_INBOX).arn,
                "FunctionName": ref("recorder_fn").name,
                "BatchSize": 10,
                "MaximumBatchingWindowInSeconds": 0,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        ),
    ]
    if settings.cors_origins:
        units.append(
            GatewayResponses(
                key="gateway_responses",
                name=f"{names.api}: gateway responses",
                attributes={
                    "restApiId": ref("rest_api").id,
                    "responses": gateway_responses(settings.cors_origins),
                },
            )
        )
    if settings.auth == "api-key":
        units.append(
            ApiKey(
                key="api_key",
                name=f"{project}-key",
                attributes={"description": f"asyncapi stack {project}", "enabled": True},
            )
        )
        units.append(
            UsagePlan(
                key="usage_plan",
                name=f"{project}-plan",
                attributes={
                    "apiStages": [{"apiId": ref("rest_api").id, "stage": settings.stage}],
                    "throttle": {
                        "rateLimit": float(settings.throttle_rate_limit),
                        "burstLimit": int(settings.throttle_burst_limit),
                    },
                    "quota": {"limit": int(settings.api_key_quota_per_day), "period": "DAY"},
                    "keyId": ref("api_key").id,
                },
                after=("stage",),  # a plan can only name a deployed stage
            )
        )
    return units


def _redrive(target_arn: Any, max_receive_count: int) -> Any:
    from .refs import Json

    return Json({"deadLetterTargetArn": target_arn, "maxReceiveCount": max_receive_count})


def stack_api_key(stack: Any) -> str | None:
    """The stack's API key value (GetApiKey includeValue=True), or None when the stack has none."""
    record = stack.state.resources.get("api_key") or {}
    if not record.get("id"):
        return None
    from .resources.api_key import read_key_value

    return read_key_value(stack.clients("apigateway"), str(record["id"]))


def flag_overrides(
    auth: str | None, cors_origins: tuple[str, ...], throttle_rate: float | None, throttle_burst: int | None
) -> dict[str, Any]:
    """`up`'s flags as StackSettings overrides, validated as asyncapi.toml's [api] values are."""
    from .config import SCHEMA, Invalid
    from .errors import InputError

    if tuple(cors_origins) == ("none",):  # --cors-origin none: CORS off (no browser origin allowed)
        cors_origins = ()
        overrides_off: dict[str, Any] = {"cors_origins": ()}
    else:
        overrides_off = {}
    given = {
        "auth": auth,
        "cors_origins": list(cors_origins) if cors_origins else None,
        "throttle_rate": throttle_rate,
        "throttle_burst": throttle_burst,
    }
    overrides: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        key = SCHEMA["api"][name]
        try:
            overrides[key.setting] = key.parse(value)
        except Invalid as exc:
            flag = "--cors-origin" if name == "cors_origins" else "--" + name.replace("_", "-")
            raise InputError(f"{flag}: {exc}") from None
    return overrides | overrides_off


def account_logging_note(outcomes: list[Any]) -> str | None:
    """What `up` says when it set API Gateway's account-wide CloudWatch role (it was unset)."""
    from .resources.apigw_account import ROLE_NAME

    if any(o.key == "apigw_account" and o.action == "created" for o in outcomes):
        return (
            f"note: API Gateway had no CloudWatch role in this account and region (needed for access logs); "
            f"up created {ROLE_NAME} and set it as the account's cloudwatchRoleArn. It is account-wide: "
            "down leaves it in place."
        )
    return None
