"""The stack's alarms, their SNS topic and subscriptions, and its CloudWatch dashboard, as units.

Every alarm reads a metric AWS publishes by itself (AWS/SQS, AWS/Lambda, AWS/ApiGateway) at 1-minute
periods, and notifies the stack's topic on ALARM and on OK. Settings come from `[alarms]` in
asyncapi.toml (config.py); the defaults follow the recipe's: 3 receives before the DLQ, a processor
timeout of 300 s, a 14-day retention.

Missing data. AWS's alarm recommendations ("Best practice alarm recommendations for AWS services",
CloudWatch user guide, and "Configuring how CloudWatch alarms treat missing data") distinguish metrics
that are absent because nothing happened: SQS publishes a queue's metrics only while it is active (up
to six hours after its last message or call, SQS developer guide, "Available CloudWatch metrics for
Amazon SQS"), Lambda's Errors and Throttles only when the function is invoked, API Gateway's 5XXError
only when a request arrives. For each of these, no data means no breach: every alarm here treats
missing data as notBreaching, so a quiet stack is OK rather than INSUFFICIENT_DATA.

Encryption. The topic carries only alarm state changes (names, thresholds, reasons), never job data.
CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (its key policy cannot
grant CloudWatch), and a customer managed key costs $1 a month per stack: the topic is left without
SSE, and its policy lets only this stack's alarms in this account publish (aws:SourceAccount,
aws:SourceArn: the confused-deputy guard the CloudWatch user guide documents for alarm actions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import cloudwatch_dashboard
from .engine import Context, Unit
from .errors import InputError
from .notify_endpoints import digest_only, endpoint_digest, recorded_form
from .refs import Json, ref
from .resources.dashboard import Dashboard
from .resources.metric_alarm import MetricAlarm
from .resources.sns_subscription import SnsSubscription
from .resources.sns_topic import SnsTopic

TOPIC_KEY = "alarm_topic"
DASHBOARD_KEY = "dashboard"
SUBSCRIPTION_PREFIX = "alarm_notify_"
PERIOD = 60  # seconds: the SQS, Lambda and API Gateway metrics' own resolution
TREAT_MISSING = "notBreaching"  # see the module's docstring
FEATURES_WITH_ALARMS = frozenset({"webhooks", "priorities"})  # their queues have alarms of their own


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm of the recipe: what it watches and when it fires (M of N periods of PERIOD seconds)."""

    key: str
    suffix: str  # the alarm's name is "<stack>-<suffix>"
    description: str
    namespace: str
    metric: str
    dimensions: dict[str, Any]
    statistic: str
    threshold: float
    comparison: str
    evaluation_periods: int = 1
    datapoints: int = 1


def topic_name(project: str) -> str:
    return f"{project}-alarms"


def dashboard_name(project: str) -> str:
    return f"{project}-dashboard"


def alarm_name(project: str, spec: AlarmSpec) -> str:
    return f"{project}-{spec.suffix}"


def oldest_message_threshold(ctx: Context) -> int:
    """Seconds. By default the longest a job can legitimately wait in the queue: every allowed attempt
    running to the processor's timeout (failed attempts come back at the processor's short backoff)."""
    settings = ctx.settings
    if settings.alarm_oldest_message_seconds is not None:
        return settings.alarm_oldest_message_seconds
    return settings.processor_timeout * settings.max_receive_count


def _dlq_alarm(ctx: Context, key: str, suffix: str, queue_key: str, what: str) -> AlarmSpec:
    return AlarmSpec(
        key=key,
        suffix=suffix,
        description=f"asyncapi {ctx.names.project}: {what} holds messages (jobs that failed every receive)",
        namespace="AWS/SQS",
        metric="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": ref(queue_key).name},
        statistic="Maximum",
        threshold=ctx.settings.alarm_dlq_messages,
        comparison="GreaterThanOrEqualToThreshold",
    )


def _age_alarm(ctx: Context, key: str, suffix: str, queue_key: str, what: str) -> AlarmSpec:
    seconds = oldest_message_threshold(ctx)
    return AlarmSpec(
        key=key,
        suffix=suffix,
        description=f"asyncapi {ctx.names.project}: the oldest message in {what} is {seconds} s old or more",
        namespace="AWS/SQS",
        metric="ApproximateAgeOfOldestMessage",
        dimensions={"QueueName": ref(queue_key).name},
        statistic="Maximum",
        threshold=seconds,
        comparison="GreaterThanOrEqualToThreshold",
    )


