"""The stack's schedules (feature scheduling), behind `asyncapi schedules`, `test-job --at/--every --runs`
and the dashboard's schedules page.

- `parse_at("+10s" | "+5m" | "+2h" | "+1d" | ISO 8601, now)`: the run time; InputError otherwise.
- `schedule_body(payload, at=..., every=..., timezone=..., end_at=...)`: the POST /schedules body.
- `create`, `describe`, `delete`: the stack's schedules API over HTTP (transport.http).
- `wait_for_runs(...)`: poll GET /schedules/{id} until N runs completed or failed (jittered backoff,
  injectable Pacer), then the caller DELETEs the schedule.
- `list_schedules(scheduler, group)`: every schedule of the stack's group (ListSchedules, paginated);
  `group_of(stack)` names that group.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import AsyncApiError, InputError, JobTimeoutError
from ..features import scheduling, wiring
from ..retry import Pacer
from .transport import http

_RELATIVE_RE = re.compile(r"^\+(\d+)(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
FINAL = ("completed", "failed")


def parse_at(text: str, now: datetime) -> datetime:
    """`+10s`, `+5m`, `+2h`, `+1d` from now, or an ISO 8601 date-time (UTC when it has no offset)."""
    if match := _RELATIVE_RE.match(text.strip()):
        return now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"invalid --at {text!r}: use +10s, +5m, +2h, +1d or an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def schedule_body(
    payload: dict[str, Any],
    *,
    at: datetime | None = None,
    every: str | None = None,
    timezone_name: str | None = None,
    end_at: datetime | None = None,
) -> dict[str, Any]:
    if (at is None) == (every is None):
        raise InputError("give one of --at and --every")
    body: dict[str, Any] = {"job": payload}
    if at is not None:
        # API Gateway and the API count whole seconds; round up so "+10s" is never in the past.
        rounded = at.replace(microsecond=0) + (timedelta(seconds=1) if at.microsecond else timedelta())
        body["runAt"] = iso(rounded)
    else:
        body["expression"] = every
    if timezone_name:
        body["timezone"] = timezone_name
    if end_at is not None:
        body["endAt"] = iso(end_at)
    return body


def _api(api_url: str) -> str:
    return api_url.rstrip("/")


def _failure(answer: Any, what: str) -> AsyncApiError:
    message = answer.body.get("message") if isinstance(answer.body, dict) else None
    if answer.status in (400, 409):  # 409: the stack's cap on active schedules
        return InputError(f"{what} refused: {message or 'bad request'}")
    return AsyncApiError(f"{what} failed: HTTP {answer.status}{f' ({message})' if message else ''}")


def create(api_url: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /schedules: {"scheduleId", "nextRunAt"}."""
    answer = http("POST", f"{_api(api_url)}/schedules", body)
    if answer.status != 201 or not isinstance(answer.body, dict):
        raise _failure(answer, "creating the schedule")
    return answer.body


def describe(api_url: str, schedule_id: str) -> dict[str, Any]:
    answer = http("GET", f"{_api(api_url)}/schedules/{schedule_id}")
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise _failure(answer, f"reading schedule {schedule_id}")
    return answer.body


def delete(api_url: str, schedule_id: str) -> None:
    answer = http("DELETE", f"{_api(api_url)}/schedules/{schedule_id}")
    if answer.status not in (204, 404):
        raise _failure(answer, f"deleting schedule {schedule_id}")


def finished_runs(described: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for run in described.get("runs") or [] if run.get("status") in FINAL]


def wait_for_runs(
    api_url: str,
    schedule_id: str,
    runs: int,
    *,
    timeout: float,
    pacer: Pacer | None = None,
    on_progress: Any = None,
) -> dict[str, Any]:
    """GET the schedule until `runs` of its jobs finished; the last description. JobTimeoutError after
    `timeout` seconds."""
    pacer = pacer or Pacer()
    deadline = pacer.clock() + timeout
    attempt, seen = 0, -1
    while True:
        described = describe(api_url, schedule_id)
        done = len(finished_runs(described))
        if done != seen and on_progress is not None:
            on_progress(described)
        seen = done
        if done >= runs:
            return described
        if described.get("state") == "deleted" and described.get("runCount", 0) == done:
            return described  # deleted: it will not run again
        # "completed" is no such end: the scheduler has sent its last run, and that job may still wait
        # in the queue (a run counts once the processor takes it), so the wait goes on until --timeout.
        delay = max(0.2, pacer.backoff(attempt, 0.5, 5.0))
        if pacer.clock() + delay > deadline:
            raise JobTimeoutError(
                f"schedule {schedule_id}: {done} of {runs} runs finished within {timeout:g} s"
            )
        attempt = min(attempt + 1, 6)
        pacer.sleep(delay)


def require_feature(stack: Any, key: str, feature: str) -> None:
    """InputError unless the stack's record holds `key`, the resource `feature` adds."""
    if key not in stack.state.resources:
        raise InputError(
            f"stack {stack.state.name} has no {feature}: turn it on "
            f"(asyncapi up --with {feature}, or [features] {feature} = true in asyncapi.toml)"
        )


def group_of(stack: Any) -> str:
    """The stack's schedule group (feature scheduling)."""
    return scheduling.group_name(wiring.target(stack.ctx))


def list_schedules(scheduler: Any, group: str) -> list[dict[str, Any]]:
    """Name, state, expression and timezone of every schedule in the stack's group."""
    found = []
    for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group):
        for summary in page.get("Schedules", []):
            detail = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
            found.append(
                {
                    "scheduleId": summary["Name"],
                    "state": detail.get("State"),
                    "expression": detail.get("ScheduleExpression"),
                    "timezone": detail.get("ScheduleExpressionTimezone"),
                    "endAt": iso(detail["EndDate"]) if detail.get("EndDate") else None,
                }
            )
    return sorted(found, key=lambda s: s["scheduleId"])
