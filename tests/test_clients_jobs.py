"""test-job's polling against a real HTTP server on 127.0.0.1: backoff, Retry-After, timeout."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from asyncapi_cli.clients import jobs, transport
from asyncapi_cli.clients.transport import EndpointError
from asyncapi_cli.commands import job_runs
from asyncapi_cli.errors import AsyncApiError, JobTimeoutError
from asyncapi_cli.output import Output

from .conftest import no_sleep_pacer


def send_json(handler: BaseHTTPRequestHandler, code: int, body: Any, headers: dict[str, str]) -> None:
    """One JSON answer with its headers and Content-Length (the connection stays open)."""
    data = json.dumps(body).encode()
    handler.send_response(code)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def recording_pacer() -> tuple[Any, list[float]]:
    """A pacer that does not sleep (its clock moves) and the waits it was asked for."""
    pacer = no_sleep_pacer()
    sleeps: list[float] = []
    inner = pacer.sleep
    pacer.sleep = lambda seconds: (sleeps.append(seconds), inner(seconds))[1]  # type: ignore[method-assign]
    return pacer, sleeps


class FakeApi:
    """Answers /submit with 202 and /status/<id> from a script of (code, body, headers)."""

    def __init__(self, script: list[tuple[int, dict[str, Any], dict[str, str]]]) -> None:
        self.script = script
        self.polls = 0
        self.posts = 0
        self.accept = 10**9  # POSTs answered 202; later ones refused (a stack going away)
        self.refused_status = 403


@pytest.fixture
def api() -> Iterator[tuple[str, FakeApi]]:
    state = FakeApi([])

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            send_json(self, code, body, headers)

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.posts += 1
            if state.posts > state.accept:
                self._send(state.refused_status, {"message": "refused"}, {})
                return
            job = f"j{state.posts}"
            self._send(202, {"jobId": job, "status": "queued"}, {"Location": f"status/{job}"})

        def do_GET(self) -> None:  # noqa: N802
            step = state.script[min(state.polls, len(state.script) - 1)]
            state.polls += 1
            self._send(*step)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prod/submit", state
    server.shutdown()


def test_follows_to_completion_honouring_retry_after(api: tuple[str, FakeApi]) -> None:
    url, state = api
    state.script = [
        (404, {"status": "unknown"}, {"Retry-After": "1"}),
        (200, {"status": "processing", "attempts": 1}, {"Retry-After": "3"}),
        (200, {"status": "completed", "attempts": 1, "result": "s3://b/results/j1.json"}, {}),
    ]
    pacer, sleeps = recording_pacer()
    run = jobs.run_one(url, {"a": 1}, 60, pacer)
    assert run.status == "completed" and run.job_id == "j1"
    assert [status for _, status in run.history] == ["queued", "processing", "completed"]
    assert len(sleeps) == 2 and sleeps[0] >= 1 and sleeps[1] >= 3  # never sooner than Retry-After
    assert state.polls == 3


def test_a_throttled_status_poll_is_asked_again_after_retry_after(api: tuple[str, FakeApi]) -> None:
    """API Gateway's throttle answers GET /status 429 too ("Throttle requests to your REST APIs")."""
    url, state = api
    state.script = [
        (429, {"message": "Too Many Requests"}, {"Retry-After": "2"}),
        (200, {"status": "completed", "attempts": 1}, {}),
    ]
    pacer, sleeps = recording_pacer()
    run = jobs.run_one(url, {"a": 1}, 60, pacer)
    assert run.status == "completed" and state.polls == 2
    assert len(sleeps) == 1 and 2 <= sleeps[0] <= 20


def test_backoff_grows_with_full_jitter_and_stays_bounded(api: tuple[str, FakeApi]) -> None:
    url, state = api
    state.script = [(200, {"status": "processing"}, {})] * 12 + [
        (200, {"status": "failed", "error": "E"}, {})
    ]
    pacer, sleeps = recording_pacer()
    run = jobs.run_one(url, {"a": 1}, 600, pacer)
    assert run.status == "failed"
    assert all(0 <= s <= transport.POLL_CAP for s in sleeps)
    assert max(sleeps[6:]) > max(sleeps[:2])  # the ceiling grows: 0.25, 0.5, 1, 2, 4, 5 s


def test_times_out(api: tuple[str, FakeApi]) -> None:
    url, state = api
    state.script = [(200, {"status": "retrying"}, {"Retry-After": "1"})]
    with pytest.raises(JobTimeoutError, match="still retrying after the timeout"):
        jobs.run_one(url, {"a": 1}, 5, no_sleep_pacer())


def test_an_error_from_the_status_api_is_reported(api: tuple[str, FakeApi]) -> None:
    url, state = api
    state.script = [(500, {"message": "Internal server error", "requestId": "r"}, {})]
    with pytest.raises(AsyncApiError, match="status check failed: HTTP 500"):
        jobs.run_one(url, {"a": 1}, 5, no_sleep_pacer())


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert job_runs.percentile(values, 0.5) == 51.0
    assert job_runs.percentile(values, 0.99) == 99.0
    assert job_runs.percentile([3.0], 0.9) == 3.0


def test_latency_comes_from_the_job_record_not_the_polling_grid(api: tuple[str, FakeApi]) -> None:
    url, state = api
    record = {"createdAt": "2026-01-01T00:00:00.000Z", "completedAt": "2026-01-01T00:00:02.250Z"}
    state.script = [
        (200, {"status": "processing"}, {"Retry-After": "4"}),
        (200, {"status": "completed", **record}, {}),
    ]
    run = jobs.run_one(url, {"a": 1}, 60, no_sleep_pacer())
    assert run.status == "completed"
    assert run.finished is not None and run.finished - run.submitted >= 4  # the grid says 4 s or more
    assert run.latency == 2.25  # the job's own timestamps


def test_count_reports_what_happened(api: tuple[str, FakeApi]) -> None:
    url, state = api
    state.accept = 3
    state.script = [(200, {"status": "completed"}, {})]
    stream = io.StringIO()
    code = job_runs._many(Output(json_mode=True, stream=stream), url, {"a": 1}, 10, 5, 1, no_sleep_pacer())
    report = json.loads(stream.getvalue())
    assert code == 3  # refusals: the endpoint, not the user
    assert (report["requested"], report["submitted"], report["refused"], report["errors"]) == (5, 3, 2, 0)
    assert sorted(report["job_ids"]) == ["j1", "j2", "j3"] and report["completed"] == 3
    assert report["first_refusal"].startswith("submit failed: HTTP 403")


def test_unreachable_api_is_an_endpoint_error() -> None:
    with pytest.raises(EndpointError, match="cannot reach http://127.0.0.1:9/") as caught:
        transport.http("GET", "http://127.0.0.1:9/status/x", timeout=5)
    assert caught.value.exit_code == 3
