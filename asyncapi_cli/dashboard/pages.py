"""The console's pages (GET: they only read). `?partial=1` answers the live part of a page alone, which
the page's script fetches every few seconds and puts in place: one renderer, escaped by Jinja2."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import quote

from ..dayops.logs import check_job_id
from ..errors import InputError
from ..jobs_index import INDEXED_STATUSES
from . import data
from .server import Answer, Console, NotFound, Request, redirect

JOB_ID = r"(?P<job_id>[A-Za-z0-9_-]{1,128})"
DLQ_RELIST_SECONDS = 60.0  # a listing raises each message's receive count: re-list on change, or this often


def _live(console: Console, request: Request, template: str, partial: str, **values: Any) -> Answer:
    if request.query.get("partial"):
        return console.page(partial, **values)
    return console.page(template, partial=partial, **values)


def overview(console: Console, request: Request, _: re.Match[str]) -> Answer:
    return _live(console, request, "overview.html", "_overview.html", view=data.overview(console.stack))


def series(console: Console, request: Request, _: re.Match[str]) -> Answer:
    return console.json(data.series(console.stack))


def jobs(console: Console, request: Request, _: re.Match[str]) -> Answer:
    wanted = request.query.get("q", "").strip()
    if wanted:
        try:
            check_job_id(wanted)
        except InputError:
            return _jobs_page(console, request, notice=f"{wanted!r} is not a job id")
        if data.job_exists(console.stack, wanted):
            return redirect(f"/jobs/{quote(wanted)}")
        return _jobs_page(console, request, notice=f"no job {wanted} in the jobs table")
    return _jobs_page(console, request, notice=None)


def _jobs_page(console: Console, request: Request, notice: str | None) -> Answer:
    status = request.query.get("status") or None
    cursor = request.query.get("cursor") or None
    page = data.jobs_page(console.stack, status, cursor)
    live = f"/jobs?partial=1&status={quote(status or '')}&cursor={quote(cursor or '')}"
    return _live(
        console, request, "jobs.html", "_jobs.html",
        page=page, statuses=INDEXED_STATUSES, notice=notice, live_url=live,
    )  # fmt: skip


def job(console: Console, request: Request, match: re.Match[str]) -> Answer:
    job_id = match["job_id"]
    try:
        detail = data.job_detail(console.stack, job_id)
    except InputError as exc:
        raise NotFound(str(exc)) from exc
    return _live(
        console, request, "job.html", "_job.html",
        job=detail, result_text=_pretty(detail["result"]), payload_text=_pretty(detail["payload"]),
    )  # fmt: skip


def job_result(console: Console, request: Request, match: re.Match[str]) -> Answer:
    detail = data.job_detail(console.stack, match["job_id"])
    if detail["result"] is None:
        raise NotFound(f"job {match['job_id']} has no result")
    body = json.dumps(detail["result"], indent=2, ensure_ascii=False).encode("utf-8")
    return Answer(200, body, "application/json; charset=utf-8")


def _pretty(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def dlq(console: Console, request: Request, _: re.Match[str]) -> Answer:
    rows, listed_at = dlq_listing(console)
    return _live(
        console, request, "dlq.html", "_dlq.html",
        rows=rows, listed_at=time.strftime("%H:%M:%S", time.localtime(listed_at)),
        done=request.query.get("done"),
    )  # fmt: skip


def dlq_listing(console: Console, fresh: bool = False) -> tuple[list[dict[str, Any]], float]:
    """The DLQ's messages, listed again only when its count changed (or a minute passed): SQS has no
    peek, and each listing adds one to every message's receive count (dayops/dlq.py)."""
    count = data.dlq_count(console.stack)
    cached = console.dlq_cache
    now = time.time()
    if fresh or cached is None or cached[0] != count or now - cached[2] > DLQ_RELIST_SECONDS:
        with console.action_lock:  # never while a redrive receives the same messages
            rows = data.dlq_rows(console.stack)
        cached = (count, rows, now)
        console.dlq_cache = cached
    return cached[1], cached[2]


def schedules(console: Console, request: Request, _: re.Match[str]) -> Answer:
    return _live(
        console, request, "schedules.html", "_schedules.html",
        view=data.schedules(console.stack), done=request.query.get("done"),
    )  # fmt: skip


ROUTES = [
    ("GET", r"/", overview),
    ("GET", r"/api/series", series),
    ("GET", r"/jobs", jobs),
    ("GET", rf"/jobs/{JOB_ID}", job),
    ("GET", rf"/jobs/{JOB_ID}/result", job_result),
    ("GET", r"/dlq", dlq),
    ("GET", r"/schedules", schedules),
]
