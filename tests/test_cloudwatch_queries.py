"""GetMetricData and GetMetricStatistics on the embedded AWS answer as CloudWatch does (CloudWatch API
reference for both actions): a metric is matched by namespace, name and its full set of dimensions;
periods start at StartTime rounded down to the minute and cover [StartTime, EndTime); percentiles;
arithmetic metric math; ScanBy. Driven with boto3 against moto with the embedded AWS's patches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from asyncapi_cli.local.cloudwatch import patches
from asyncapi_cli.local.cloudwatch.store import STORE
from asyncapi_cli.local.compat import REGISTRY

ACCOUNT, REGION = "123456789012", "us-east-1"
BASE = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=30)


@pytest.fixture
def cw() -> Iterator[Any]:
    with mock_aws():
        STORE.clear()
        REGISTRY.apply(patches.GROUPS)
        try:
            yield boto3.client("cloudwatch", region_name=REGION)
        finally:
            REGISTRY.undo(patches.GROUPS)


def put(namespace: str, dims: dict[str, str], minute: int, second: int, value: float) -> None:
    at = (BASE + timedelta(minutes=minute, seconds=second)).timestamp()
    STORE.record(ACCOUNT, REGION, namespace, "Depth", dims, value, "Count", at)


def query(
    dims: list[dict[str, str]], stat: str = "Sum", namespace: str = "A/One", **extra: Any
) -> dict[str, Any]:
    return {
        "Id": extra.pop("Id", "m"),
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": "Depth", "Dimensions": dims},
            "Period": extra.pop("Period", 60),
            "Stat": stat,
        },
        **extra,
    }


def test_get_metric_data_matches_namespace_and_every_dimension(cw: Any) -> None:
    put("A/One", {"QueueName": "q"}, 0, 10, 1.0)
    put("A/One", {"QueueName": "q"}, 0, 50, 2.0)
    put("A/Two", {"QueueName": "q"}, 0, 20, 100.0)  # another namespace (moto 5.2.5 mixes them in)
    put("A/One", {"QueueName": "q", "Extra": "x"}, 0, 30, 1000.0)  # a superset of the dimensions
    answer = cw.get_metric_data(
        MetricDataQueries=[query([{"Name": "QueueName", "Value": "q"}])],
        StartTime=BASE,
        EndTime=BASE + timedelta(minutes=3),
    )
    result = answer["MetricDataResults"][0]
    assert result["Values"] == [3.0]
    assert result["Label"] == "Depth"  # the default label: the metric's name
    assert [t.astimezone(timezone.utc) for t in result["Timestamps"]] == [BASE]


def test_periods_start_at_the_rounded_start_time_and_stop_before_the_end(cw: Any) -> None:
    dims = {"QueueName": "q"}
    for minute in range(5):
        put("A/One", dims, minute, 0, float(minute + 1))
    answer = cw.get_metric_data(
        MetricDataQueries=[query([{"Name": "QueueName", "Value": "q"}], Period=120)],
        StartTime=BASE + timedelta(minutes=1, seconds=40),  # rounded down to minute 1
        EndTime=BASE + timedelta(minutes=4),  # minute 4 is not included
        ScanBy="TimestampAscending",
    )
    result = answer["MetricDataResults"][0]
    assert result["Values"] == [2.0 + 3.0, 4.0]
    assert [t.astimezone(timezone.utc) for t in result["Timestamps"]] == [
        BASE + timedelta(minutes=1),
        BASE + timedelta(minutes=3),
    ]
    # ScanBy's default is TimestampDescending (GetMetricData API reference).
    default = cw.get_metric_data(
        MetricDataQueries=[query([{"Name": "QueueName", "Value": "q"}], Period=120)],
        StartTime=BASE + timedelta(minutes=1, seconds=40),
        EndTime=BASE + timedelta(minutes=4),
    )
    assert default["MetricDataResults"][0]["Values"] == [4.0, 5.0]


def test_statistics_and_percentiles(cw: Any) -> None:
    dims = {"Fn": "f"}
    for value in range(1, 11):
        put("A/One", dims, 2, value, float(value))
    answer = cw.get_metric_statistics(
        Namespace="A/One",
        MetricName="Depth",
        Dimensions=[{"Name": "Fn", "Value": "f"}],
        StartTime=BASE,
        EndTime=BASE + timedelta(minutes=10),
        Period=300,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
        ExtendedStatistics=["p50", "p90", "p100"],
    )
    (point,) = answer["Datapoints"]
    assert point["Timestamp"].astimezone(timezone.utc) == BASE
    assert (point["SampleCount"], point["Sum"], point["Minimum"], point["Maximum"], point["Average"]) == (
        10.0,
        55.0,
        1.0,
        10.0,
        5.5,
    )
    assert point["ExtendedStatistics"] == {"p50": 5.0, "p90": 9.0, "p100": 10.0}
    assert point["Unit"] == "Count"
    # GetMetricStatistics needs every dimension too: one of two names matches nothing.
    partial = cw.get_metric_statistics(
        Namespace="A/One",
        MetricName="Depth",
        Dimensions=[],
        StartTime=BASE,
        EndTime=BASE + timedelta(minutes=10),
        Period=300,
        Statistics=["Sum"],
    )
    assert partial["Datapoints"] == []


def test_put_metric_data_is_read_back_and_metric_math_combines_queries(cw: Any) -> None:
    dims = [{"Name": "Fn", "Value": "f"}]
    for minute, (errors, calls) in enumerate([(1, 4), (0, 5), (3, 3)]):
        at = BASE + timedelta(minutes=minute, seconds=5)
        cw.put_metric_data(
            Namespace="A/One",
            MetricData=[
                {"MetricName": "Errors", "Dimensions": dims, "Value": errors, "Timestamp": at},
                {"MetricName": "Calls", "Dimensions": dims, "Value": calls, "Timestamp": at},
            ],
        )
    metric = lambda name, qid: {  # noqa: E731
        "Id": qid,
        "MetricStat": {
            "Metric": {"Namespace": "A/One", "MetricName": name, "Dimensions": dims},
            "Period": 60,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }
    answer = cw.get_metric_data(
        MetricDataQueries=[
            metric("Errors", "e"),
            metric("Calls", "c"),
            {"Id": "rate", "Expression": "100 * e / c"},
        ],
        StartTime=BASE,
        EndTime=BASE + timedelta(minutes=5),
        ScanBy="TimestampAscending",
    )
    (result,) = answer["MetricDataResults"]
    assert result["Id"] == "rate" and result["Values"] == [25.0, 0.0, 100.0]


def test_get_metric_statistics_refuses_more_than_1440_datapoints(cw: Any) -> None:
    # GetMetricStatistics API reference: "A single request can include no more than 1,440 data points".
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        cw.get_metric_statistics(
            Namespace="A/One",
            MetricName="Depth",
            StartTime=BASE - timedelta(days=2),
            EndTime=BASE,
            Period=60,
            Statistics=["Sum"],
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "requested up to 2880 datapoints, which exceeds the limit of 1440" in str(refused.value)
