"""test-job retries a 503 or 429 submit (bounded, jittered, honouring Retry-After)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from asyncapi_cli.clients import jobs, transport
from asyncapi_cli.errors import AsyncApiError

from .conftest import no_sleep_pacer
from .test_clients_jobs import recording_pacer, send_json

QUEUED = (202, {"jobId": "j1", "status": "queued"}, {"Location": "status/j1"})
BUSY = (503, {"message": "The job queue is busy; nothing was queued. Retry later."}, {"Retry-After": "2"})


@pytest.fixture
def submits() -> Iterator[tuple[str, list[tuple[int, dict[str, Any], dict[str, str]]], list[bytes]]]:
    """A loopback API whose POST answers follow a script; it records every body it received."""
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            send_json(self, *script[min(len(received) - 1, len(script) - 1)])

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prod/submit", script, received
    server.shutdown()


def test_a_503_submit_is_retried_after_retry_after(submits: Any) -> None:
    url, script, received = submits
    script[:] = [BUSY, BUSY, QUEUED]
    pacer, sleeps = recording_pacer()
    job_id, status_url = jobs.submit(url, {"a": 1}, pacer)
    assert job_id == "j1" and status_url.endswith("/prod/status/j1")
    assert len(received) == 3 and len(set(received)) == 1  # the same payload each time
    assert len(sleeps) == 2 and all(2 <= s <= 20 for s in sleeps)  # never sooner than Retry-After


def test_retries_are_bounded(submits: Any) -> None:
    url, script, received = submits
    script[:] = [(503, {"message": "busy"}, {"Retry-After": "3600"})]
    pacer, sleeps = recording_pacer()
    with pytest.raises(AsyncApiError, match="submit failed: HTTP 503"):
        jobs.submit(url, {"a": 1}, pacer, attempts=4)
    assert len(received) == 4
    assert sleeps and max(sleeps) <= 20  # a huge Retry-After is capped


def test_other_errors_are_not_retried(submits: Any) -> None:
    url, script, received = submits
    script[:] = [(500, {"message": "The job could not be queued."}, {})]
    with pytest.raises(AsyncApiError, match="HTTP 500"):
        jobs.submit(url, {"a": 1}, no_sleep_pacer())
    assert len(received) == 1


def test_backoff_has_full_jitter_without_retry_after(submits: Any) -> None:
    url, script, received = submits
    script[:] = [(503, {"message": "busy"}, {})] * 4 + [QUEUED]
    pacer, sleeps = recording_pacer()
    jobs.submit(url, {"a": 1}, pacer)
    assert len(sleeps) == 4 and all(0 <= s <= 8 for s in sleeps)
    assert len(set(sleeps)) > 1  # jittered, not a fixed schedule


# API Gateway answers a throttled request 429 Too Many Requests before any integration runs (API Gateway
# developer guide, "Throttle requests to your REST APIs"; the stage's and the usage plan's limits alike),
# so nothing was queued and the same POST may be sent again.
THROTTLED = (429, {"message": "Too Many Requests"}, {})


def test_a_429_submit_is_retried_with_backoff(submits: Any) -> None:
    url, script, received = submits
    script[:] = [THROTTLED, THROTTLED, QUEUED]
    pacer, sleeps = recording_pacer()
    job_id, _ = jobs.submit(url, {"a": 1}, pacer)
    assert job_id == "j1" and len(received) == 3 and len(sleeps) == 2


@pytest.mark.parametrize("retry_after", ["4", "Wed, 21 Oct 2015 07:28:04 GMT"], ids=["seconds", "http-date"])
def test_a_429_honours_retry_after_in_either_form(submits: Any, retry_after: str) -> None:
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110, 10.2.3)."""
    url, script, _ = submits
    script[:] = [(429, {"message": "Too Many Requests"}, {"Retry-After": retry_after}), QUEUED]
    pacer, sleeps = recording_pacer()
    jobs.submit(url, {"a": 1}, pacer)
    expected = 4.0 if retry_after == "4" else 0.0  # a date in the past asks for no wait
    assert len(sleeps) == 1 and expected <= sleeps[0] <= 20


def test_retry_after_as_an_http_date_is_seconds_from_now() -> None:
    from asyncapi_cli.clients.transport import retry_after

    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:04 GMT"}, now=now) == 4.0
    assert retry_after({"retry-after": "soon"}, now=now) == 0.0 and retry_after({}, now=now) == 0.0


def test_429_retries_are_bounded(submits: Any) -> None:
    url, script, received = submits
    script[:] = [(429, {"message": "Too Many Requests"}, {"Retry-After": "3600"})]
    pacer, sleeps = recording_pacer()
    with pytest.raises(AsyncApiError, match="submit failed: HTTP 429"):
        jobs.submit(url, {"a": 1}, pacer, attempts=4)
    assert len(received) == 4 and max(sleeps) <= 20


def test_post_batches_retries_a_429_too(submits: Any) -> None:
    """POST /batches has its own, lower throttle (0.5 requests/s at the defaults): test-job --batch
    goes through the same bounded retry."""
    url, script, received = submits
    accepted = (202, {"batchId": "b1", "status": "queued"}, {"Location": "batches/b1"})
    script[:] = [(429, {"message": "Too Many Requests"}, {"Retry-After": "2"}), accepted]
    pacer, sleeps = recording_pacer()
    answer = transport.post_retrying(url, {"jobs": [{"n": 1}]}, pacer)
    assert answer.status == 202 and answer.body["batchId"] == "b1"
    assert len(received) == 2 and len(sleeps) == 1 and 2 <= sleeps[0] <= 20
