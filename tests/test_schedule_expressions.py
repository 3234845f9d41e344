"""EventBridge Scheduler expressions: validator and next-run evaluator (handlers/schedule_expressions.py).

Source for every rule and example: EventBridge Scheduler User Guide, "Schedule types on EventBridge Scheduler"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), its cron examples table, and the
CreateSchedule API reference (ScheduleExpression: rate units minute|minutes|hour|hours|day|days).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from asyncapi_cli.handler_modules import load

expressions = load("schedule_expressions")
ExpressionError, next_run, parse, zone = (
    expressions.ExpressionError,
    expressions.next_run,
    expressions.parse,
    expressions.zone,
)
UTC = timezone.utc


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(2 hours)",
        "rate(1 day)",
        "at(2026-12-01T09:00:00)",
        # The User Guide's cron examples.
        "cron(0 10 * * ? *)",
        "cron(15 12 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0/10 * ? * MON-FRI *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0/30 20-23 ? * MON-FRI *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 12 L * ? *)",
        "cron(0 12 15W * ? *)",
        "cron(0 12 ? * 6L 2026-2030)",
        "cron(0 9 1 JAN,JUL ? *)",
    ],
)
def test_valid_expressions_parse(expression: str) -> None:
    parse(expression)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(0 minutes)", "positive"),
        ("rate(5 seconds)", "unit"),
        ("rate(-1 minutes)", "rate"),
        ("rate(five minutes)", "rate"),
        ("cron(0 9 * * *)", "6 fields"),  # Unix 5-field cron is not AWS's
        ("cron(0 9 * * * *)", "'?'"),  # day-of-month and day-of-week both given
        ("cron(0 9 ? * ? *)", "'?'"),  # both '?'
        ("cron(60 9 * * ? *)", "0-59"),
        ("cron(0 24 * * ? *)", "0-23"),
        ("cron(0 9 32 * ? *)", "1-31"),
        ("cron(0 9 * 13 ? *)", "1-12"),
        ("cron(0 9 ? * 8 *)", "1-7"),
        ("cron(0 9 * * ? 1969)", "1970-2199"),
        ("cron(0 9 * * ? 2200)", "1970-2199"),
        ("cron(0 9 ? * 2#6 *)", "1-5"),
        ("cron(0/0 * * * ? *)", "increment"),
        ("cron(30-10 * * * ? *)", "backwards"),
        ("at(2026-13-01T09:00:00)", "at()"),
        ("at(2026-12-01 09:00:00)", "expression must be"),
        ("every day", "expression must be"),
    ],
)
def test_invalid_expressions_say_why(expression: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(expression)
    assert reason in str(caught.value)


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ExpressionError, match="unknown timezone"):
        zone("Mars/Olympus")
    with pytest.raises(ExpressionError, match="unknown timezone"):
        zone("../etc/passwd")
    assert str(zone("Europe/Paris")) == "Europe/Paris"


def test_rate_starts_at_once_then_every_period() -> None:
    # "If you do not provide a StartDate for a rate-based schedule, your schedule starts invoking the target
    # immediately."
    created = utc(2026, 5, 1, 10, 0, 30)
    assert next_run("rate(5 minutes)", None, created, anchor=created) == created
    later = utc(2026, 5, 1, 10, 3, 0)
    assert next_run("rate(5 minutes)", None, later, anchor=created) == utc(2026, 5, 1, 10, 5, 30)


def test_rate_with_start_and_end_dates() -> None:
    start = utc(2026, 5, 2, 0, 0)
    now = utc(2026, 5, 1, 12, 0)
    assert next_run("rate(1 hour)", None, now, start=start) == start
    end = utc(2026, 5, 2, 1, 30)
    assert next_run("rate(1 hour)", None, utc(2026, 5, 2, 1, 0, 1), start=start, end=end) is None


def test_cron_examples_next_run() -> None:
    now = utc(2026, 11, 27, 18, 7)  # a Friday
    assert next_run("cron(0 10 * * ? *)", None, now) == utc(2026, 11, 28, 10, 0)
    assert next_run("cron(0/15 * * * ? *)", None, now) == utc(2026, 11, 27, 18, 15)
    assert next_run("cron(0 18 ? * MON-FRI *)", None, now) == utc(2026, 11, 30, 18, 0)  # next Monday
    assert next_run("cron(0 8 1 * ? *)", None, now) == utc(2026, 12, 1, 8, 0)
    assert next_run("cron(0 9 ? * 2#1 *)", None, now) == utc(2026, 12, 7, 9, 0)  # first Monday of December
    assert next_run("cron(0 12 L * ? *)", None, now) == utc(2026, 11, 30, 12, 0)
    assert next_run("cron(0 12 ? * 6L *)", None, now) == utc(2026, 11, 27, 12, 0).replace(month=12, day=25)
    # 1W: August 1st 2026 is a Saturday, so the nearest weekday in the month is Monday the 3rd.
    assert next_run("cron(0 12 1W * ? *)", None, utc(2026, 7, 30)) == utc(2026, 8, 3, 12, 0)
    assert next_run("cron(0 9 * * ? 2020)", None, now) is None
    assert next_run("cron(7 18 * * ? *)", None, now) == now  # at or after: the current minute counts


def test_cron_in_a_timezone_and_across_daylight_saving_time() -> None:
    # 09:00 in Paris is 08:00 UTC in winter (CET, UTC+1).
    assert next_run("cron(0 9 * * ? *)", "Europe/Paris", utc(2026, 11, 27, 12)) == utc(2026, 11, 28, 8, 0)
    # Spring forward (Paris, 2026-03-29: 02:00 -> 03:00): 02:30 does not exist that day and is skipped.
    assert next_run("cron(30 2 * * ? *)", "Europe/Paris", utc(2026, 3, 28, 12)) == utc(2026, 3, 30, 0, 30)
    # Fall back (Paris, 2026-10-25: 03:00 -> 02:00): 02:30 happens twice and runs once, at its first instant.
    first = next_run("cron(30 2 * * ? *)", "Europe/Paris", utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)
    following = next_run("cron(30 2 * * ? *)", "Europe/Paris", utc(2026, 10, 25, 0, 31))
    assert following == utc(2026, 10, 26, 1, 30)


def test_at_is_in_the_schedule_timezone() -> None:
    assert next_run("at(2026-12-01T09:00:00)", "Europe/Paris", utc(2026, 11, 1)) == utc(2026, 12, 1, 8, 0)
    assert next_run("at(2026-12-01T09:00:00)", None, utc(2026, 12, 1, 9, 0, 1)) is None
