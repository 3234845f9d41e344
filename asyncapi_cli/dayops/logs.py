"""`asyncapi logs`: the CloudWatch Logs of the stack's functions, filtered to a job, shown readably.

The handlers log JSON lines ({"level", "event", "time", "jobId", ...}); FilterLogEvents with the
JSON filter pattern `{ $.jobId = "<id>" }` selects one job's lines on the server. The same test is
applied here too, so a backend that ignores the pattern still shows only that job.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import InputError
from ..retry import Pacer

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # as the processor accepts them
_SINCE_RE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
FOLLOW_MIN, FOLLOW_MAX = 1.0, 2.0  # seconds between polls with --follow (jittered within)
ALIASES = {"processor": "processor_fn", "status": "status_fn"}


def parse_since(text: str) -> float:
    match = _SINCE_RE.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise InputError(f"--since {text!r}: use a number and a unit, e.g. 30s, 10m, 2h or 1d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def function_name(stack: Any, which: str) -> str:
    """processor, status, or any function key the stack recorded (e.g. a feature's function)."""
    records = stack.state.resources
    key = ALIASES.get(which, which)
    for candidate in (key, f"{key}_fn"):
        record = records.get(candidate) or {}
        if candidate.endswith("_fn") and record.get("name"):
            return str(record["name"])
    if which == "processor":
        return str(stack.ctx.names.processor)
    if which == "status":
        return str(stack.ctx.names.status_checker)
    known = ["processor", "status"] + sorted(
        k.removesuffix("_fn") for k in records if k.endswith("_fn") and k not in ALIASES.values()
    )
    raise InputError(f"unknown function {which!r}: choose one of {', '.join(dict.fromkeys(known))}")


def _parsed(message: str) -> dict[str, Any] | None:
    try:
        data = json.loads(message)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def readable(event: dict[str, Any]) -> dict[str, Any]:
    """time, level, job id and message of one log event (JSON lines unpacked; others as written)."""
    message = str(event.get("message", "")).rstrip("\n")
    stamp = dt.datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000, dt.timezone.utc)
    data = _parsed(message)
    shown: dict[str, Any] = {
        "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": "",
        "jobId": None,
        "message": message,
        "stream": event.get("logStreamName"),
    }
    if data is not None:
        hidden = ("level", "event", "time", "jobId", "traceback", "_aws")  # _aws: EMF metadata
        rest = {k: v for k, v in data.items() if k not in hidden}
        details = " ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in rest.items())
        text = " ".join(part for part in (str(data.get("event", "")), details) if part)
        if data.get("event") in ("job-output", "job-log"):  # the job's own print / logging line, as written
            text = str(data.get("message", ""))
        if data.get("traceback"):  # an unhandled error's traceback, as Lambda's runtime logs it
            text += "\n" + str(data["traceback"]).rstrip("\n")
        shown |= {
            "level": str(data.get("level", "")),
            "jobId": data.get("jobId"),
            "message": text,
            "fields": data,
        }
    return shown


def _matches(event: dict[str, Any], job_id: str | None) -> bool:
    if job_id is None:
        return True
    data = _parsed(str(event.get("message", "")))
    return data is not None and data.get("jobId") == job_id


def fetch(
    logs: Any, group: str, *, start_ms: int, job_id: str | None, seen: set[str] | None = None
) -> list[dict[str, Any]]:
    """Every event from start_ms on (all pages), oldest first, skipping ids already seen."""
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if job_id is not None:
        kwargs["filterPattern"] = f'{{ $.jobId = "{job_id}" }}'
    events: list[dict[str, Any]] = []
    while True:
        page = logs.filter_log_events(**kwargs)
        for event in page.get("events", []):
            event_id = event.get("eventId") or f"{event.get('logStreamName')}/{event.get('timestamp')}"
            if seen is not None:
                if event_id in seen:
                    continue
                seen.add(event_id)
            if _matches(event, job_id):
                events.append(event)
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = token
    events.sort(key=lambda e: (e.get("timestamp", 0), e.get("eventId", "")))
    return events


def follow(
    logs: Any,
    group: str,
    *,
    start_ms: int,
    job_id: str | None,
    pacer: Pacer,
    now_ms: Callable[[], int],
) -> Iterator[dict[str, Any]]:
    """Poll forever (until Ctrl-C) at jittered intervals of 1 to 2 s, yielding new events in order."""
    seen: set[str] = set()
    since = start_ms
    while True:
        for event in fetch(logs, group, start_ms=since, job_id=job_id, seen=seen):
            yield event
            # Events can arrive late (ingestion delay): look back a little, dedupe by event id.
            since = max(since, int(event.get("timestamp", since)) - 5000)
        since = max(since, now_ms() - 60_000)
        pacer.sleep(pacer.rng.uniform(FOLLOW_MIN, FOLLOW_MAX))


def check_job_id(job_id: str | None) -> str | None:
    if job_id is not None and not JOB_ID_RE.match(job_id):
        raise InputError(f"invalid job id {job_id!r}: letters, digits, '-' and '_' only")
    return job_id
