"""The features as units of the stack: what each adds, and what it changes in the base units.

stack.py asks this module, per feature in `ctx.settings.features`, for extra policy statements,
environment and routes of the base units, and for the feature's own units (one function per
feature). `include_disabled` builds every feature's units, so that `up` can delete those of a feature
turned off and `down` those of any feature the state records.
"""

from __future__ import annotations

from typing import Any

from ..api_definition import JOB_SCHEMA, MODEL_NAME, SUBMIT_PATH, VALIDATOR_NAME
from ..engine import Context, Unit
from ..refs import Json, Sub, ref
from ..resources.function import Function
from ..resources.log_group import LogGroup
from ..resources.mapping import EventSourceMapping
from ..resources.permission import InvokePermission
from ..resources.queue import Queue
from ..resources.role import Role
from ..resources.secret import Secret
from . import FEATURES, FeatureTarget, batches, policy, priorities, webhooks

BATCHES_INVOKE_STATEMENT_ID = "asyncapi-apigateway-invoke-batches"
CALLBACK_MODEL_SUFFIX = "WithCallback"  # the job models with webhooks' callbackUrl property
APP_BUNDLE = "app"
# Stand-ins for the queue URLs while the /submit template is checked and built; the real URLs
# (known after the queues exist) take their place through a Sub.
_MAIN_URL, _HIGH_URL = "https://asyncapi.invalid/main-queue", "https://asyncapi.invalid/high-queue"


def target(ctx: Context) -> FeatureTarget:
    return FeatureTarget.of(ctx)


def enabled(ctx: Context) -> frozenset[str]:
    return frozenset(ctx.settings.features) & frozenset(FEATURES)


# --- What the features change in the base units ---------------------------------------------------


def processor_statements(ctx: Context) -> list[dict[str, Any]]:
    on, where = enabled(ctx), target(ctx)
    statements: list[dict[str, Any]] = []
    if "webhooks" in on:
        statements += webhooks.processor_statements(where)
    if "priorities" in on:
        statements += priorities.processor_statements(where)
    if "batches" in on:
        statements += batches.processor_statements(where)
    return statements


def recorder_statements(ctx: Context) -> list[dict[str, Any]]:
    """The dead-letter recorder's: enqueue a dead-lettered job's webhook delivery."""
    return webhooks.processor_statements(target(ctx)) if "webhooks" in enabled(ctx) else []


def processor_environment(ctx: Context) -> dict[str, Any]:
    """Both processors: where to enqueue webhook deliveries once a job is final."""
    if "webhooks" not in enabled(ctx):
        return {}
    return webhooks.processor_environment(ref("webhooks_queue").url)  # type: ignore[arg-type]


def status_statements(ctx: Context) -> list[dict[str, Any]]:
    return batches.status_statements(target(ctx)) if "batches" in enabled(ctx) else []


def api_role_statements(ctx: Context) -> list[dict[str, Any]] | None:
    """The API role's statements when priorities replace them (None: the base stack's)."""
    return priorities.api_role_statements(target(ctx)) if "priorities" in enabled(ctx) else None


def _sub_urls(template: str) -> Sub:
    """The template with the queue URL stand-ins replaced by references to the queues' URLs."""
    escaped = template.replace("{", "{{").replace("}", "}}")
    escaped = escaped.replace(_MAIN_URL, "{main}").replace(_HIGH_URL, "{high}")
    return Sub.of(escaped, main=ref("main_queue").url, high=ref("high_queue").url)


