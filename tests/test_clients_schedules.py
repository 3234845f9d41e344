"""The CLI's schedule library (asyncapi_cli/clients/schedules.py) against the schedules API handler,
served over loopback HTTP as Lambda proxy events, with the embedded scheduler and the processor driven by
the pacer's injected sleep (no real waiting)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import scheduler as local_scheduler
from tests.test_scheduling import GROUP, FakeClock, call, drain, iso, lambda_code, stack  # noqa: F401 (fixtures)


def proxy_server(api: ModuleType) -> Any:
    """127.0.0.1 HTTP server that hands each request to the schedules API as a Lambda proxy event."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else None
            parts = self.path.strip("/").split("/")
            event = {
                "httpMethod": self.command,
                "pathParameters": {"scheduleId": parts[1]} if len(parts) > 1 else None,
                "body": body,
                "requestContext": {"requestId": "r"},
            }
            answer = api.lambda_handler(event)
            data = (answer.get("body") or "").encode()
            self.send_response(answer["statusCode"])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class ServedApi:
    """The schedules API behind a 127.0.0.1 proxy, on a clock the test moves."""

    url: str
    clock: FakeClock
    start: datetime


@pytest.fixture
def served(
    stack: dict[str, Any],  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ServedApi]:
    api = stack["schedules_api"]
    start = datetime.now(timezone.utc)
    clock = FakeClock(start)
    monkeypatch.setattr(api, "clock", clock)
    server = proxy_server(api)
    try:
        yield ServedApi(f"http://127.0.0.1:{server.server_address[1]}/", clock, start)
    finally:
        server.shutdown()
        server.server_close()


def test_client_library_runs_a_rate_schedule_n_times_then_deletes_it(
    stack: dict[str, Any],  # noqa: F811 (the fixture imported above)
    served: ServedApi,
) -> None:
    from asyncapi_cli.clients import schedules as schedule_client
    from asyncapi_cli.errors import InputError
    from asyncapi_cli.retry import Pacer

    processor, url, clock = stack["job_processor"], served.url, served.clock
    with pytest.raises(InputError, match="runAt is in the past"):
        schedule_client.create(
            url, schedule_client.schedule_body({"a": 1}, at=served.start - timedelta(minutes=1))
        )
    body = schedule_client.schedule_body({"n": 1}, every="rate(1 minute)")
    created = schedule_client.create(url, body)
    scheduler = local_scheduler.LocalScheduler(local_scheduler.sqs_sender(None), clock=clock)

    def world_moves(seconds: float) -> None:
        """The pacer's sleep: a minute passes, the scheduler fires, the processor runs the jobs."""
        clock.now += timedelta(minutes=1)
        scheduler.run_pending()
        processor.lambda_handler({"Records": drain(stack["queue_url"])})

    scheduler.run_pending()  # the first run starts at once
    processor.lambda_handler({"Records": drain(stack["queue_url"])})
    pacer = Pacer(sleep=world_moves, clock=lambda: 0.0)
    described = schedule_client.wait_for_runs(url, created["scheduleId"], 3, timeout=60, pacer=pacer)
    assert len(schedule_client.finished_runs(described)) == 3
    schedule_client.delete(url, created["scheduleId"])
    assert schedule_client.describe(url, created["scheduleId"])["state"] == "deleted"


def test_parse_at_and_schedule_body() -> None:
    from asyncapi_cli.clients.schedules import parse_at, schedule_body
    from asyncapi_cli.errors import InputError

    now = datetime(2026, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
    assert parse_at("+10s", now) == now + timedelta(seconds=10)
    assert parse_at("+2h", now) == now + timedelta(hours=2)
    assert parse_at("2026-06-01T09:00:00", now) == datetime(2026, 6, 1, 9, tzinfo=timezone.utc)
    with pytest.raises(InputError, match="invalid --at"):
        parse_at("soon", now)
    assert schedule_body({"a": 1}, at=parse_at("+10s", now)) == {
        "job": {"a": 1},
        "runAt": "2026-05-01T12:00:11Z",
    }
    assert (
        schedule_body({}, every="rate(1 minute)", timezone_name="Europe/Paris")["timezone"] == "Europe/Paris"
    )
    with pytest.raises(InputError):
        schedule_body({}, at=now, every="rate(1 minute)")


def test_list_schedules_of_the_stack_group(stack: dict[str, Any]) -> None:  # noqa: F811 (fixture)
    from asyncapi_cli.clients.schedules import list_schedules

    run_at = datetime.now(timezone.utc) + timedelta(hours=1)
    created = call(stack["schedules_api"], "POST", body={"job": {}, "runAt": iso(run_at)})[1]
    listed = list_schedules(boto3.client("scheduler"), GROUP)
    assert [s["scheduleId"] for s in listed] == [created["scheduleId"]]
    assert listed[0]["expression"].startswith("at(") and listed[0]["state"] == "ENABLED"


def test_a_one_time_run_still_queued_is_waited_for(
    stack: dict[str, Any],  # noqa: F811 (the fixture imported above)
    served: ServedApi,
) -> None:
    """The scheduler has fired the one run (the schedule is completed and gone) but the processor has not
    taken the job yet: `test-job --at` must wait for it, not report a schedule that never ran."""
    from asyncapi_cli.clients import schedules as schedule_client
    from asyncapi_cli.retry import Pacer

    processor, url = stack["job_processor"], served.url
    created = schedule_client.create(
        url, schedule_client.schedule_body({"once": 1}, at=served.start + timedelta(minutes=2))
    )
    served.clock.now = served.start + timedelta(minutes=3)
    scheduler = local_scheduler.LocalScheduler(local_scheduler.sqs_sender(None), clock=served.clock)
    assert scheduler.run_pending() == 1  # fired: the message waits in the queue
    assert schedule_client.describe(url, created["scheduleId"])["state"] == "completed"

    def processor_catches_up(seconds: float) -> None:
        processor.lambda_handler({"Records": drain(stack["queue_url"])})

    pacer = Pacer(sleep=processor_catches_up, clock=lambda: 0.0)
    described = schedule_client.wait_for_runs(url, created["scheduleId"], 1, timeout=60, pacer=pacer)
    assert [run["status"] for run in schedule_client.finished_runs(described)] == ["completed"]
