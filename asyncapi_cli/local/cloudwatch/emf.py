"""CloudWatch embedded metric format: a function's log line that is an EMF document becomes metrics, as
CloudWatch Logs extracts them (CloudWatch user guide, "Specification: Embedded metric format").

- The log event must be a JSON object, nothing before or after it, with `_aws` holding `Timestamp`
  (milliseconds since the epoch) and `CloudWatchMetrics`: an array of directives, each with `Namespace`
  (a string), `Dimensions` (an array of dimension sets: arrays of at most 30 names of root members whose
  values are strings) and `Metrics` (at most 100 definitions: `Name`, a root member holding a number or
  an array of at most 100 numbers; optional `Unit`, a CloudWatch unit; optional `StorageResolution`,
  1 or 60).
- Every dimension set of a directive gives each metric one series; an empty set list gives the metric
  without dimensions.
- A line that is not a valid document stays a log line and nothing else (as on AWS: extraction
  failures are reported apart and never reject the event); so no error is raised here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
        "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
        "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
        "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
        "Count/Second", "None",
    }
)  # fmt: skip
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100


@dataclass(frozen=True)
class Datum:
    namespace: str
    name: str
    dimensions: dict[str, str]
    value: float
    unit: str | None
    resolution: int
    timestamp_ms: int


class Invalid(ValueError):
    pass


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Invalid("a metric value must be a number")
    return float(value)


def parse(line: str) -> list[Datum]:
    """The metrics of one log line; [] when it is not a valid EMF document."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []  # the common case: not EMF at all, no JSON parsing
    try:
        return _parse(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


def _parse(root: Any) -> list[Datum]:
    if not isinstance(root, dict) or not isinstance(root.get("_aws"), dict):
        raise Invalid("no _aws metadata")
    metadata = root["_aws"]
    stamp = metadata.get("Timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise Invalid("_aws.Timestamp must be an integer (milliseconds)")
    directives = metadata.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise Invalid("_aws.CloudWatchMetrics must be an array")
    out: list[Datum] = []
    for directive in directives:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 1024 or namespace.startswith("AWS/"):
            raise Invalid("Namespace")
        dimension_sets = directive.get("Dimensions")
        metrics = directive.get("Metrics")
        if (
            not isinstance(dimension_sets, list)
            or not isinstance(metrics, list)
            or len(metrics) > MAX_METRICS
        ):
            raise Invalid("Dimensions / Metrics")
        resolved_sets = []
        for names in dimension_sets:
            if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
                raise Invalid("a dimension set must be an array of at most 30 names")
            values = {}
            for name in names:
                value = root.get(name) if isinstance(name, str) else None
                if not isinstance(value, str) or not value:
                    raise Invalid(f"dimension {name!r} must name a root member holding a string")
                values[name] = value
            resolved_sets.append(values)
        for definition in metrics:
            name = definition.get("Name")
            unit = definition.get("Unit")
            resolution = definition.get("StorageResolution", 60)
            if not isinstance(name, str) or name not in root:
                raise Invalid("a metric's Name must name a root member")
            if unit is not None and unit not in UNITS:
                raise Invalid(f"unit {unit!r}")
            if resolution not in (1, 60) or isinstance(resolution, bool):
                raise Invalid("StorageResolution must be 1 or 60")
            raw = root[name]
            values = raw if isinstance(raw, list) else [raw]
            if not values or len(values) > MAX_VALUES:
                raise Invalid("1 to 100 values")
            numbers = [_number(v) for v in values]
            for dimensions in resolved_sets or [{}]:
                out.extend(
                    Datum(namespace, name, dimensions, number, unit, resolution, stamp) for number in numbers
                )
    return out