def alarm_specs(ctx: Context, *, include_disabled: bool = False) -> list[AlarmSpec]:
    """The recipe's alarms, and those of the features on (every feature's with include_disabled)."""
    names, settings = ctx.names, ctx.settings
    on = FEATURES_WITH_ALARMS if include_disabled else frozenset(settings.features)
    specs = [
        _dlq_alarm(ctx, "alarm_dlq", "dlq-messages", "dlq", "the dead-letter queue"),
        _age_alarm(ctx, "alarm_queue_age", "queue-age", "main_queue", "the main queue"),
        # Errors: the processor's function errors (a crash or a timeout: a job's own failure is a
        # batch item failure, not a function error). AWS recommends alarming on any, 1-minute periods.
        AlarmSpec(
            key="alarm_processor_errors",
            suffix="processor-errors",
            description=f"asyncapi {names.project}: the job processor failed (crash or timeout)",
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions={"FunctionName": ref("processor_fn").name},
            statistic="Sum",
            threshold=settings.alarm_processor_errors,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=3,
            datapoints=1,
        ),
        # Throttles: sustained, 5 of 5 minutes (AWS's recommendation): the SQS mapping retries a
        # throttled batch, so a moment's throttling delays jobs without losing them.
        AlarmSpec(
            key="alarm_processor_throttles",
            suffix="processor-throttles",
            description=f"asyncapi {names.project}: the job processor is throttled",
            namespace="AWS/Lambda",
            metric="Throttles",
            dimensions={"FunctionName": ref("processor_fn").name},
            statistic="Sum",
            threshold=settings.alarm_processor_throttles,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=5,
            datapoints=5,
        ),
        # 5XXError is 1 or 0 per request: its Average is the share of 5XX answers. AWS recommends
        # 0.05, 3 of 3 minutes.
        AlarmSpec(
            key="alarm_api_5xx",
            suffix="api-5xx",
            description=f"asyncapi {names.project}: the API answers 5XX to more than "
            f"{settings.alarm_api_5xx_rate:.0%} of requests",
            namespace="AWS/ApiGateway",
            metric="5XXError",
            dimensions={"ApiName": names.api, "Stage": settings.stage},
            statistic="Average",
            threshold=settings.alarm_api_5xx_rate,
            comparison="GreaterThanThreshold",
            evaluation_periods=3,
            datapoints=3,
        ),
    ]
    if "webhooks" in on:
        specs.append(
            _dlq_alarm(ctx, "alarm_webhooks_dlq", "webhooks-dlq-messages", "webhooks_dlq", "the webhooks DLQ")
        )
    if "priorities" in on:
        specs.append(
            _age_alarm(ctx, "alarm_high_queue_age", "high-queue-age", "high_queue", "the high queue")
        )
        specs.append(_dlq_alarm(ctx, "alarm_high_dlq", "high-dlq-messages", "high_dlq", "the high DLQ"))
    return specs


def _alarm_arn(ctx: Context, name: str) -> str:
    return ctx.arn("cloudwatch", f"alarm:{name}")


def topic_policy(ctx: Context, alarm_names: list[str]) -> dict[str, Any]:
    """Only CloudWatch, for these alarms of this account, may publish; nothing else is granted (the
    account's own IAM principals manage the topic through their IAM policies)."""
    topic_arn = ctx.arn("sns", topic_name(ctx.names.project))
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StackAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ctx.account},
                    "ArnLike": {"aws:SourceArn": sorted(_alarm_arn(ctx, n) for n in alarm_names)},
                },
            }
        ],
    }


def subscription_of(endpoint: str) -> tuple[str, str]:
    """(Protocol, Endpoint) for Subscribe from a `notify` entry (config.py checked its shape)."""
    if endpoint.startswith("email:"):
        return "email", endpoint[len("email:") :]
    return urlsplit(endpoint).scheme, endpoint


def shown_endpoint(entry: str) -> str:
    """An endpoint as output and the state show it: a URL's path and query can hold a credential (an
    incident tool's integration key), so only its scheme and host, with a digest to tell two apart."""
    return recorded_form(entry)


def subscription_key(entry: str) -> str:
    """The same key for an entry and for its recorded form (the digest both carry)."""
    known = digest_only(entry)
    return SUBSCRIPTION_PREFIX + (known[1] if known else endpoint_digest(entry))


MISSING_ENDPOINT_HINT = "name the endpoint again in asyncapi.toml's [alarms] notify, then rerun up"


