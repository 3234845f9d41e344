"""The stack's CloudWatch dashboard body: queues, dead-letter queues, the processor, the API, the jobs'
own metrics (the processor's EMF lines, handlers/job_metrics.py) and the alarms.

The body follows the CloudWatch "Dashboard Body Structure and Syntax" reference: widgets on a 24-unit
grid, each metric an array [Namespace, MetricName, DimensionName, DimensionValue, ..., {options}],
every metric widget with its region.
"""

from __future__ import annotations

from typing import Any

from .engine import Context
from .features import FeatureTarget, priorities, webhooks

JOB_NAMESPACE = "asyncapi"  # the processor's EMF namespace (handlers/job_metrics.py)
JOB_PRIORITIES = ("normal", "high")
WIDTH, HEIGHT = 12, 6


def queue_names(ctx: Context) -> tuple[list[str], list[str]]:
    """(work queues, dead-letter queues) of the stack with its features on."""
    where = FeatureTarget.of(ctx)
    on = frozenset(ctx.settings.features)
    work, dead = [ctx.names.main_queue], [ctx.names.dlq]
    if "priorities" in on:
        work.append(priorities.high_queue_name(where))
        dead.append(priorities.high_dlq_name(where))
    if "webhooks" in on:
        work.append(webhooks.queue_name(where))
        dead.append(webhooks.dlq_name(where))
    return work, dead


def _metric_widget(
    ctx: Context, title: str, metrics: list[list[Any]], stat: str, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": ctx.region,
            "metrics": metrics,
            "stat": stat,
            "period": 60,
            "view": "timeSeries",
            **extra,
        },
    }


def _processors(ctx: Context) -> list[str]:
    names = [ctx.names.processor]
    if "priorities" in ctx.settings.features:
        where = FeatureTarget.of(ctx)
        names.append(priorities.high_processor_name(where))
    return names


def body(ctx: Context, alarm_arns: list[str]) -> dict[str, Any]:
    work, dead = queue_names(ctx)
    project, api, stage = ctx.names.project, ctx.names.api, ctx.settings.stage
    processors = _processors(ctx)
    widgets = [
        _metric_widget(
            ctx,
            "Queues: visible messages",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q] for q in work],
            "Maximum",
        ),
        _metric_widget(
            ctx,
            "Queues: oldest message (s)",
            [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q] for q in work],
            "Maximum",
        ),
        _metric_widget(
            ctx,
            "Dead-letter queues: visible messages",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q] for q in dead],
            "Maximum",
        ),
        _metric_widget(
            ctx,
            "Processor: invocations, errors, throttles",
            [
                ["AWS/Lambda", metric, "FunctionName", name]
                for name in processors
                for metric in ("Invocations", "Errors", "Throttles")
            ],
            "Sum",
        ),
        _metric_widget(
            ctx,
            "Processor: duration p99 (ms)",
            [["AWS/Lambda", "Duration", "FunctionName", name] for name in processors],
            "p99",
        ),
        _metric_widget(
            ctx,
            "API: requests and errors",
            [
                ["AWS/ApiGateway", "Count", "ApiName", api, "Stage", stage],
                ["AWS/ApiGateway", "4XXError", "ApiName", api, "Stage", stage],
                ["AWS/ApiGateway", "5XXError", "ApiName", api, "Stage", stage],
            ],
            "Sum",
        ),
        _metric_widget(
            ctx,
            "Jobs: completed and failed",
            [
                [JOB_NAMESPACE, metric, "Stack", project, "Priority", priority]
                for metric in ("JobsCompleted", "JobsFailed")
                for priority in JOB_PRIORITIES
            ],
            "Sum",
        ),
        _metric_widget(
            ctx,
            "Jobs: duration and time queued p90 (ms)",
            [
                [JOB_NAMESPACE, metric, "Stack", project, "Priority", priority]
                for metric in ("JobDuration", "TimeQueued")
                for priority in JOB_PRIORITIES
            ],
            "p90",
        ),
    ]
    if alarm_arns:
        widgets.insert(
            0,
            {
                "type": "alarm",
                "width": 24,
                "height": 3,
                "properties": {"title": f"Alarms of {project}", "alarms": sorted(alarm_arns)},
            },
        )
    return {"widgets": widgets}