def routes(ctx: Context, definition: dict[str, Any], status_uri: Any) -> dict[str, Any]:
    """The API definition with the features' models and methods (the stage's fingerprint covers them).

    A model whose schema a feature changes gets a name of its own ("...WithCallback") rather than an
    UpdateModel: switching the feature then replaces the method's model and removes the old one,
    which every API Gateway implementation supports (moto has no UpdateModel).
    """
    on, where = enabled(ctx), target(ctx)
    models = dict(definition["models"])
    methods = {key: dict(method) for key, method in definition["methods"].items()}
    submit_key = f"POST {SUBMIT_PATH}"
    job_model, job_schema, suffix = MODEL_NAME, JOB_SCHEMA, ""
    if "webhooks" in on:
        suffix = CALLBACK_MODEL_SUFFIX
        job_model, job_schema = MODEL_NAME + suffix, webhooks.job_schema(JOB_SCHEMA, local=ctx.local)
        del models[MODEL_NAME]
        models[job_model] = {"contentType": "application/json", "schema": job_schema}
        methods[submit_key]["requestModels"] = {"application/json": job_model}
    if "priorities" in on:
        submit = priorities.submit_method(
            where,
            main_queue_url=_MAIN_URL,
            high_queue_url=_HIGH_URL,
            api_role_arn=ref("api_role").arn,  # type: ignore[arg-type]
            validator=VALIDATOR_NAME,
            model=job_model,
        )
        templates = submit["integration"]["requestTemplates"]
        submit["integration"]["requestTemplates"] = {k: _sub_urls(v) for k, v in templates.items()}
        methods[submit_key] = submit
    if "batches" in on:
        batch_model = batches.MODEL_NAME + suffix
        models[batch_model] = {"contentType": "application/json", "schema": batches.batch_schema(job_schema)}
        post = batches.post_method(
            where,
            api_role_arn=ref("api_role").arn,  # type: ignore[arg-type]
            validator=VALIDATOR_NAME,
            model=batch_model,
        )
        get = batches.get_method(where, status_function_arn="")
        get["integration"]["uri"] = status_uri  # a reference, so the routes depend on the function
        methods[f"POST {batches.POST_PATH}"] = post
        methods[f"GET {batches.GET_PATH}"] = get
    return {**definition, "models": models, "methods": methods}


def stage_after(ctx: Context) -> tuple[str, ...]:
    """The stage deploys once API Gateway may invoke every Lambda route."""
    return ("batches_permission",) if "batches" in enabled(ctx) else ()


# --- Each feature's own units ---------------------------------------------------------------------


def _queue_units(specs: list[dict[str, Any]], redrive_to: str, max_receive_count: int) -> list[Unit]:
    """The feature's DLQ and queue; the redrive policy refers to the DLQ so the order is derived."""
    dlq, main = specs
    attributes = dict(main["attributes"])
    attributes["RedrivePolicy"] = Json(
        {"deadLetterTargetArn": ref(redrive_to).arn, "maxReceiveCount": max_receive_count}
    )
    return [
        Queue(key=dlq["key"], name=dlq["name"], attributes=dict(dlq["attributes"])),
        Queue(key=main["key"], name=main["name"], attributes=attributes),
    ]


def _log_group(ctx: Context, key: str, function_name: str) -> LogGroup:
    return LogGroup(
        key=key,
        name=ctx.names.log_group(function_name),
        attributes={"retentionInDays": ctx.settings.log_retention_days},
    )


