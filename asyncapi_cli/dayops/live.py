"""Live figures for `asyncapi status` (queue depths, oldest message, mapping state); brief drift lines."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..engine import Change

MAX_VALUE = 60  # characters of a value shown in a drift line


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _as_structure(value: Any) -> Any:
    """Policies and redrive settings arrive as JSON strings: compare them as structures."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _differences(live: Any, desired: Any, path: str) -> list[str]:
    live, desired = _as_structure(live), _as_structure(desired)
    if isinstance(live, dict) and isinstance(desired, dict):
        lines: list[str] = []
        for key in sorted(set(live) | set(desired), key=str):
            if live.get(key) != desired.get(key):
                lines += _differences(live.get(key), desired.get(key), f"{path}.{key}")
        return lines
    if isinstance(live, list) and isinstance(desired, list) and len(live) == len(desired):
        lines = []
        for index, (a, b) in enumerate(zip(live, desired, strict=True)):
            if a != b:
                lines += _differences(a, b, f"{path}[{index}]")
        return lines
    if live is None:
        return [f"{path}: missing (want {_short(desired)})"]
    if desired is None:
        return [f"{path}: {_short(live)} (not wanted)"]
    return [f"{path}: {_short(live)} -> {_short(desired)}"]


def brief_change(change: Change, limit: int = 3) -> str:
    """Only the settings that differ, each value cut short: never two whole policy documents."""
    lines = _differences(change.live, change.desired, change.setting) or [change.setting]
    shown = "; ".join(lines[:limit])
    return shown + (f"; and {len(lines) - limit} more" if len(lines) > limit else "")


def queue_figures(sqs: Any, url: str) -> dict[str, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


def oldest_message_age(cloudwatch: Any, queue_name: str, now: dt.datetime) -> float | None:
    """SQS's ApproximateAgeOfOldestMessage metric (AWS/SQS, 1-minute points), the latest in 10 minutes."""
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now,
        Period=60,
        Statistics=["Maximum"],
    ).get("Datapoints", [])
    if not points:
        return None
    return float(max(points, key=lambda p: p["Timestamp"])["Maximum"])


def live_figures(stack: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """Depths of both queues, the oldest message's age and the mapping's state. Reads only.

    The oldest age comes from CloudWatch on AWS. The embedded AWS publishes no SQS metrics, and
    computing it from a receive would raise the receive count of messages the processor is about to
    get (and hide them for a moment), so there it is omitted with a note.
    """
    resources = stack.state.resources
    sqs = stack.clients("sqs")
    figures: dict[str, Any] = {}
    for key in ("main_queue", "dlq"):
        url = (resources.get(key) or {}).get("url")
        figures[key] = _or_error(lambda url=url: queue_figures(sqs, url)) if url else None
    main_name = (resources.get("main_queue") or {}).get("name")
    if stack.state.target.kind == "local":
        figures["oldest_message_age_seconds"] = None
        figures["oldest_message_age_note"] = "not measured on the embedded AWS: no CloudWatch SQS metrics"
    elif main_name:
        moment = now or dt.datetime.now(dt.timezone.utc)
        age = _or_error(lambda: oldest_message_age(stack.clients("cloudwatch"), main_name, moment))
        figures["oldest_message_age_seconds"] = age
        if age is None:
            figures["oldest_message_age_note"] = "no CloudWatch data point in the last 10 minutes"
    uuid = (resources.get("mapping") or {}).get("uuid")
    if uuid and not uuid.startswith("("):
        mapping = _or_error(lambda: stack.clients("lambda").get_event_source_mapping(UUID=uuid))
        figures["mapping_state"] = mapping.get("State") if isinstance(mapping, dict) else None
    else:
        figures["mapping_state"] = None
    return figures


def _or_error(call: Any) -> Any:
    """A figure we cannot read (the queue was deleted behind our back) is shown as missing, not fatal."""
    try:
        return call()
    except Exception as exc:  # botocore ClientError: drift is reported by the planner beside it
        if type(exc).__module__.startswith("botocore"):
            return None
        raise


def figure_rows(figures: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, label in (("main_queue", "main queue"), ("dlq", "dead-letter queue")):
        value = figures.get(key)
        shown = (
            f"{value['visible']} visible / {value['in_flight']} in flight / {value['delayed']} delayed"
            if value
            else "unavailable"
        )
        rows.append([label, shown])
    age = figures.get("oldest_message_age_seconds")
    rows.append(
        [
            "oldest message",
            f"{age:.0f} s" if age is not None else f"n/a ({figures.get('oldest_message_age_note', '')})",
        ]
    )
    rows.append(["mapping", str(figures.get("mapping_state") or "unavailable")])
    return rows
