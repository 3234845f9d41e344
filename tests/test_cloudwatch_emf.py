"""Embedded metric format on the embedded AWS, against the CloudWatch user guide's "Specification:
Embedded metric format": its example document, its rules (root members, dimension sets, up to 100
values, units, StorageResolution 1 or 60), and invalid documents left as log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from asyncapi_cli.local.cloudwatch import emf
from asyncapi_cli.local.cloudwatch.publishers import MetricsLogSink
from asyncapi_cli.local.cloudwatch.store import STORE

# The specification's example document.
SPEC_EXAMPLE = {
    "_aws": {
        "Timestamp": 1574109732004,
        "CloudWatchMetrics": [
            {
                "Namespace": "lambda-function-metrics",
                "Dimensions": [["functionVersion"]],
                "Metrics": [{"Name": "time", "Unit": "Milliseconds", "StorageResolution": 60}],
            }
        ],
    },
    "functionVersion": "$LATEST",
    "time": 100,
    "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee",
}


def document(**changes: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(SPEC_EXAMPLE))
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    for key, value in changes.items():
        if key in ("Dimensions", "Metrics", "Namespace"):
            directive[key] = value
        elif value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def test_the_specifications_example() -> None:
    assert emf.parse(json.dumps(SPEC_EXAMPLE)) == [
        emf.Datum(
            namespace="lambda-function-metrics",
            name="time",
            dimensions={"functionVersion": "$LATEST"},
            value=100.0,
            unit="Milliseconds",
            resolution=60,
            timestamp_ms=1574109732004,
        )
    ]


def test_each_dimension_set_gives_a_series_and_an_empty_set_none() -> None:
    doc = document(
        Dimensions=[["functionVersion"], ["functionVersion", "region"], []],
        region="eu-west-1",
    )
    found = [d.dimensions for d in emf.parse(json.dumps(doc))]
    assert found == [
        {"functionVersion": "$LATEST"},
        {"functionVersion": "$LATEST", "region": "eu-west-1"},
        {},
    ]


def test_an_array_of_values_and_high_resolution() -> None:
    doc = document(Metrics=[{"Name": "time", "StorageResolution": 1}], time=[1, 2.5, 3])
    parsed = emf.parse(json.dumps(doc))
    assert [d.value for d in parsed] == [1.0, 2.5, 3.0]
    assert {d.resolution for d in parsed} == {1} and {d.unit for d in parsed} == {None}


@pytest.mark.parametrize(
    "line",
    [
        "START RequestId: 1 Version: $LATEST",
        "not json {",
        "prefix " + json.dumps(SPEC_EXAMPLE),  # "no additional data at the beginning or end"
        json.dumps(document(functionVersion=None)),  # a dimension names a missing member
        json.dumps(document(functionVersion=7)),  # dimension values are strings
        json.dumps(document(time="100")),  # metric values are numbers
        json.dumps(document(time=[])),
        json.dumps(document(time=list(range(101)))),  # at most 100 values
        json.dumps(document(Metrics=[{"Name": "time", "Unit": "Furlongs"}])),
        json.dumps(document(Metrics=[{"Name": "time", "StorageResolution": 5}])),
        json.dumps(document(Metrics=[{"Name": "time"}] * 101)),  # at most 100 metrics
        json.dumps(document(Dimensions=[[f"d{i}" for i in range(31)]])),  # at most 30 dimensions
        json.dumps({**SPEC_EXAMPLE, "_aws": {**SPEC_EXAMPLE["_aws"], "Timestamp": "now"}}),
        json.dumps({**SPEC_EXAMPLE, "_aws": {"Timestamp": 1574109732004}}),
        json.dumps(["_aws"]),
    ],
)
def test_an_invalid_document_gives_no_metrics_and_no_error(line: str) -> None:
    assert emf.parse(line) == []


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def emit(
        self, account: str, region: str, group: str, stream: str, message: str, timestamp_ms: int
    ) -> None:
        self.lines.append((group, message))


@pytest.fixture
def moto_cloudwatch() -> Iterator[None]:
    with mock_aws():
        STORE.clear()
        yield


def test_a_functions_emf_line_is_a_log_line_and_metrics(moto_cloudwatch: None) -> None:
    lines = Lines()
    sink = MetricsLogSink(lines)
    # A recent timestamp: CloudWatch keeps no datapoint older than two weeks.
    stamp = (int(time.time()) // 60 - 5) * 60_000 + 4
    text = json.dumps({**SPEC_EXAMPLE, "_aws": {**SPEC_EXAMPLE["_aws"], "Timestamp": stamp}})
    sink.emit("123456789012", "us-east-1", "/aws/lambda/fn", "stream", text, stamp + 60_000)
    sink.emit("123456789012", "us-east-1", "/aws/lambda/fn", "stream", "plain line", stamp + 60_001)
    assert lines.lines == [("/aws/lambda/fn", text), ("/aws/lambda/fn", "plain line")]
    dims = [{"Name": "functionVersion", "Value": "$LATEST"}]
    points = STORE.points("123456789012", "us-east-1", "lambda-function-metrics", "time", dims, 0, 4e9)
    # The document's value, in the minute of its _aws.Timestamp (not the log event's).
    assert [(p.at, p.count, p.total, p.unit) for p in points] == [
        ((stamp - 4) / 1000, 1.0, 100.0, "Milliseconds")
    ]
