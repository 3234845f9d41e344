"""GetMetricData and GetMetricStatistics answered from the metric store, as CloudWatch answers them.

moto 5.2.5 differs from AWS here (each difference checked against the CloudWatch API reference):
- GetMetricData with dimensions ignores the namespace and matches dimensions through a broken `__lt__`;
  GetMetricStatistics matches a *subset* of the dimensions (AWS: "you must specify the same dimensions
  that were used when the metrics were created");
- GetMetricStatistics starts its periods at the first datapoint, GetMetricData at the unrounded
  StartTime and adds a period starting at EndTime (AWS rounds StartTime down and returns [start, end));
- no percentiles (ExtendedStatistics, pNN in GetMetricData), and metric math only as a query's own id.
"""

from __future__ import annotations

from typing import Any

from . import statistics
from .statistics import UnsupportedExpression
from .store import STORE, epoch, naive_utc

# GetMetricStatistics API reference: "A single request can include no more than 1,440 data points"
# (the message as LocalStack's provider has it after its parity tests).
MAX_STATISTICS_DATAPOINTS = 1440


def _validation_error(message: str) -> Exception:
    from moto.cloudwatch.exceptions import ValidationError

    return ValidationError(message)  # type: ignore[no-any-return]


def stat_series(
    account: str, region: str, metric_stat: dict[str, Any], start: float, end: float
) -> dict[float, float]:
    """{period start: statistic} for one MetricStat."""
    metric = metric_stat.get("Metric") or {}
    period = int(metric_stat.get("Period") or 60)
    stat = str(metric_stat.get("Stat") or "Average")
    points = STORE.points(
        account,
        region,
        str(metric.get("Namespace") or ""),
        str(metric.get("MetricName") or ""),
        metric.get("Dimensions") or [],
        statistics.aligned_start(start, period),
        end,
        metric_stat.get("Unit"),
    )
    out = {}
    for at, members in statistics.periods(points, start, end, period):
        found = statistics.value(members, stat)
        if found is not None:
            out[at] = found
    return out


def metric_data(
    account: str, region: str, queries: list[dict[str, Any]], start: float, end: float
) -> tuple[dict[str, dict[float, float]], list[str]]:
    """Every query's series by id, and the ids in order. Raises UnsupportedExpression."""
    series: dict[str, dict[float, float]] = {}
    for query in queries:
        if "MetricStat" in query:
            series[query["Id"]] = stat_series(account, region, query["MetricStat"], start, end)
    for query in queries:
        if "Expression" in query:
            series[query["Id"]] = statistics.evaluate_expression(query["Expression"], series)
    return series, [q["Id"] for q in queries]


def _get_metric_data(original: Any) -> Any:
    def get_metric_data(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: Any,
        end_time: Any,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        if any(str(q.get("Expression", "")).lstrip().upper().startswith("SELECT") for q in queries):
            return original(self, queries, start_time, end_time, scan_by)  # Metrics Insights: moto's
        start, end = epoch(start_time), epoch(end_time)
        if start > end:
            raise _validation_error("The parameter EndTime must be greater than StartTime.")
        if start == end:
            raise _validation_error("The parameter StartTime must not equal parameter EndTime.")
        try:
            series, _ = metric_data(self.account_id, self.region_name, queries, start, end)
        except UnsupportedExpression as exc:
            raise _validation_error(
                f"The embedded AWS evaluates arithmetic metric math only (+ - * / over query ids): {exc}"
            ) from None
        results = []
        stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
        # A default label is the metric's name, with the Stat and the Period where the queries differ in
        # them (LocalStack's provider, after its parity tests on AWS).
        differing = [key for key in ("Stat", "Period") if len({str(m.get(key)) for m in stats}) > 1]
        for query in queries:
            if query.get("ReturnData") is False:
                continue
            points = sorted(series[query["Id"]].items(), reverse=scan_by != "TimestampAscending")
            if "MetricStat" in query:
                metric_stat = query["MetricStat"]
                extra = "".join(f" {metric_stat.get(key)}" for key in differing)
                default_label = f"{metric_stat['Metric'].get('MetricName')}{extra}"
            else:
                default_label = query["Id"]
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or default_label,
                    "values": [v for _, v in points],
                    "timestamps": [naive_utc(t) for t, _ in points],
                    "status_code": "Complete",
                }
            )
        return results

    return get_metric_data


def _get_metric_statistics(_original: Any) -> Any:
    def get_metric_statistics(self: Any) -> Any:
        from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
        from moto.core.responses import ActionResult

        stats = self._get_param("Statistics", []) or []
        extended = self._get_param("ExtendedStatistics", []) or []
        if not stats and not extended:
            raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
        start, end = epoch(self._get_param("StartTime")), epoch(self._get_param("EndTime"))
        if start >= end:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        period = self._get_int_param("Period")
        expected = (end - start) / period
        if expected > MAX_STATISTICS_DATAPOINTS:
            raise InvalidParameterCombination(
                f"You have requested up to {int(expected)} datapoints, which exceeds the limit of "
                f"{MAX_STATISTICS_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, "
                "or decreasing the time range."
            )
        backend = self.cloudwatch_backend
        points = STORE.points(
            backend.account_id,
            backend.region_name,
            self._get_param("Namespace"),
            self._get_param("MetricName"),
            self._get_param("Dimensions", []) or [],
            statistics.aligned_start(start, period),
            end,
            self._get_param("Unit"),
        )
        datapoints = []
        for at, members in statistics.periods(points, start, end, period):
            datapoint: dict[str, Any] = {"Timestamp": naive_utc(at), "Unit": members[0].unit or "None"}
            for stat in stats:
                datapoint[stat] = statistics.value(members, stat)
            found = {name: statistics.value(members, name) for name in extended}
            if extended:
                datapoint["ExtendedStatistics"] = {k: v for k, v in found.items() if v is not None}
            datapoints.append(datapoint)
        return ActionResult({"Label": self._get_param("MetricName"), "Datapoints": datapoints})

    return get_metric_statistics


def _put_metric_data(original: Any) -> Any:
    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        before = len(self.metric_data)
        original(self, namespace, metric_data)
        STORE.index(self.account_id, self.region_name, self.metric_data[before:])

    return put_metric_data
