"""EventBridge Scheduler expressions: validation and next-run evaluation (stdlib only).

Shipped in the Lambda zip (the schedules API validates with it) and used by the embedded AWS's
scheduler, so both judge an expression the same way. The rules are AWS's, from the EventBridge
Scheduler User Guide, "Schedule types on EventBridge Scheduler"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html):

- at(yyyy-mm-ddThh:mm:ss): one time, in the schedule's time zone.
- rate(value unit): value a positive integer, unit minute|minutes|hour|hours|day|days (the API
  reference's list, CreateSchedule ScheduleExpression). Without a StartDate a rate schedule starts
  at once, then every period.
- cron(minutes hours day-of-month month day-of-week year): six fields; minutes 0-59, hours 0-23,
  day-of-month 1-31 (wildcards , - * ? / L W), month 1-12 or JAN-DEC (, - * /), day-of-week 1-7
  or SUN-SAT, 1 = Sunday (, - * ? L #), year 1970-2199 (, - * /). Day-of-month and day-of-week
  cannot both be given: one of them must be "?".
- Daylight saving time: a local time that does not exist (spring forward) is skipped; a local time
  that occurs twice (fall back) runs once.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}  # JAN=1 ... (English)
MONTHS = {name.upper(): i for name, i in MONTHS.items()}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
YEAR_MIN, YEAR_MAX = 1970, 2199
_AT_RE = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE_RE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_CRON_RE = re.compile(r"^cron\((.*)\)$")


class ExpressionError(ValueError):
    """An expression, time zone or date EventBridge Scheduler would refuse; the text says why."""


@dataclass(frozen=True)
class At:
    local: datetime  # naive, in the schedule's time zone


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: str  # the raw field: "?", "L", "15W" or a list (kept for per-month evaluation)
    day_of_week: str


Expression = Union[At, Rate, Cron]  # noqa: UP007 (a runtime alias; py3.10 has | but keep it explicit)


def zone(name: str | None) -> ZoneInfo:
    """The IANA time zone (default UTC); ExpressionError for a name zoneinfo does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        if not available_timezones():  # no time zone data here at all: our fault, not the caller's
            raise RuntimeError("no IANA time zone data on this system (install tzdata)") from exc
        raise ExpressionError(f"unknown timezone {name!r} (use an IANA name such as Europe/Paris)") from exc


