"""Alarm evaluation on the embedded AWS against CloudWatch's documented behaviour.

The tables are the CloudWatch user guide's, "Using Amazon CloudWatch alarms" > "How alarm state is
evaluated when data is missing" (awsdocs/amazon-cloudwatch-user-guide, doc_source/AlarmThatSendsEmail.md):
5 datapoints retrieved for EvaluationPeriods 3; 0 = not breaching, X = breaching, - = missing; the
expected state for each TreatMissingData, "keep" where the guide says "Retain current state".
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from asyncapi_cli.local.cloudwatch import patches
from asyncapi_cli.local.cloudwatch.evaluator import decide, evaluate_alarm, evaluation_range, minimum_samples
from asyncapi_cli.local.cloudwatch.store import STORE
from asyncapi_cli.local.compat import REGISTRY

TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")

# Datapoints to Alarm 3 of Evaluation Periods 3 (the guide's first table).
THREE_OF_THREE = [
    ("0 - X - X", ("OK", "OK", "OK", "OK")),
    ("0 - - - -", ("OK", "OK", "OK", "OK")),
    ("- - - - -", ("INSUFFICIENT_DATA", "keep", "ALARM", "OK")),
    ("0 X X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("- - - - X", ("INSUFFICIENT_DATA", "keep", "ALARM", "OK")),
    ("X - - - -", ("ALARM", "keep", "ALARM", "OK")),
]
# 2 of 3, an "M out of N" alarm (the guide's second table).
TWO_OF_THREE = [
    ("0 - X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 0 X 0 X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 - X - -", ("OK", "OK", "ALARM", "OK")),
    ("- - - - 0", ("OK", "OK", "ALARM", "OK")),
    ("- - - - X", ("INSUFFICIENT_DATA", "keep", "ALARM", "OK")),
]


def values(row: str) -> list[float | None]:
    """Datapoints, oldest first: X breaches the threshold 1.0 (value 5.0), 0 does not (0.0)."""
    return [{"X": 5.0, "0": 0.0, "-": None}[mark] for mark in row.split()]


def cases(table: list[tuple[str, tuple[str, ...]]], m: int) -> list[tuple[str, int, str, str]]:
    return [
        (row, m, treat, state)
        for row, states in table
        for treat, state in zip(TREATMENTS, states, strict=True)
    ]


@pytest.mark.parametrize(
    ("row", "datapoints_to_alarm", "treat", "expected"), cases(THREE_OF_THREE, 3) + cases(TWO_OF_THREE, 2)
)
@pytest.mark.parametrize("current", ["OK", "ALARM", "INSUFFICIENT_DATA"])
def test_the_guides_missing_data_tables(
    row: str, datapoints_to_alarm: int, treat: str, expected: str, current: str
) -> None:
    decision = decide(
        values(row), 3, datapoints_to_alarm, "GreaterThanOrEqualToThreshold", 1.0, treat, current=current
    )
    assert (decision.state or "keep") == expected


def test_the_evaluation_range_of_the_guides_example_is_five_periods() -> None:
    assert evaluation_range(3) == 5  # "CloudWatch retrieves the 5 most recent data points"


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [
        ("GreaterThanOrEqualToThreshold", 2.0, True),
        ("GreaterThanOrEqualToThreshold", 1.9, False),
        ("GreaterThanThreshold", 2.0, False),
        ("GreaterThanThreshold", 2.1, True),
        ("LessThanThreshold", 2.0, False),
        ("LessThanThreshold", 1.9, True),
        ("LessThanOrEqualToThreshold", 2.0, True),
        ("LessThanOrEqualToThreshold", 2.1, False),
    ],
)
def test_comparison_operators_against_the_threshold(comparison: str, value: float, breaches: bool) -> None:
    # PutMetricAlarm API reference, ComparisonOperator: "The specified Statistic value is used as the first
    # operand."
    decision = decide([None, None, value], 1, 1, comparison, 2.0)
    assert decision.state == ("ALARM" if breaches else "OK")


def test_reasons_read_as_cloudwatchs() -> None:
    # The wording of AWS's reasons as LocalStack's parity snapshots recorded them on AWS
    # (tests/aws/services/cloudwatch/test_cloudwatch.snapshot.json: test_put_metric_alarm,
    # test_breaching_alarm_actions), and the guide's example of an M out of N reason.
    labels = ["07/12/26 08:00:00", "07/12/26 08:01:00", "07/12/26 08:02:00"]
    one = decide([None, 1.0, 21.5], 1, 1, "GreaterThanThreshold", 21.0, labels=labels, current="OK")
    assert (
        one.reason
        == "Threshold Crossed: 1 datapoint [21.5 (07/12/26 08:02:00)] was greater than the threshold (21.0)."
    )
    ok = decide([None, 30.0, 0.0], 1, 1, "GreaterThanThreshold", 21.0, labels=labels, current="ALARM")
    assert ok.reason == (
        "Threshold Crossed: 1 datapoint [0.0 (07/12/26 08:02:00)] was not greater than the threshold (21.0)."
    )
    several = decide([5.0, 0.0, 3.0], 3, 2, "GreaterThanOrEqualToThreshold", 1.0, labels=labels, current="OK")
    assert several.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints "
        "[3.0 (07/12/26 08:02:00), 5.0 (07/12/26 08:00:00)] was greater than or equal to the threshold (1.0) "
        "(minimum 2 datapoints for OK -> ALARM transition)."
    )
    breaching = decide([None, None, None], 2, 2, "GreaterThanThreshold", 2.0, "breaching")
    assert breaching.reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were "
        "treated as [Breaching]."
    )
    assert [i for i, _ in breaching.evaluated] == [1, 2]  # evaluatedDatapoints: the 2 periods, no values
    unknown = decide([None, None, None], 1, 1, "GreaterThanOrEqualToThreshold", 1.0)
    assert unknown.reason == "Insufficient Data: 1 datapoint was unknown."


# --- moto's alarms, evaluated at an injected time over the metric store -----------------------------
@pytest.fixture
def cw() -> Iterator[Any]:
    with mock_aws():
        STORE.clear()
        REGISTRY.apply(patches.GROUPS)
        try:
            yield boto3.client("cloudwatch", region_name="us-east-1")
        finally:
            REGISTRY.undo(patches.GROUPS)


# The last whole hour: recent, as CloudWatch keeps no datapoint older than 15 days.
HOUR = (int(time.time()) // 3600 - 1) * 3600


def at(minute: int, second: int = 0) -> float:
    return float(HOUR + minute * 60 + second)


def test_an_alarm_starts_insufficient_and_follows_its_metric_period_by_period(cw: Any) -> None:
    cw.put_metric_alarm(
        AlarmName="depth",
        Namespace="Test/Eval",
        MetricName="Depth",
        Dimensions=[{"Name": "Queue", "Value": "q1"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    # PutMetricAlarm API reference: "the alarm state is immediately set to INSUFFICIENT_DATA".
    described = cw.describe_alarms(AlarmNames=["depth"])["MetricAlarms"][0]
    assert described["StateValue"] == "INSUFFICIENT_DATA"
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends["123456789012"]["us-east-1"].alarms["depth"]
    record = lambda minute, value: STORE.record(  # noqa: E731
        "123456789012", "us-east-1", "Test/Eval", "Depth", {"Queue": "q1"}, value, None, at(minute, 30)
    )
    record(0, 20.0)
    record(0, 5.0)  # Maximum of the minute: 20
    record(1, 30.0)
    # Another series (other dimensions) that would breach must not count: AWS matches all dimensions.
    STORE.record("123456789012", "us-east-1", "Test/Eval", "Depth", {"Queue": "q2"}, 99.0, None, at(2, 10))
    assert evaluate_alarm("123456789012", "us-east-1", alarm, at(1, 59)) is False  # minute 1 not closed
    assert evaluate_alarm("123456789012", "us-east-1", alarm, at(2, 0)) is True
    assert alarm.state_value == "ALARM"
    data = json.loads(alarm.state_reason_data)
    assert data["recentDatapoints"] == [20.0, 30.0] and data["period"] == 60
    # As AWS records them (LocalStack's parity snapshot, test_put_metric_alarm): newest first, with samples.
    assert [(p["sampleCount"], p["value"]) for p in data["evaluatedDatapoints"]] == [(1.0, 30.0), (2.0, 20.0)]
    record(2, 1.0)
    assert evaluate_alarm("123456789012", "us-east-1", alarm, at(3, 0)) is True
    assert alarm.state_value == "OK"
    history = cw.describe_alarm_history(AlarmName="depth", HistoryItemType="StateUpdate")
    summaries = [item["HistorySummary"] for item in history["AlarmHistoryItems"]]
    assert summaries == ["Alarm updated from ALARM to OK", "Alarm updated from INSUFFICIENT_DATA to ALARM"]


def test_updating_an_alarm_keeps_its_state(cw: Any) -> None:
    args = dict(
        AlarmName="kept",
        Namespace="Test/Eval",
        MetricName="M",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cw.put_metric_alarm(**args)
    cw.set_alarm_state(AlarmName="kept", StateValue="ALARM", StateReason="testing")
    cw.put_metric_alarm(**{**args, "Threshold": 5})
    # PutMetricAlarm API reference: "When you update an existing alarm, its state is left unchanged".
    alarm = cw.describe_alarms(AlarmNames=["kept"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"], alarm["Threshold"]) == ("ALARM", "testing", 5.0)


def test_a_percentile_alarm_reads_the_values(cw: Any) -> None:
    cw.put_metric_alarm(
        AlarmName="p90",
        Namespace="Test/Eval",
        MetricName="Latency",
        ExtendedStatistic="p90",
        Period=60,
        EvaluationPeriods=1,
        Threshold=50,
        ComparisonOperator="GreaterThanThreshold",
    )
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends["123456789012"]["us-east-1"].alarms["p90"]
    for value in range(1, 101):  # p90 of 1..100 is 90; the average (50.5) would not matter
        STORE.record("123456789012", "us-east-1", "Test/Eval", "Latency", {}, float(value), None, at(5, 1))
    assert evaluate_alarm("123456789012", "us-east-1", alarm, at(6, 0)) is True
    label = datetime.fromtimestamp(at(5), tz=timezone.utc).strftime("%d/%m/%y %H:%M:%S")
    assert alarm.state_value == "ALARM" and f"[90.0 ({label})]" in alarm.state_reason


def test_a_metric_math_alarm_evaluates_its_expression(cw: Any) -> None:
    def stat(qid: str, name: str) -> dict[str, Any]:
        metric = {"Namespace": "Test/Eval", "MetricName": name, "Dimensions": [{"Name": "Fn", "Value": "f"}]}
        return {"Id": qid, "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}, "ReturnData": False}

    cw.put_metric_alarm(
        AlarmName="error-rate",
        Metrics=[
            stat("e", "Errors"),
            stat("c", "Calls"),
            {"Id": "rate", "Expression": "100 * e / c", "ReturnData": True},
        ],
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends["123456789012"]["us-east-1"].alarms["error-rate"]
    for name, value in (("Errors", 1.0), ("Calls", 20.0)):  # 5 %: not above 10
        STORE.record("123456789012", "us-east-1", "Test/Eval", name, {"Fn": "f"}, value, None, at(7, 1))
    assert evaluate_alarm("123456789012", "us-east-1", alarm, at(8)) is True
    assert alarm.state_value == "OK" and "[5.0 (" in alarm.state_reason
    for name, value in (("Errors", 3.0), ("Calls", 10.0)):  # 30 %
        STORE.record("123456789012", "us-east-1", "Test/Eval", name, {"Fn": "f"}, value, None, at(8, 1))
    assert evaluate_alarm("123456789012", "us-east-1", alarm, at(9)) is True
    assert alarm.state_value == "ALARM" and "[30.0 (" in alarm.state_reason


def test_a_low_sample_percentile_alarm_set_to_ignore_keeps_its_state(cw: Any) -> None:
    # The guide, "Percentile-based CloudWatch alarms and low data samples": below 10/(1-p) samples (1,000
    # for p99) an alarm set to ignore keeps its state; set to evaluate, it changes.
    assert minimum_samples(99) == pytest.approx(1000.0) and minimum_samples(50) == pytest.approx(20.0)
    for name, setting in (("p99-ignore", "ignore"), ("p99-evaluate", "evaluate")):
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="Test/Eval",
            MetricName="Slow",
            ExtendedStatistic="p99",
            Period=60,
            EvaluationPeriods=1,
            Threshold=50,
            ComparisonOperator="GreaterThanThreshold",
            EvaluateLowSampleCountPercentile=setting,
        )
    from moto.cloudwatch.models import cloudwatch_backends

    for value in (100.0, 200.0):
        STORE.record("123456789012", "us-east-1", "Test/Eval", "Slow", {}, value, None, at(10, 1))
    alarms = cloudwatch_backends["123456789012"]["us-east-1"].alarms
    assert evaluate_alarm("123456789012", "us-east-1", alarms["p99-ignore"], at(11)) is False
    assert alarms["p99-ignore"].state_value == "INSUFFICIENT_DATA"
    assert evaluate_alarm("123456789012", "us-east-1", alarms["p99-evaluate"], at(11)) is True
    assert alarms["p99-evaluate"].state_value == "ALARM"
