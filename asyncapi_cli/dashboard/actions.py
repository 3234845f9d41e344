"""Changing actions: redrive one, redrive all, purge the DLQ, delete a schedule.

Each is a POST that must carry this run's token (in the page's form: another site cannot read it) and
an Origin header of the console itself (browsers send it on every cross-site POST), else 403. The
first POST answers a confirmation page; only its "confirm" POST (token and Origin again) acts.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ..dayops import dlq as dead_letters
from ..dayops.logs import check_job_id
from ..retry import Pacer
from .pages import dlq_listing
from .server import Answer, Console, Refused, Request, redirect

SCHEDULE_ID = r"(?P<schedule_id>[A-Za-z0-9_.-]{1,128})"


def check_request(console: Console, request: Request) -> None:
    origin = request.headers.get("Origin")
    if origin not in console.allowed_origins():
        raise Refused(f"refused: a change must come from this console's own page (Origin {origin or 'none'})")
    token = request.form.get("token", "")
    if not hmac.compare_digest(token.encode("utf-8"), console.token.encode("utf-8")):
        raise Refused("refused: the form's token is missing or not this console's (reload the page)")


def _action(
    question: Callable[[Request, re.Match[str]], str],
    act: Callable[[Console, Request, re.Match[str]], str],
    back: str,
) -> Callable[[Console, Request, re.Match[str]], Answer]:
    def route(console: Console, request: Request, match: re.Match[str]) -> Answer:
        check_request(console, request)
        if request.form.get("confirm") != "yes":
            fields = {k: v for k, v in request.form.items() if k not in ("token", "confirm")}
            return console.page(
                "confirm.html", question=question(request, match), action=request.path,
                fields=sorted(fields.items()), back=back,
            )  # fmt: skip
        with console.action_lock:
            done = act(console, request, match)
        if back == "/dlq":
            dlq_listing(console, fresh=True)  # the next view lists what is left
        return redirect(f"{back}?done={quote(done)}")

    return route


def _job_field(request: Request) -> str:
    job_id = request.form.get("job", "")
    check_job_id(job_id)
    return job_id


def _redrive_one(console: Console, request: Request, _: re.Match[str]) -> str:
    job_id = _job_field(request)
    done = dead_letters.redrive_one(console.stack, job_id)
    return f"job {job_id}: {done['messages']} message(s) back in the main queue"


def _redrive_all(console: Console, request: Request, _: re.Match[str]) -> str:
    done = dead_letters.redrive_all(console.stack, Pacer())
    return f"moved {done['moved']} message(s) back to the main queue"


def _purge(console: Console, request: Request, _: re.Match[str]) -> str:
    dead_letters.purge(console.stack)
    return "purged the dead-letter queue (AWS may take up to 60 s to finish)"


def _delete_schedule(console: Console, request: Request, match: re.Match[str]) -> str:
    from ..clients import schedules
    from ..clients.transport import stack_url

    schedules.delete(stack_url(console.stack), match["schedule_id"])
    return f"deleted schedule {match['schedule_id']}"


def _ask_redrive_one(request: Request, _: re.Match[str]) -> str:
    return f"Send job {_job_field(request)}'s dead-lettered message back to the main queue?"


def _ask(text: str) -> Callable[[Request, re.Match[str]], str]:
    return lambda request, match: text


def _ask_delete(request: Request, match: re.Match[str]) -> str:
    return f"Delete schedule {match['schedule_id']}? No run starts after it is deleted."


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", r"/dlq/redrive", _action(_ask_redrive_one, _redrive_one, "/dlq")),
    (
        "POST",
        r"/dlq/redrive-all",
        _action(_ask("Send every dead-lettered message back to the main queue?"), _redrive_all, "/dlq"),
    ),
    (
        "POST",
        r"/dlq/purge",
        _action(_ask("Delete every message in the dead-letter queue, for good?"), _purge, "/dlq"),
    ),
    ("POST", rf"/schedules/{SCHEDULE_ID}/delete", _action(_ask_delete, _delete_schedule, "/schedules")),
]