def check_notify(ctx: Context) -> None:
    """A loopback http:// endpoint is for the embedded AWS only: on AWS it would be SNS's own loopback,
    and alarms would travel in clear text. One clear line (exit 2) before any change."""
    for endpoint in ctx.settings.alarm_notify:
        if endpoint.startswith("http://") and not ctx.local:
            raise InputError(
                f"[alarms] notify {shown_endpoint(endpoint)!r}: plain http:// is for the embedded AWS "
                "(up --local) only; use https:// or email:"
            )


def _subscription(ctx: Context, entry: str, topic_arn: Any) -> SnsSubscription:
    """The unit of one `notify` entry; of an entry the state knows only by its recorded form (a run
    without asyncapi.toml), one found by the digest and never subscribed again."""
    name = f"{topic_name(ctx.names.project)} -> {shown_endpoint(entry)}"
    known = digest_only(entry)
    if known is not None:
        return SnsSubscription(
            key=subscription_key(entry),
            name=name,
            attributes={"TopicArn": topic_arn, "Protocol": known[0]},
            endpoint_digest=known[1],
            missing_endpoint_hint=MISSING_ENDPOINT_HINT,
        )
    protocol, address = subscription_of(entry)
    return SnsSubscription(
        key=subscription_key(entry),
        name=name,
        attributes={"TopicArn": topic_arn, "Protocol": protocol, "Endpoint": address},
    )


def check_recorded_endpoints(ctx: Context, records: dict[str, Any]) -> None:
    """`up`, before any change: a subscription the state knows only by its digest that is gone (deleted
    behind the tool's back) cannot be subscribed again. One line (exit 2) naming it and the fix."""
    if not ctx.settings.alarms:
        return
    topic_arn = ctx.arn("sns", topic_name(ctx.names.project))
    for entry in ctx.settings.alarm_notify:
        if digest_only(entry) is None:
            continue
        unit = _subscription(ctx, entry, topic_arn)
        if unit.find(ctx, records.get(unit.key)) is None:
            raise InputError(
                f"the alarm subscription of {shown_endpoint(entry)} is gone and the state holds only its "
                f"digest; {MISSING_ENDPOINT_HINT}"
            )


def units(ctx: Context, *, include_disabled: bool = False) -> list[Unit]:
    """The topic, its subscriptions, the alarms and the dashboard; none with `[alarms] enabled = false`
    (every one with include_disabled, so that `up` and `down` delete what the state records)."""
    settings, project = ctx.settings, ctx.names.project
    if not settings.alarms and not include_disabled:
        return []
    if not include_disabled:
        check_notify(ctx)
    specs = alarm_specs(ctx, include_disabled=include_disabled)
    names = [alarm_name(project, spec) for spec in specs]
    topic_arn = ref(TOPIC_KEY).arn
    result: list[Unit] = [
        SnsTopic(
            key=TOPIC_KEY,
            name=topic_name(project),
            attributes={"DisplayName": f"asyncapi {project}", "Policy": Json(topic_policy(ctx, names))},
        ),
    ]
    result.extend(_subscription(ctx, entry, topic_arn) for entry in settings.alarm_notify)
    for spec, name in zip(specs, names, strict=True):
        result.append(
            MetricAlarm(
                key=spec.key,
                name=name,
                attributes={
                    "AlarmDescription": spec.description,
                    "ActionsEnabled": True,
                    "AlarmActions": [topic_arn],
                    "OKActions": [topic_arn],
                    "Namespace": spec.namespace,
                    "MetricName": spec.metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dimensions.items()],
                    "Statistic": spec.statistic,
                    "Period": PERIOD,
                    "EvaluationPeriods": spec.evaluation_periods,
                    "DatapointsToAlarm": spec.datapoints,
                    "Threshold": float(spec.threshold),
                    "ComparisonOperator": spec.comparison,
                    "TreatMissingData": TREAT_MISSING,
                },
            )
        )
    if settings.alarm_dashboard or include_disabled:
        body = cloudwatch_dashboard.body(ctx, [_alarm_arn(ctx, n) for n in names])
        result.append(
            Dashboard(
                key=DASHBOARD_KEY, name=dashboard_name(project), attributes={"DashboardBody": Json(body)}
            )
        )
    return result


# Console hosts by partition; partitions without a public console (the ISO ones) get no URL.
CONSOLES = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


def dashboard_url(ctx: Context) -> str | None:
    """The dashboard in the CloudWatch console (AWS targets only: elsewhere there is no console)."""
    host = CONSOLES.get(ctx.partition)
    if host is None:
        return None
    return (
        f"https://{ctx.region}.{host}/cloudwatch/home?region={ctx.region}"
        f"#dashboards/dashboard/{dashboard_name(ctx.names.project)}"
    )
