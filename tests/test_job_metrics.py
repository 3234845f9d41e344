"""The processor's job metrics: one embedded-metric-format (EMF) line per job outcome, checked against the
specification ("Specification: Embedded metric format", CloudWatch user guide), from the handlers as
they ship in the Lambda zip, against moto.
"""

from __future__ import annotations

import json
import math
import time
from types import ModuleType
from typing import Any

import pytest

from asyncapi_cli.dayops.logs import _matches, readable

from .test_handlers import handlers, lambda_code, process, record  # noqa: F401  (fixtures)

# The specification's units ("MetricDefinition object": Unit is optional, one of these).
EMF_UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def assert_emf(document: dict[str, Any]) -> None:
    """The specification's rules for a document CloudWatch Logs turns into metrics."""
    metadata = document["_aws"]  # the "_aws" root member: the metadata object
    assert isinstance(metadata["Timestamp"], int) and metadata["Timestamp"] > 1_600_000_000_000  # epoch ms
    directives = metadata["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for directive in directives:  # MetricDirective objects
        namespace = directive["Namespace"]
        assert isinstance(namespace, str) and 1 <= len(namespace) <= 1024 and not namespace.startswith("AWS/")
        dimension_sets = directive["Dimensions"]  # an array of DimensionSet arrays
        assert isinstance(dimension_sets, list)
        for dimension_set in dimension_sets:
            assert 1 <= len(dimension_set) <= 30  # "A DimensionSet can contain up to 30 dimension keys"
            for name in dimension_set:  # each refers to a root member whose value is a string
                assert isinstance(document[name], str) and 1 <= len(document[name]) <= 1024
        metrics = directive["Metrics"]
        assert 1 <= len(metrics) <= 100  # "up to 100 MetricDefinition objects"
        for metric in metrics:
            assert isinstance(metric["Name"], str) and 1 <= len(metric["Name"]) <= 1024
            assert metric.get("Unit", "None") in EMF_UNITS
            value = document[metric["Name"]]  # a root member: a number (or up to 100 numbers)
            assert isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def emf_lines(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


@pytest.fixture
def stack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNCAPI_STACK", "metrics-stack")


def test_a_completed_job_emits_one_line_with_its_duration_and_time_queued(
    handlers: dict[str, ModuleType],  # noqa: F811
    stack_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = record("emf-1", {"seconds": 0.3})
    submitted_ms = int(message["messageAttributes"]["submittedAt"]["stringValue"])
    before = time.time() * 1000
    assert process(handlers, message) == []
    after = time.time() * 1000
    [line] = emf_lines(capsys.readouterr().out)
    assert_emf(line)
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "asyncapi" and directive["Dimensions"] == [["Stack", "Priority"]]
    assert (line["Stack"], line["Priority"]) == ("metrics-stack", "normal")
    assert (line["JobsCompleted"], line["JobsFailed"]) == (1, 0)
    assert 300 <= line["JobDuration"] <= after - before
    # From submission (the message's submittedAt) to the start of the work.
    assert before - submitted_ms <= line["TimeQueued"] <= after - submitted_ms
    assert before <= line["_aws"]["Timestamp"] <= after
    # No job id: `asyncapi logs --job` shows the job's own lines, as before.
    assert "jobId" not in line
    assert not _matches({"message": json.dumps(line)}, "emf-1")
    # `asyncapi logs` shows the figures, not the EMF metadata.
    shown = readable({"message": json.dumps(line), "timestamp": line["_aws"]["Timestamp"]})["message"]
    assert shown.startswith("job-metrics ") and "JobsCompleted=1" in shown and "_aws" not in shown


def test_a_job_failed_for_good_counts_once_and_its_retries_not_at_all(
    handlers: dict[str, ModuleType],  # noqa: F811
    stack_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = {"fail": True}
    for attempt in (1, 2):
        process(handlers, record("emf-fail", payload, receive_count=attempt))
    assert emf_lines(capsys.readouterr().out) == []
    process(handlers, record("emf-fail", payload, receive_count=3))
    [line] = emf_lines(capsys.readouterr().out)
    assert_emf(line)
    assert (line["JobsCompleted"], line["JobsFailed"]) == (0, 1)
    # A redelivery of the failed job runs nothing and counts nothing.
    process(handlers, record("emf-fail", payload, receive_count=4))
    assert emf_lines(capsys.readouterr().out) == []


def test_priority_is_the_messages_and_a_duplicate_delivery_counts_nothing(
    handlers: dict[str, ModuleType],  # noqa: F811
    stack_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = record("emf-high", {"a": 1})
    message["messageAttributes"]["priority"] = {"stringValue": "high", "dataType": "String"}
    process(handlers, message)
    process(handlers, record("emf-high", {"a": 1}, receive_count=2))  # a duplicate of a completed job
    [line] = emf_lines(capsys.readouterr().out)
    assert_emf(line)
    assert line["Priority"] == "high"


def test_the_validator_refuses_what_the_specification_does() -> None:
    good = {
        "_aws": {
            "Timestamp": 1_764_241_200_000,
            "CloudWatchMetrics": [{"Namespace": "n", "Dimensions": [["D"]], "Metrics": [{"Name": "M"}]}],
        },
        "D": "x",
        "M": 1,
    }
    assert_emf(good)
    for broken in (
        {**good, "M": "1"},  # a metric value that is no number
        {**good, "D": 3},  # a dimension value that is no string
        {k: v for k, v in good.items() if k != "M"},  # a metric without its member
        {**good, "_aws": {**good["_aws"], "Timestamp": "2026-12-07T00:00:00Z"}},  # not epoch milliseconds
    ):
        with pytest.raises((AssertionError, KeyError)):
            assert_emf(broken)
