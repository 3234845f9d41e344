"""Statistics over periods, as CloudWatch computes them (AWS "CloudWatch statistics definitions"), and
simple metric math.

- Periods start at StartTime rounded down (GetMetricData / GetMetricStatistics API reference: for a
  period of 60 s or more, to the whole minute; for 1, 5, 10, 20 or 30 s, to that division of a minute) and
  cover [start, EndTime): a period is returned only when it holds data.
- SampleCount, Sum, Minimum, Maximum, Average; percentiles pNN[.NN] from the values (nearest rank). Other
  extended statistics (trimmed means, IQM...) are not supported and return no datapoints.
- Metric math: arithmetic (+ - * /, parentheses, numbers) over the ids of other queries; a datapoint is
  computed where every series in the expression has one (AWS "Using metric math": "If a time series has
  a missing datapoint ... the result has no datapoint for that timestamp" unless FILL is used, which is
  not supported here).
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from .store import Point

PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100)$")
SIMPLE = ("SampleCount", "Sum", "Minimum", "Maximum", "Average")


class UnsupportedExpression(ValueError):
    pass


def aligned_start(start: float, period: int) -> float:
    step = period if period < 60 else 60
    return math.floor(start / step) * step


def periods(
    points: Sequence[Point], start: float, end: float, period: int
) -> list[tuple[float, list[Point]]]:
    """The periods with data, oldest first: (period start, its points)."""
    first = aligned_start(start, period)
    found: dict[int, list[Point]] = {}
    for point in points:
        if first <= point.at < end:
            found.setdefault(int((point.at - first) // period), []).append(point)
    return [(first + index * period, found[index]) for index in sorted(found)]


def is_supported(stat: str) -> bool:
    return stat in SIMPLE or PERCENTILE.match(stat) is not None


def value(points: Sequence[Point], stat: str) -> float | None:
    """The statistic over the points, or None (no data, or a percentile without the values)."""
    if not points:
        return None
    count = sum(p.count for p in points)
    if stat == "SampleCount":
        return count
    if stat == "Sum":
        return sum(p.total for p in points)
    if stat == "Minimum":
        return min(p.low for p in points)
    if stat == "Maximum":
        return max(p.high for p in points)
    if stat == "Average":
        return sum(p.total for p in points) / count if count else None
    match = PERCENTILE.match(stat)
    if match is None:
        return None
    weighted: list[tuple[float, float]] = []
    for point in points:
        if point.values is None:
            return None
        weighted.extend(point.values)
    weighted.sort()
    total = sum(c for _, c in weighted)
    rank = max(1.0, math.ceil(float(match.group(1)) / 100.0 * total))
    seen = 0.0
    for number, weight in weighted:
        seen += weight
        if seen >= rank:
            return number
    return weighted[-1][0]


# --- metric math -------------------------------------------------------------------------------------
_OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
Series = dict[float, float]


def evaluate_expression(expression: str, series: dict[str, Series]) -> Series:
    """An arithmetic expression over query ids; raises UnsupportedExpression for anything else."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsupportedExpression(expression) from exc

    def walk(node: ast.AST) -> Series | float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in series:
            return series[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = walk(node.operand)
            return -operand if isinstance(operand, float) else {t: -v for t, v in operand.items()}
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _combine(_OPERATORS[type(node.op)], walk(node.left), walk(node.right))
        raise UnsupportedExpression(expression)

    result = walk(tree)
    if isinstance(result, float):
        raise UnsupportedExpression(expression)  # a constant alone is not a time series
    return result


def _combine(function: Callable[[float, float], float], left: Series | float, right: Series | float) -> Any:
    def apply(a: float, b: float) -> float | None:
        try:
            return function(a, b)
        except ZeroDivisionError:
            return None

    if isinstance(left, float) and isinstance(right, float):
        return apply(left, right)
    if isinstance(left, float):
        pairs = {t: (left, v) for t, v in right.items()}  # type: ignore[union-attr]
    elif isinstance(right, float):
        pairs = {t: (v, right) for t, v in left.items()}
    else:
        pairs = {t: (v, right[t]) for t, v in left.items() if t in right}
    out = {t: apply(a, b) for t, (a, b) in pairs.items()}
    return {t: v for t, v in out.items() if v is not None}
