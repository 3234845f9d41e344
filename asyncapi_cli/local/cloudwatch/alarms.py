"""What an alarm does besides its state: history (DescribeAlarmHistory, which moto lacks), actions on
transitions, and AWS's alarm notification to SNS topics.

- PutMetricAlarm: a new alarm starts in INSUFFICIENT_DATA ("Unchecked: Initial alarm creation"); an
  update keeps the alarm's state (PutMetricAlarm API reference: "When this operation creates an alarm,
  the alarm state is immediately set to INSUFFICIENT_DATA ... When you update an existing alarm, its
  state is left unchanged"). moto creates every alarm in OK and resets the state on update.
- Every state change (evaluation or SetAlarmState) is a StateUpdate history item; when ActionsEnabled,
  the actions of the new state run (SetAlarmState API reference: "When the updated state differs from
  the previous value, the action configured for the appropriate state is invoked"), each an Action
  history item.
- The SNS message is the alarm notification AWS sends (CloudWatch user guide, "Alarm events and
  EventBridge" / the SNS notification example): JSON with AlarmName, AlarmDescription, AWSAccountId,
  NewStateValue, NewStateReason, StateChangeTime, Region (the region's long name), AlarmArn,
  OldStateValue, the actions, and Trigger; Subject `ALARM: "name" in US East (N. Virginia)`.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any

from .store import epoch, naive_utc

log = logging.getLogger("asyncapi.local.cloudwatch")
HISTORY_SECONDS = 14 * 24 * 3600  # "CloudWatch preserves alarm history for two weeks"
HISTORY_PER_REGION = 10_000
SUBJECT_MAX = 100  # SNS Publish: Subject up to 100 characters

_history: dict[tuple[str, str], list[dict[str, Any]]] = {}
_lock = threading.Lock()
wake = threading.Event()  # set when an alarm is created or updated: evaluate it now, not next minute
counters = {"transitions": 0, "actions": 0}


def account_region(alarm: Any) -> tuple[str, str]:
    parts = alarm.alarm_arn.split(":")  # arn:aws:cloudwatch:<region>:<account>:alarm:<name>
    return parts[4], parts[3]


def _stamp(moment: datetime) -> str:
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def record(alarm: Any, kind: str, summary: str, data: dict[str, Any]) -> None:
    account, region = account_region(alarm)
    item = {
        "AlarmName": alarm.name,
        "AlarmType": "CompositeAlarm" if alarm.rule is not None else "MetricAlarm",
        "Timestamp": naive_utc(time.time()),
        "HistoryItemType": kind,
        "HistorySummary": summary,
        "HistoryData": json.dumps(data),
    }
    with _lock:
        items = _history.setdefault((account, region), [])
        items.append(item)
        cutoff = time.time() - HISTORY_SECONDS
        while items and (len(items) > HISTORY_PER_REGION or epoch(items[0]["Timestamp"]) < cutoff):
            items.pop(0)


def history(account: str, region: str) -> list[dict[str, Any]]:
    with _lock:
        return list(_history.get((account, region), []))


@functools.lru_cache(maxsize=1)
def _region_names() -> dict[str, str]:
    import botocore.session

    try:
        partitions = botocore.session.get_session().get_data("endpoints")["partitions"]
    except Exception:
        return {}
    return {code: info.get("description", code) for p in partitions for code, info in p["regions"].items()}


def region_name(region: str) -> str:
    return _region_names().get(region, region)


def _statistic_label(statistic: str) -> str:
    return {"SampleCount": "SAMPLE_COUNT"}.get(statistic, statistic.upper())


def notification(alarm: Any, old_state: str) -> tuple[str, str]:
    """The (subject, message) CloudWatch publishes to an SNS topic for this transition."""
    account, region = account_region(alarm)
    trigger: dict[str, Any]
    if alarm.metric_data_queries:
        trigger = {"Period": alarm.period or 0, "EvaluationPeriods": alarm.evaluation_periods}
        trigger["Metrics"] = [
            {
                "Id": q.id,
                **({"Expression": q.expression} if q.expression else {}),
                **({"Label": q.label} if q.label else {}),
                "ReturnData": q.return_data not in (False, "false"),
            }
            for q in alarm.metric_data_queries
        ]
    else:
        trigger = {"MetricName": alarm.metric_name, "Namespace": alarm.namespace}
        if alarm.extended_statistic:
            trigger.update(StatisticType="ExtendedStatistic", ExtendedStatistic=alarm.extended_statistic)
        else:
            trigger.update(StatisticType="Statistic", Statistic=_statistic_label(alarm.statistic or ""))
        trigger.update(
            Unit=alarm.unit,
            Dimensions=[{"value": d.value, "name": d.name} for d in alarm.dimensions],
            Period=alarm.period,
            EvaluationPeriods=alarm.evaluation_periods,
        )
    if alarm.datapoints_to_alarm:
        trigger["DatapointsToAlarm"] = alarm.datapoints_to_alarm
    trigger.update(
        ComparisonOperator=alarm.comparison_operator,
        Threshold=float(alarm.threshold or 0.0),
        TreatMissingData=alarm.treat_missing_data or "missing",
        EvaluateLowSampleCountPercentile=alarm.evaluate_low_sample_count_percentile or "",
    )
    message = {  # the members of AWS's, as LocalStack's parity snapshot recorded one (test_put_metric_alarm)
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _stamp(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _stamp(alarm.state_updated_timestamp),
        "Region": region_name(region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "ActionExecutedAfterMuteWindow": False,  # no mute rules locally
        "Trigger": trigger,
    }
    subject = f'{alarm.state_value}: "{alarm.name}" in {region_name(region)}'
    return subject[:SUBJECT_MAX], json.dumps(message)


def run_actions(alarm: Any, old_state: str) -> None:
    actions = {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }.get(alarm.state_value) or []
    for arn in actions:
        parts = str(arn).split(":")
        try:
            if len(parts) < 6 or parts[2] != "sns":
                raise ValueError("only SNS topic actions run on the embedded AWS")
            from moto.sns.models import sns_backends

            subject, message = notification(alarm, old_state)
            sns_backends[parts[4]][parts[3]].publish(message, arn=arn, subject=subject)
            counters["actions"] += 1
            record(
                alarm,
                "Action",
                f"Successfully executed action {arn}",
                {"actionState": "Succeeded", "stateUpdateTimestamp": _stamp(alarm.state_updated_timestamp)},
            )
        except Exception as exc:
            log.warning("alarm %s: action %s failed: %s", alarm.name, arn, exc)
            record(
                alarm,
                "Action",
                f"Failed to execute action {arn}",
                {"actionState": "Failed", "error": str(exc)},
            )


def on_transition(alarm: Any, old_state: str, old_reason: str) -> None:
    counters["transitions"] += 1
    try:
        reason_data = json.loads(alarm.state_reason_data or "{}")
    except ValueError:
        reason_data = {}
    record(
        alarm,
        "StateUpdate",
        f"Alarm updated from {old_state} to {alarm.state_value}",
        {
            "version": "1.0",
            "oldState": {"stateValue": old_state, "stateReason": old_reason},
            "newState": {
                "stateValue": alarm.state_value,
                "stateReason": alarm.state_reason,
                "stateReasonData": reason_data,
            },
        },
    )
    if alarm.actions_enabled:
        run_actions(alarm, old_state)


# --- patches ------------------------------------------------------------------------------------------
def _update_state(original: Any) -> Any:
    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        old_state, old_reason = self.state_value, self.state_reason
        original(self, reason, reason_data, state_value)
        if state_value != old_state:
            on_transition(self, old_state, old_reason)

    return update_state


def _put_metric_alarm(original: Any) -> Any:
    def put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs["name"] if "name" in kwargs else args[0]
        previous = self.alarms.get(name)
        alarm = original(self, *args, **kwargs)
        if previous is None:
            alarm.state_value = "INSUFFICIENT_DATA"
            record(alarm, "ConfigurationUpdate", f'Alarm "{name}" created', {"type": "Create"})
        else:
            for attribute in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp"):
                setattr(alarm, attribute, getattr(previous, attribute))
            alarm.history = previous.history
            record(alarm, "ConfigurationUpdate", f'Alarm "{name}" updated', {"type": "Update"})
        wake.set()
        return alarm

    return put_metric_alarm


def _describe_alarm_history(_original: Any) -> Any:
    def describe_alarm_history(self: Any) -> Any:
        from moto.core.responses import ActionResult

        backend = self.cloudwatch_backend
        items = history(backend.account_id, backend.region_name)
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        types = self._get_param("AlarmTypes", []) or []
        start, end = self._get_param("StartDate"), self._get_param("EndDate")
        chosen = [
            item
            for item in items
            if (not name or item["AlarmName"] == name)
            and (not kind or item["HistoryItemType"] == kind)
            and (not types or item["AlarmType"] in types)
            and (start is None or epoch(item["Timestamp"]) >= epoch(start))
            and (end is None or epoch(item["Timestamp"]) <= epoch(end))
        ]
        if (self._get_param("ScanBy") or "TimestampDescending") == "TimestampDescending":
            chosen.reverse()
        offset = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxRecords") or 100)
        page = chosen[offset : offset + size]
        more = offset + size < len(chosen)
        return ActionResult(
            {"AlarmHistoryItems": page, **({"NextToken": str(offset + size)} if more else {})}
        )

    return describe_alarm_history