def webhook_units(ctx: Context) -> list[Unit]:
    """Queue + DLQ, the signing secret, the notifier (role, log group, function) and its mapping."""
    where = target(ctx)
    name = webhooks.function_name(where)
    environment = webhooks.notifier_environment(
        where,
        queue_url=ref("webhooks_queue").url,  # type: ignore[arg-type]
        secret_arn=ref("webhook_secret").arn,  # type: ignore[arg-type]
        local=ctx.local,
    )
    environment["JOBS_TABLE_NAME"] = ref("table").name
    notifier_policy = webhooks.notifier_policy(where)
    for statement in notifier_policy["Statement"]:
        if "secretsmanager:GetSecretValue" in statement["Action"]:
            # The secret's exact ARN (known once it exists) rather than the "-??????" pattern: tighter,
            # and moto's IAM evaluator (enforced on the embedded AWS) cannot compile "??????".
            statement["Resource"] = [ref("webhook_secret").arn]
    environment["RESULTS_BUCKET_NAME"] = ref("bucket").name
    return [
        *_queue_units(webhooks.queues(where), "webhooks_dlq", webhooks.MAX_ATTEMPTS),
        Secret(
            key="webhook_secret",
            name=webhooks.secret_name(where),
            attributes={"Description": f"asyncapi {where.project}: webhook signing secret (HMAC-SHA256)"},
            generate=webhooks.generate_secret,
        ),
        Role(
            key="webhook_role",
            name=webhooks.role_name(where),
            attributes={
                "AssumeRolePolicyDocument": _trust("lambda.amazonaws.com"),
                "Description": f"asyncapi stack {where.project}",
                "Policies": {"asyncapi-least-privilege": notifier_policy},
            },
        ),
        _log_group(ctx, "webhook_logs", name),
        Function(
            key="webhook_fn",
            name=name,
            code=APP_BUNDLE,
            attributes={
                "Runtime": ctx.settings.runtime,
                "Handler": "webhook_notifier.lambda_handler",
                "MemorySize": webhooks.NOTIFIER_MEMORY,
                "Timeout": webhooks.NOTIFIER_TIMEOUT,
                "Role": ref("webhook_role").arn,
                "Environment": {"Variables": environment},
            },
            after=("webhook_logs", "webhook_secret"),
        ),
        EventSourceMapping(
            key="webhook_mapping",
            name=f"{webhooks.queue_name(where)} -> {name}",
            attributes={
                "EventSourceArn": ref("webhooks_queue").arn,
                "FunctionName": ref("webhook_fn").name,
                "BatchSize": webhooks.BATCH_SIZE,
                "MaximumBatchingWindowInSeconds": 0,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        ),
    ]


def priority_units(ctx: Context, processor_attributes: dict[str, Any]) -> list[Unit]:
    """The high-priority queue + DLQ and a processor of its own with reserved concurrency."""
    where, settings = target(ctx), ctx.settings
    name = priorities.high_processor_name(where)
    specs = priorities.queues(
        where,
        visibility_timeout=settings.main_visibility_timeout,
        max_receive_count=settings.max_receive_count,
        dlq_visibility_timeout=settings.dlq_visibility_timeout,
    )
    attributes = dict(processor_attributes)
    attributes["ReservedConcurrentExecutions"] = priorities.HIGH_RESERVED_CONCURRENCY
    return [
        *_queue_units(specs, "high_dlq", settings.max_receive_count),
        _log_group(ctx, "high_logs", name),
        Function(
            key="high_processor_fn", name=name, code=APP_BUNDLE, attributes=attributes, after=("high_logs",)
        ),
        EventSourceMapping(
            key="high_mapping",
            name=f"{priorities.high_queue_name(where)} -> {name}",
            attributes={
                "EventSourceArn": ref("high_queue").arn,
                "FunctionName": ref("high_processor_fn").name,
                "BatchSize": settings.batch_size,
                "MaximumBatchingWindowInSeconds": settings.batching_window,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": priorities.HIGH_MAX_CONCURRENCY},
            },
        ),
    ]


def batch_units(ctx: Context) -> list[Unit]:
    """GET /batches/{batchId} runs on the status checker: a second invoke permission for it."""
    return [
        InvokePermission(
            key="batches_permission",
            name=f"{ctx.names.status_checker}/{BATCHES_INVOKE_STATEMENT_ID}",
            attributes={
                "FunctionName": ref("status_fn").name,
                "StatementId": BATCHES_INVOKE_STATEMENT_ID,
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": Sub.of(
                    "arn:{partition}:execute-api:{region}:{account}:{api}/*/GET/batches/*",
                    partition=ctx.partition,
                    region=ctx.region,
                    account=ctx.account,
                    api=ref("rest_api").id,
                ),
                "SourceAccount": ctx.account,
            },
        )
    ]


def feature_units(
    ctx: Context, processor_attributes: dict[str, Any], *, include_disabled: bool = False
) -> list[Unit]:
    on = frozenset(FEATURES) if include_disabled else enabled(ctx)
    units: list[Unit] = []
    if "webhooks" in on:
        units += webhook_units(ctx)
    if "priorities" in on:
        units += priority_units(ctx, processor_attributes)
    if "batches" in on:
        units += batch_units(ctx)
    return units


def _trust(service: str) -> dict[str, Any]:
    return policy({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})
