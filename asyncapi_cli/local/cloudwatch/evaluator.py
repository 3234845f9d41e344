"""Metric alarm evaluation with CloudWatch's semantics (CloudWatch user guide, "Using Amazon CloudWatch
alarms": "Evaluating an alarm", "How alarm state is evaluated when data is missing", "Avoiding premature
transitions to alarm state").

An alarm is evaluated over its *evaluation range*: more periods than EvaluationPeriods (N) are read
(the guide's tables: N = 3, 5 periods retrieved). Then:
- at least N periods have data: the N most recent datapoints are evaluated; M (DatapointsToAlarm)
  breaching -> ALARM, else OK (TreatMissingData plays no part);
- no period has data: missing -> INSUFFICIENT_DATA, ignore -> the state is kept, breaching -> ALARM,
  notBreaching -> OK;
- fewer than N: breaching / notBreaching fill the missing datapoints up to N with that value and
  evaluate; missing / ignore evaluate what exists: M breaching -> ALARM; a non-breaching datapoint -> OK;
  all breaching but fewer than M: missing -> ALARM when the oldest breaching datapoint is at least M
  periods old (the premature-transition rule), else INSUFFICIENT_DATA; ignore -> the state is kept.

A percentile alarm with EvaluateLowSampleCountPercentile "ignore" keeps its state while an evaluated
period has fewer than 10/(1-p) samples. Metric math alarms evaluate arithmetic expressions. Not evaluated
locally (their state stays as set): composite alarms, anomaly-detection bands, Metrics Insights queries.

`decide` is pure (tests pin the guide's tables case by case); `evaluate_alarm` reads the metric store at
an injected time and applies the decision to moto's alarm.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import queries, statistics
from .statistics import UnsupportedExpression

log = logging.getLogger("asyncapi.local.cloudwatch")

COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
TREATMENT_LABEL = {"breaching": "Breaching", "notBreaching": "NonBreaching"}


def evaluation_range(evaluation_periods: int) -> int:
    """Periods read per evaluation: the guide's example reads 5 for N = 3; it gives no formula. The same
    as LocalStack's (N + max(N // 3, 2))."""
    return evaluation_periods + max(evaluation_periods // 3, 2)


@dataclass(frozen=True)
class Decision:
    state: str | None  # None: keep the current state (ignore)
    reason: str
    evaluated: tuple[tuple[int, float | None], ...]  # (index in the range, value) of what was evaluated


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def decide(
    values: Sequence[float | None],
    evaluation_periods: int,
    datapoints_to_alarm: int,
    comparison: str,
    threshold: float,
    treat_missing: str = "missing",
    labels: Sequence[str] | None = None,
    current: str = "INSUFFICIENT_DATA",
) -> Decision:
    """The alarm's state from the datapoints of its evaluation range (oldest first, None = missing)."""
    compare, phrase = COMPARISONS[comparison]
    n, m = evaluation_periods, datapoints_to_alarm
    labels = labels or [""] * len(values)
    existing = [(i, v) for i, v in enumerate(values) if v is not None]
    breaching = lambda v: compare(v, threshold)  # noqa: E731

    def described(items: Sequence[tuple[int, float | None]]) -> str:
        shown = [f"{v} ({labels[i]})" if labels[i] else str(v) for i, v in reversed(items) if v is not None]
        return "[" + ", ".join(shown) + "]"

    def crossed(state: str, items: Sequence[tuple[int, float | None]], filled: int = 0) -> Decision:
        real = [(i, v) for i, v in items if v is not None]
        if state == "ALARM":
            counted = [(i, v) for i, v in real if breaching(v)]
            needed, verb, transition = m, "was", f"{current} -> ALARM"
        else:
            counted = [(i, v) for i, v in real if not breaching(v)]
            needed, verb, transition = n - m + 1, "was not", f"{current} -> OK"
        if n == 1 and len(items) == 1:
            # One period evaluated: AWS's short form (LocalStack's parity snapshot of a 1-of-1 alarm,
            # test_cloudwatch.py::test_put_metric_alarm: "Threshold Crossed: 1 datapoint [21.5 (...)] was
            # greater than the threshold (21.0).").
            text = (
                f"Threshold Crossed: 1 datapoint {described(items)} {verb} {phrase} "
                f"the threshold ({float(threshold)})."
            )
        else:
            text = (
                f"Threshold Crossed: {len(counted)} out of the last {len(items)} datapoints "
                f"{described(counted)} {verb} {phrase} the threshold ({float(threshold)}) "
                f"(minimum {_plural(needed, 'datapoint')} for {transition} transition)."
            )
        if filled:
            text = text[:-1] + (
                f"; {_plural(filled, 'missing datapoint')} {'was' if filled == 1 else 'were'} treated as "
                f"[{TREATMENT_LABEL.get(treat_missing, treat_missing)}]."
            )
        return Decision(state, text, tuple(items))

    if len(existing) >= n:
        window = existing[-n:]
        count = sum(1 for _, v in window if breaching(v))  # type: ignore[arg-type]
        return crossed("ALARM" if count >= m else "OK", window)
    if not existing:
        if treat_missing in ("breaching", "notBreaching"):
            state = "ALARM" if treat_missing == "breaching" else "OK"
            text = (
                f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
                f"{_plural(n, 'missing datapoint')} {'was' if n == 1 else 'were'} treated as "
                f"[{TREATMENT_LABEL[treat_missing]}]."
            )
            return Decision(state, text, tuple((i, None) for i in range(len(values) - n, len(values))))
        if treat_missing == "ignore":
            return Decision(None, "", ())
        return Decision(
            "INSUFFICIENT_DATA",
            f"Insufficient Data: {_plural(n, 'datapoint')} {'was' if n == 1 else 'were'} unknown.",
            (),
        )
    missing = n - len(existing)
    if treat_missing in ("breaching", "notBreaching"):
        fill = treat_missing == "breaching"
        count = sum(1 for _, v in existing if breaching(v)) + (missing if fill else 0)  # type: ignore[arg-type]
        return crossed("ALARM" if count >= m else "OK", existing, filled=missing)
    count = sum(1 for _, v in existing if breaching(v))  # type: ignore[arg-type]
    if count >= m:
        return crossed("ALARM", existing)
    if count < len(existing):
        return crossed("OK", existing)
    # Every existing datapoint breaches, fewer than M of them.
    if treat_missing == "ignore":
        return Decision(None, "", tuple(existing))
    oldest_age = len(values) - existing[0][0]  # periods since the oldest breaching datapoint
    if oldest_age >= m:
        return crossed("ALARM", existing)
    return Decision(
        "INSUFFICIENT_DATA",
        f"Insufficient Data: {_plural(missing, 'datapoint')} {'was' if missing == 1 else 'were'} unknown.",
        tuple(existing),
    )


# --- moto's alarms -------------------------------------------------------------------------------------
def _stamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _label(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def _query_dict(query: Any) -> dict[str, Any]:
    """moto's MetricDataQuery object as the API's structure."""
    out: dict[str, Any] = {"Id": query.id, "ReturnData": query.return_data not in (False, "false")}
    if query.expression:
        out["Expression"] = query.expression
    if query.metric_stat is not None:
        metric = query.metric_stat.metric
        out["MetricStat"] = {
            "Metric": {
                "Namespace": metric.namespace,
                "MetricName": metric.metric_name,
                "Dimensions": [{"Name": d.name, "Value": d.value} for d in metric.dimensions],
            },
            "Period": int(query.metric_stat.period or 60),
            "Stat": query.metric_stat.stat,
            **({"Unit": query.metric_stat.unit} if query.metric_stat.unit else {}),
        }
    return out


def alarm_period(alarm: Any) -> int:
    if alarm.period:
        return int(alarm.period)
    for query in alarm.metric_data_queries or []:
        if query.metric_stat is not None and query.metric_stat.period:
            return int(query.metric_stat.period)
        if query.period:
            return int(query.period)
    return 60


def alarm_values(
    account: str, region: str, alarm: Any, start: float, end: float, statistic: str | None = None
) -> dict[float, float]:
    """{period start: value} of what the alarm watches (another statistic of its metric with
    `statistic`). Raises UnsupportedExpression."""
    if alarm.metric_data_queries:
        chosen = [_query_dict(q) for q in alarm.metric_data_queries]
        series, _ = queries.metric_data(account, region, chosen, start, end)
        returned = [q["Id"] for q in chosen if q["ReturnData"]] or [chosen[-1]["Id"]]
        return series[returned[0]]
    stat = statistic or alarm.extended_statistic or alarm.statistic or "Average"
    metric_stat = {
        "Metric": {
            "Namespace": alarm.namespace,
            "MetricName": alarm.metric_name,
            "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        },
        "Period": alarm_period(alarm),
        "Stat": stat,
        **({"Unit": alarm.unit} if alarm.unit else {}),
    }
    return queries.stat_series(account, region, metric_stat, start, end)


def minimum_samples(percentile: float) -> float:
    """Below this many samples a percentile is "low sample count" (the guide's "Percentile-based alarms
    and low data samples": 10/(1-p) for p in [0.5, 1), 10/p below 0.5)."""
    p = percentile / 100.0
    if p >= 1.0:
        return 0.0
    return 10.0 / (1.0 - p) if p >= 0.5 else 10.0 / p


def _too_few_samples(
    account: str, region: str, alarm: Any, start: float, end: float, evaluated: list[float]
) -> bool:
    """EvaluateLowSampleCountPercentile "ignore": a percentile alarm keeps its state while an evaluated
    period has too few samples."""
    stat = alarm.extended_statistic or ""
    match = statistics.PERCENTILE.match(stat)
    if alarm.evaluate_low_sample_count_percentile != "ignore" or match is None or not evaluated:
        return False
    counts = alarm_values(account, region, alarm, start, end, statistic="SampleCount")
    needed = minimum_samples(float(match.group(1)))
    return any(counts.get(at, 0.0) < needed for at in evaluated)


def evaluate_alarm(account: str, region: str, alarm: Any, now: float) -> bool:
    """Evaluate one of moto's metric alarms at `now`; True when its state changed."""
    if alarm.comparison_operator not in COMPARISONS:
        return False  # anomaly-detection bands are not evaluated locally
    stat = alarm.extended_statistic or alarm.statistic
    if not alarm.metric_data_queries and stat and not statistics.is_supported(stat):
        return False
    period = alarm_period(alarm)
    n = int(alarm.evaluation_periods or 1)
    m = int(alarm.datapoints_to_alarm or n)
    span = evaluation_range(n)
    end = math.floor(now / period) * period  # the last closed period ends here
    start = end - span * period
    try:
        found = alarm_values(account, region, alarm, start, end)
    except UnsupportedExpression:
        return False
    starts = [start + i * period for i in range(span)]
    values = [found.get(at) for at in starts]
    decision = decide(
        values,
        n,
        m,
        alarm.comparison_operator,
        float(alarm.threshold or 0.0),
        alarm.treat_missing_data or "missing",
        [_label(at) for at in starts],
        alarm.state_value,
    )
    if decision.state is None or decision.state == alarm.state_value:
        return False
    if _too_few_samples(account, region, alarm, start, end, [starts[i] for i, _ in decision.evaluated]):
        return False
    samples = (
        {} if alarm.metric_data_queries else alarm_values(account, region, alarm, start, end, "SampleCount")
    )
    reason_data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _stamp(now),
        "startDate": _stamp(starts[decision.evaluated[0][0]] if decision.evaluated else start),
        **({"statistic": alarm.statistic} if alarm.statistic else {}),
        **({"extendedStatistic": alarm.extended_statistic} if alarm.extended_statistic else {}),
        **({"unit": alarm.unit} if alarm.unit else {}),
        "period": period,
        "recentDatapoints": [v for v in values if v is not None],
        "threshold": float(alarm.threshold or 0.0),
        "evaluatedDatapoints": [
            {
                "timestamp": _stamp(starts[i]),
                **({"sampleCount": samples[starts[i]]} if starts[i] in samples else {}),
                **({"value": v} if v is not None else {}),
            }
            for i, v in reversed(decision.evaluated)
        ],
    }
    alarm.update_state(decision.reason, json.dumps(reason_data), decision.state)
    return True


def evaluate_all(now: float, minute: bool = True) -> int:
    """The metric alarms of every account and region at `now` (on a minute boundary: all of them; between:
    the high-resolution ones, periods of 10 or 30 s); the number evaluated."""
    from moto.cloudwatch.models import cloudwatch_backends

    evaluated = 0
    for account, regions in list(cloudwatch_backends.items()):
        for region, backend in list(regions.items()):
            for alarm in list(backend.alarms.values()):
                if alarm.rule is not None:
                    continue  # composite alarms are not evaluated locally
                if not minute and alarm_period(alarm) >= 60:
                    continue
                try:
                    evaluate_alarm(account, region, alarm, now)
                    evaluated += 1
                except Exception:  # one broken alarm must not stop the others
                    log.exception("evaluating alarm %s", alarm.name)
    return evaluated