def parse(expression: str) -> Expression:
    if not isinstance(expression, str):
        raise ExpressionError("expression must be a string")
    if match := _AT_RE.match(expression):
        try:
            return At(datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
        except ValueError as exc:
            raise ExpressionError(f"invalid at() date {match.group(1)!r}") from exc
    if match := _RATE_RE.match(expression):
        value, unit = int(match.group(1)), match.group(2)
        if unit not in RATE_UNITS:
            raise ExpressionError(f"invalid rate unit {unit!r}: use minute(s), hour(s) or day(s)")
        if value < 1:
            raise ExpressionError("rate value must be a positive integer")
        return Rate(value * RATE_UNITS[unit])
    if expression.startswith("rate("):
        raise ExpressionError("invalid rate expression: use rate(<positive integer> <unit>)")
    if match := _CRON_RE.match(expression):
        return _parse_cron(match.group(1))
    raise ExpressionError("expression must be at(...), rate(...) or cron(...)")


def _parse_cron(body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ExpressionError(
            f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ExpressionError("cron: exactly one of day-of-month and day-of-week must be '?'")
    cron = Cron(
        minutes=_values(minute, 0, 59, "minutes"),
        hours=_values(hour, 0, 23, "hours"),
        months=_values(month, 1, 12, "month", MONTHS),
        years=_values(year, YEAR_MIN, YEAR_MAX, "year"),
        day_of_month=dom,
        day_of_week=dow.upper(),
    )
    if dom != "?":
        _check_day_of_month(dom)
    if dow != "?":
        _check_day_of_week(cron.day_of_week)
    return cron


def _number(token: str, low: int, high: int, field: str, names: dict[str, int] | None) -> int:
    upper = token.upper()
    if names and upper in names:
        return names[upper]
    if not token.isdigit():
        raise ExpressionError(f"cron {field}: {token!r} is not a value")
    value = int(token)
    if not low <= value <= high:
        raise ExpressionError(f"cron {field}: {value} is outside {low}-{high}")
    return value


def _values(
    spec: str, low: int, high: int, field: str, names: dict[str, int] | None = None
) -> frozenset[int]:
    """A field of , - * / (and names) as the set of values it selects."""
    result: set[int] = set()
    for part in spec.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ExpressionError(f"cron {field}: invalid increment in {part!r}")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, low, high, field, names), _number(last, low, high, field, names)
            if start > end:
                raise ExpressionError(f"cron {field}: range {base!r} runs backwards")
        else:
            start = _number(base, low, high, field, names)
            end = high if slash else start  # "0/15": from 0 every 15
        result.update(range(start, end + 1, step))
    return frozenset(result)


def _check_day_of_month(spec: str) -> None:
    if spec == "L" or re.fullmatch(r"\d{1,2}W", spec):
        if spec != "L":
            _number(spec[:-1], 1, 31, "day-of-month", None)
        return
    _values(spec, 1, 31, "day-of-month")


def _check_day_of_week(spec: str) -> None:
    if spec == "L":
        return
    if match := re.fullmatch(r"(\w+)L", spec):
        _number(match.group(1), 1, 7, "day-of-week", DAYS)
        return
    if match := re.fullmatch(r"(\w+)#(\d)", spec):
        _number(match.group(1), 1, 7, "day-of-week", DAYS)
        if not 1 <= int(match.group(2)) <= 5:
            raise ExpressionError("cron day-of-week: the n of 'd#n' must be 1-5")
        return
    _values(spec, 1, 7, "day-of-week", DAYS)


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Python: Monday=0; AWS: Sunday=1 ... Saturday=7


def _day_matches(cron: Cron, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    dom, dow = cron.day_of_month, cron.day_of_week
    if dom != "?":
        if dom == "L":
            return day.day == last
        if dom.endswith("W"):
            return day == _nearest_weekday(day.year, day.month, int(dom[:-1]))
        return day.day in _values(dom, 1, 31, "day-of-month")
    weekday = _aws_weekday(day)
    if dow == "L":
        return weekday == 7
    if dow.endswith("L"):
        return weekday == _number(dow[:-1], 1, 7, "day-of-week", DAYS) and day.day + 7 > last
    if "#" in dow:
        name, _, nth = dow.partition("#")
        return weekday == _number(name, 1, 7, "day-of-week", DAYS) and (day.day - 1) // 7 + 1 == int(nth)
    return weekday in _values(dow, 1, 7, "day-of-week", DAYS)


def _nearest_weekday(year: int, month: int, wanted: int) -> date:
    """ "15W": the weekday nearest the 15th, never leaving the month."""
    last = calendar.monthrange(year, month)[1]
    day = date(year, month, min(wanted, last))
    if day.weekday() == 5:  # Saturday: Friday before, or Monday after when the 1st
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    if day.weekday() == 6:  # Sunday: Monday after, or Friday before when the last day
        return day + timedelta(days=1) if day.day < last else day - timedelta(days=2)
    return day


def _localize(local: datetime, tz: ZoneInfo) -> datetime | None:
    """The instant of a wall-clock time; None when it does not exist (a spring-forward gap).
    A repeated wall-clock time (fall back) gives its first instant, so it runs once."""
    aware = local.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
    return aware.astimezone(timezone.utc) if back == local else None


def occurrences(
    expression: Expression,
    tz: ZoneInfo,
    not_before: datetime,
    *,
    anchor: datetime | None = None,
) -> datetime | None:
    """The first run at or after `not_before` (aware), in UTC; None when there is none.
    `anchor` is where a rate schedule starts (its StartDate, else its creation)."""
    not_before = not_before.astimezone(timezone.utc)
    if isinstance(expression, At):
        when = _localize(expression.local, tz) or expression.local.replace(tzinfo=tz).astimezone(timezone.utc)
        return when if when >= not_before else None
    if isinstance(expression, Rate):
        start = (anchor or not_before).astimezone(timezone.utc)
        if not_before <= start:
            return start
        periods = -(-(not_before - start).total_seconds() // expression.seconds)  # ceiling
        return start + timedelta(seconds=periods * expression.seconds)
    return _next_cron(expression, tz, not_before)


def _next_cron(cron: Cron, tz: ZoneInfo, not_before: datetime) -> datetime | None:
    local_start = not_before.astimezone(tz).replace(tzinfo=None)
    first_day = local_start.date()
    for year in sorted(y for y in cron.years if y >= first_day.year):
        for month in sorted(cron.months):
            if (year, month) < (first_day.year, first_day.month):
                continue
            for day_number in range(1, calendar.monthrange(year, month)[1] + 1):
                day = date(year, month, day_number)
                if day < first_day or not _day_matches(cron, day):
                    continue
                for hour in sorted(cron.hours):
                    for minute in sorted(cron.minutes):
                        when = _localize(datetime(year, month, day_number, hour, minute), tz)
                        if when is not None and when >= not_before:
                            return when
    return None


def next_run(
    expression: str,
    timezone_name: str | None,
    not_before: datetime,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    anchor: datetime | None = None,
) -> datetime | None:
    """The next run at or after `not_before`, honouring StartDate (`start`) and EndDate (`end`)."""
    parsed = parse(expression)
    tz = zone(timezone_name)
    floor = max(not_before, start) if start is not None and not isinstance(parsed, At) else not_before
    when = occurrences(parsed, tz, floor, anchor=start or anchor)
    if when is not None and end is not None and when > end:
        return None
    return when


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
