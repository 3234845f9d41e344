"""The embedded AWS's metric datapoints: kept in moto's CloudWatch backend (so ListMetrics and
moto's own paths see them) and indexed here by series, so that GetMetricData, GetMetricStatistics and
alarm evaluation read one series' datapoints instead of scanning every datapoint of the account.

What the embedded services publish is aggregated as CloudWatch stores it: one statistic set (SampleCount,
Sum, Minimum, Maximum) per series per minute (StorageResolution 60) or per second (1), with the values
kept for percentiles (AWS "CloudWatch concepts - Metrics": standard resolution is one-minute
granularity; high resolution one-second). Data older than 15 days is dropped (AWS keeps one-minute
datapoints for 15 days).
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

RETENTION_SECONDS = 15 * 24 * 3600
MAX_VALUES_PER_BUCKET = 10_000  # values kept per bucket for percentiles; beyond, a bounded sample

SeriesKey = tuple[str, str, str, str, tuple[tuple[str, str], ...]]  # account, region, namespace, name, dims


def epoch(value: datetime | float | int) -> float:
    """Seconds since the epoch; moto keeps naive datetimes in UTC."""
    if isinstance(value, (int, float)):
        return float(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def naive_utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)


def dimensions_key(dimensions: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """Dimensions as a sorted tuple, from dicts ({"Name", "Value"}) or moto's Dimension objects."""
    pairs = []
    for dimension in dimensions or ():
        if isinstance(dimension, dict):
            pairs.append((str(dimension.get("Name")), str(dimension.get("Value"))))
        else:
            pairs.append((str(dimension.name), str(dimension.value)))
    return tuple(sorted(pairs))


@dataclass
class Point:
    """What one datum contributes to a statistic."""

    at: float
    count: float
    total: float
    low: float
    high: float
    unit: str | None
    values: list[tuple[float, float]] | None = field(default=None)  # (value, count); None: not known


def point_of(datum: Any) -> Point:
    """A moto datum (MetricDatum, MetricAggregatedDatum, or ours) as a Point."""
    at = epoch(datum.timestamp)
    unit = getattr(datum, "unit", None)
    if hasattr(datum, "value"):
        value = float(datum.value)
        return Point(at, 1.0, value, value, value, unit, [(value, 1.0)])
    values = getattr(datum, "asyncapi_values", None)
    return Point(
        at,
        float(datum.sample_count),
        float(datum.sum),
        float(datum.min),
        float(datum.max),
        unit,
        [(v, 1.0) for v in values] if values is not None else None,
    )


def _aggregate_class() -> Any:
    from moto.cloudwatch.models import MetricAggregatedDatum

    class Aggregate(MetricAggregatedDatum):  # type: ignore[misc,valid-type]
        """A bucket the embedded services add to in place; its values serve percentiles."""

        def add(self, value: float) -> None:
            self.sum += value
            self.sample_count += 1
            self.min = min(self.min, value)
            self.max = max(self.max, value)
            if len(self.asyncapi_values) < MAX_VALUES_PER_BUCKET:
                self.asyncapi_values.append(value)

    return Aggregate


_AGGREGATE: Any = None


