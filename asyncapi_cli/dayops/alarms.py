"""The stack's alarms as CloudWatch sees them now: state, reason and last transition, for `asyncapi
alarms` and `asyncapi status`. Reads only: one DescribeAlarms call per 100 alarms."""

from __future__ import annotations

import datetime as dt
from typing import Any

ALARM_KIND = "cloudwatch-alarm"
MAX_NAMES = 100  # DescribeAlarms' AlarmNames takes at most 100 (CloudWatch API reference)


def recorded_alarm_names(state: Any) -> list[str]:
    """The alarms the state records (by kind), whatever the configuration says today."""
    names = []
    for key, meta in state.graph.items():
        if (meta or {}).get("kind") == ALARM_KIND and key in state.resources:
            names.append(str(state.resources[key].get("name") or meta.get("name")))
    return sorted(names)


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value) if value else None


def alarm_states(cloudwatch: Any, names: list[str]) -> list[dict[str, Any]]:
    """Each recorded alarm's state, reason and when it last changed state; one that is gone says so."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), MAX_NAMES):
        response = cloudwatch.describe_alarms(
            AlarmNames=names[start : start + MAX_NAMES], AlarmTypes=["MetricAlarm"]
        )
        for alarm in response.get("MetricAlarms", []):
            found[alarm["AlarmName"]] = alarm
    rows = []
    for name in names:
        alarm = found.get(name)
        if alarm is None:
            rows.append({"name": name, "state": "MISSING", "reason": "not found: 'asyncapi up' creates it"})
            continue
        # StateTransitionedTimestamp: the last change of state value (StateUpdatedTimestamp also moves
        # when only the reason changes); older implementations answer the latter alone.
        changed = alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp")
        rows.append(
            {
                "name": name,
                "state": alarm.get("StateValue"),
                "reason": alarm.get("StateReason"),
                "since": _iso(changed),
                "metric": f"{alarm.get('Namespace')} {alarm.get('MetricName')}",
                "threshold": alarm.get("Threshold"),
                "actions_enabled": alarm.get("ActionsEnabled"),
            }
        )
    return rows


def alarm_rows(alarms: list[dict[str, Any]], *, reasons: bool = True) -> list[list[str]]:
    rows = []
    for alarm in alarms:
        row = [str(alarm["name"]), str(alarm["state"]), str(alarm.get("since") or "")]
        if reasons:
            row.append(str(alarm.get("reason") or ""))
        rows.append(row)
    return rows
