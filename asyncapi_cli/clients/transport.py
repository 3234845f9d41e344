"""How the CLI's clients talk to the stack's API: JSON requests on kept-alive connections (keepalive.py),
the stack's API key on every request, and the answers that mean "not now" (429, 503) asked again after a
bounded, jittered wait that is never shorter than Retry-After."""

from __future__ import annotations

import datetime
import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

from ..errors import AsyncApiError, AwsError, JobTimeoutError
from ..retry import Pacer
from . import keepalive

# Answers that mean "not now, nothing was done": 503 (SQS busy or unavailable: nothing was queued) and
# 429 (API Gateway's stage or usage-plan throttle refused the request before any integration ran: API
# Gateway developer guide, "Throttle requests to your REST APIs": clients receive 429 Too Many Requests).
RETRIED_STATUSES = frozenset({429, 503})
MAX_RETRY_WAIT = 20.0  # seconds, whatever Retry-After asks
POLL_BASE, POLL_CAP = 0.25, 5.0  # a status poll's backoff: first wait, longest wait (seconds)

# Sent on every request: the stack's x-api-key when `up --auth api-key` made one (use_api_key).
SESSION_HEADERS: dict[str, str] = {}


class EndpointError(AwsError):
    """The API could not be reached (connection refused, reset, DNS, TLS): exit 3."""


@dataclass
class HttpAnswer:
    status: int
    body: Any
    headers: dict[str, str]


def retry_after(headers: dict[str, str], now: float | None = None) -> float:
    """Retry-After in seconds: delta-seconds or an HTTP-date (RFC 9110, 10.2.3); 0 when absent or bad."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def send_api_key(key: str | None) -> None:
    """Every request from here on carries this x-api-key (none: nothing changes)."""
    if key:
        SESSION_HEADERS["x-api-key"] = key


def use_api_key(stack: Any) -> None:
    """Every request to the stack's API carries its x-api-key from here on, when `up --auth api-key` made
    one: /submit, /status, /batches and /schedules alike."""
    from ..secure_api import stack_api_key

    send_api_key(stack_api_key(stack))  # read from API Gateway now; never stored


def stack_url(stack: Any, output: str = "api_url") -> str:
    """The deployed API's URL (or its /submit's) from the stack's outputs."""
    url = stack.state.outputs.get(output)
    if not url or "(known" in str(url):
        raise AsyncApiError("the stack has no deployed API yet; run 'asyncapi up' first")
    return str(url)


def http(method: str, url: str, payload: Any = None, timeout: float = 30.0) -> HttpAnswer:
    """One request on this thread's kept-alive connection to the URL's origin (keepalive.py)."""
    data = json.dumps(payload).encode("utf-8") if payload is not None else None
    try:
        answer = keepalive.request(
            method, url, data, {"Content-Type": "application/json", **SESSION_HEADERS}, timeout
        )
    except (OSError, HTTPException, ValueError) as exc:  # ValueError: a malformed URL
        # The endpoint, not the user's input: exit 3 like any unreachable endpoint.
        raise EndpointError(f"cannot reach {url}: {exc}") from None
    raw, status, headers = answer.body, answer.status, dict(answer.headers)
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        body = raw.decode("utf-8", errors="replace")
    return HttpAnswer(status, body, {k.lower(): v for k, v in headers.items()})


def post_retrying(url: str, payload: Any, pacer: Pacer, attempts: int = 5) -> HttpAnswer:
    """POST; a 429 or 503 (nothing was done) is sent again, bounded: full jitter, never sooner than
    Retry-After, each wait at most 20 s, at most `attempts` tries. The last answer is returned."""
    for attempt in range(attempts):
        answer = http("POST", url, payload)
        if answer.status not in RETRIED_STATUSES or attempt == attempts - 1:
            break
        delay = max(pacer.backoff(attempt, 0.5, 8.0), retry_after(answer.headers))
        pacer.sleep(min(delay, MAX_RETRY_WAIT))
    return answer


def read_status(answer: HttpAnswer, known: str, what: str) -> tuple[str, dict[str, Any] | None]:
    """A status resource's answer: (its status, its record). 404: still queued (SQS holds it; no processor
    has picked it up yet); 429/503: throttled, the status known so far; anything else fails."""
    if answer.status == 200 and isinstance(answer.body, dict):
        return str(answer.body.get("status")), answer.body
    if answer.status == 404:
        return "queued", None
    if answer.status in RETRIED_STATUSES:
        return known, None  # ask again after the backoff (and Retry-After)
    raise AsyncApiError(f"{what} failed: HTTP {answer.status}: {answer.body}")


def poll(
    url: str,
    read: Callable[[HttpAnswer], str],
    final: tuple[str, ...],
    deadline: float,
    pacer: Pacer,
    what: str,
) -> None:
    """GET `url` until `read(answer)` gives a final status: exponential backoff with full jitter, never
    sooner than Retry-After; JobTimeoutError naming `what` ("job j1") once the deadline has passed."""
    attempt = 0
    while True:
        answer = http("GET", url)
        status = read(answer)
        if status in final:
            return
        waited = min(retry_after(answer.headers), MAX_RETRY_WAIT)
        delay = max(pacer.backoff(attempt, POLL_BASE, POLL_CAP), waited)
        remaining = deadline - pacer.clock()
        if remaining <= 0:
            raise JobTimeoutError(f"{what} still {status} after the timeout")
        attempt += 1
        pacer.sleep(min(delay, remaining))
