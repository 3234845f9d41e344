"""The jobs' own metrics as CloudWatch embedded metric format (EMF) log lines: no API call, no agent.

On Lambda, a JSON log line with an `_aws` member is turned into metrics by CloudWatch Logs itself
("Specification: Embedded metric format", CloudWatch user guide): `_aws.Timestamp` (epoch
milliseconds), `_aws.CloudWatchMetrics`, a list of {Namespace, Dimensions (lists of dimension names),
Metrics [{Name, Unit}]}, and every dimension and metric as a root member with its value.

One line per job outcome (completed, or failed for good): its duration, the time it waited from
submission to the start of that attempt, and a 1 in JobsCompleted or JobsFailed (the other 0, so that
their Average is a rate), by stack and priority. The job id is not a member (it would be a property of
unbounded cardinality): `asyncapi logs --job` shows the job's own lines as before.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from handler_shared import write_log_line

NAMESPACE = "asyncapi"
DIMENSIONS = ["Stack", "Priority"]
METRICS = [
    {"Name": "JobDuration", "Unit": "Milliseconds"},
    {"Name": "TimeQueued", "Unit": "Milliseconds"},
    {"Name": "JobsCompleted", "Unit": "Count"},
    {"Name": "JobsFailed", "Unit": "Count"},
]


def _epoch_ms(timestamp: str) -> float | None:
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000
    except (AttributeError, ValueError):
        return None


def document(
    *, outcome: str, priority: str, started_ms: float, finished_ms: float, created_at: str
) -> dict[str, Any]:
    """The EMF document of one job outcome ("completed" or "failed")."""
    created_ms = _epoch_ms(created_at)
    queued = max(0.0, started_ms - created_ms) if created_ms is not None else 0.0
    finished = datetime.fromtimestamp(finished_ms / 1000, timezone.utc)
    return {
        # The processor's log-line members (level, event, time): other root members are properties,
        # which the specification allows beside the metrics and dimensions.
        "level": "INFO",
        "event": "job-metrics",
        "time": finished.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "_aws": {
            "Timestamp": int(finished_ms),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [DIMENSIONS], "Metrics": METRICS}],
        },
        "Stack": os.environ.get("ASYNCAPI_STACK") or "unknown",
        "Priority": priority,
        "JobDuration": round(max(0.0, finished_ms - started_ms), 3),
        "TimeQueued": round(queued, 3),
        "JobsCompleted": 1 if outcome == "completed" else 0,
        "JobsFailed": 1 if outcome == "failed" else 0,
    }


def emit(**fields: Any) -> None:
    """Write one job outcome's EMF line; a metric must never fail a job."""
    try:
        write_log_line(document(**fields))
    except Exception:  # noqa: BLE001 - the job's outcome is recorded already
        pass