class MetricStore:
    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._series: dict[SeriesKey, list[tuple[float, Any]]] = {}
        self._buckets: dict[tuple[SeriesKey, float, str | None], Any] = {}
        self._pruned_at = 0.0

    # --- writing -----------------------------------------------------------------------------------
    def record(
        self,
        account: str,
        region: str,
        namespace: str,
        name: str,
        dimensions: dict[str, str],
        value: float,
        unit: str | None = None,
        at: float | None = None,
        resolution: int = 60,
    ) -> None:
        """Add one value to its series' bucket (the minute, or the second with resolution 1)."""
        when = self._clock() if at is None else at
        step = 1 if resolution == 1 else 60
        start = math.floor(when / step) * step
        dims = tuple(sorted(dimensions.items()))
        key: SeriesKey = (account, region, namespace, name, dims)
        value = float(value)
        with self._lock:
            bucket = self._buckets.get((key, start, unit))
            if bucket is not None:  # the common case: one more value in this minute
                bucket.add(value)
                return
        self._new_bucket(key, start, unit, value)
        self._prune_now_and_then()

    def _new_bucket(self, key: SeriesKey, start: float, unit: str | None, value: float) -> None:
        global _AGGREGATE
        if _AGGREGATE is None:
            _AGGREGATE = _aggregate_class()
        from moto.cloudwatch.models import cloudwatch_backends

        account, region, namespace, name, dims = key
        with self._lock:
            if (key, start, unit) in self._buckets:  # made by another thread meanwhile
                self._buckets[(key, start, unit)].add(value)
                return
            datum = _AGGREGATE(
                namespace=namespace,
                name=name,
                min_stat=value,
                max_stat=value,
                sample_count=1.0,
                sum_stat=value,
                dimensions=[{"Name": k, "Value": v} for k, v in dims],
                timestamp=naive_utc(start),
                unit=unit,
            )
            datum.asyncapi_values = [value]
            self._buckets[(key, start, unit)] = datum
            cloudwatch_backends[account][region].metric_data.append(datum)
            self._insert(key, start, datum)

    def index(self, account: str, region: str, data: Iterable[Any]) -> None:
        """Index datums moto stored itself (PutMetricData)."""
        with self._lock:
            for datum in data:
                if hasattr(datum, "asyncapi_values"):
                    continue  # one of ours, indexed when recorded
                key: SeriesKey = (
                    account,
                    region,
                    datum.namespace,
                    datum.name,
                    dimensions_key(datum.dimensions),
                )
                self._insert(key, epoch(datum.timestamp), datum)

    def _insert(self, key: SeriesKey, at: float, datum: Any) -> None:
        series = self._series.setdefault(key, [])
        if not series or series[-1][0] <= at:
            series.append((at, datum))
        else:  # an older timestamp (PutMetricData may send one): keep the series ordered
            series.insert(bisect.bisect_right(series, at, key=lambda item: item[0]), (at, datum))

    # --- reading -----------------------------------------------------------------------------------
    def points(
        self,
        account: str,
        region: str,
        namespace: str,
        name: str,
        dimensions: Iterable[Any],
        start: float,
        end: float,
        unit: str | None = None,
    ) -> list[Point]:
        """The datums of exactly this series (AWS matches a metric by its full set of dimensions)
        with start <= timestamp < end, of `unit` when given."""
        key: SeriesKey = (account, region, namespace, name, dimensions_key(dimensions))
        with self._lock:
            series = self._series.get(key) or []
            low = bisect.bisect_left(series, start, key=lambda item: item[0])
            high = bisect.bisect_left(series, end, key=lambda item: item[0])
            chosen = [datum for _, datum in series[low:high]]
            found = [point_of(datum) for datum in chosen]
        return [p for p in found if unit is None or p.unit == unit]

    def clear(self) -> None:
        """Forget every series (moto's backends were reset: tests)."""
        with self._lock:
            self._series.clear()
            self._buckets.clear()

    def series_count(self) -> int:
        with self._lock:
            return sum(1 for series in self._series.values() if series)

    # --- retention ---------------------------------------------------------------------------------
    def _prune_now_and_then(self) -> None:
        now = self._clock()
        if now - self._pruned_at < 3600:
            return
        self._pruned_at = now
        self.prune(now - RETENTION_SECONDS)

    def prune(self, before: float) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        with self._lock:
            stale: set[int] = set()
            for series in self._series.values():
                cut = bisect.bisect_left(series, before, key=lambda item: item[0])
                stale.update(id(datum) for _, datum in series[:cut])
                del series[:cut]
            self._buckets = {k: v for k, v in self._buckets.items() if k[1] >= before}
            if not stale:
                return
            for account, region in {(k[0], k[1]) for k in self._series}:
                backend = cloudwatch_backends[account][region]
                backend.metric_data = [d for d in backend.metric_data if id(d) not in stale]


STORE = MetricStore()
