"""Scheduled jobs: the schedules API handler, the processor's scheduled runs, the embedded scheduler.

Handlers are imported from the deployment zip, as Lambda loads them, against in-process moto; the
embedded scheduler (asyncapi_cli/local/scheduler.py) reads moto's Scheduler backend and sends to SQS.
AWS sources: CreateSchedule (ActionAfterCompletion, FlexibleTimeWindow, ScheduleExpressionTimezone,
EndDate) https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html; the SQS target
(SqsParameters: only MessageGroupId) https://docs.aws.amazon.com/scheduler/latest/APIReference/API_SqsParameters.html
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import scheduler as local_scheduler
from asyncapi_cli.package import build_zip

TABLE, BUCKET, GROUP, QUEUE = "s-jobs", "s-results", "s-schedules", "s-main-queue"
ACCOUNT, REGION = "123456789012", "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"
MODULES = (
    "schedules_api",
    "job_processor",
    "status_checker",
    "schedule_runs",
    "schedule_expressions",
    "jobwork",
)


@pytest.fixture(scope="module")
def lambda_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambda-task-root")
    with zipfile.ZipFile(io.BytesIO(build_zip().zip_bytes)) as archive:
        archive.extractall(root)
    return root


@pytest.fixture
def stack(lambda_code: Path, mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.syspath_prepend(str(lambda_code))
    for name in MODULES:
        sys.modules.pop(name, None)
    modules = {
        name: importlib.import_module(name) for name in ("schedules_api", "job_processor", "status_checker")
    }
    monkeypatch.setenv("JOBS_TABLE_NAME", TABLE)
    monkeypatch.setenv("RESULTS_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("SCHEDULE_GROUP_NAME", GROUP)
    monkeypatch.setenv("SCHEDULE_TARGET_ARN", QUEUE_ARN)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/s-scheduler-role")
    monkeypatch.setenv("SCHEDULE_DLQ_ARN", f"arn:aws:sqs:{REGION}:{ACCOUNT}:s-schedules-dlq")
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    queue_url = boto3.client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]
    boto3.client("scheduler").create_schedule_group(Name=GROUP)
    yield {**modules, "queue_url": queue_url}
    for name in MODULES:
        sys.modules.pop(name, None)


def call(api: ModuleType, method: str, schedule_id: str | None = None, body: Any = None) -> tuple[int, Any]:
    event = {
        "httpMethod": method,
        "pathParameters": {"scheduleId": schedule_id} if schedule_id else None,
        "body": json.dumps(body) if body is not None else None,
        "requestContext": {"requestId": "r-1"},
    }
    answer = api.lambda_handler(event)
    return answer["statusCode"], json.loads(answer["body"]) if answer["body"] else None


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def drain(queue_url: str) -> list[dict[str, Any]]:
    """Every message now on the queue, as Lambda's SQS event records."""
    records = []
    while True:
        got = boto3.client("sqs").receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        )
        if not got.get("Messages"):
            return records
        for message in got["Messages"]:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "body": message["Body"],
                    "attributes": message["Attributes"],
                    "messageAttributes": {},
                }
            )
            boto3.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


BAD_REQUESTS: list[tuple[Any, str]] = [
    ({"job": {"a": 1}, "runAt": "2020-01-01T00:00:00Z"}, "runAt is in the past"),
    ({"job": {"a": 1}, "runAt": "2099-01-01T00:00:00Z"}, "more than a year ahead"),
    ({"job": {"a": 1}, "expression": "cron(0 9 * * *)"}, "6 fields"),
    ({"job": {"a": 1}, "expression": "rate(30 seconds)"}, "unit"),
    ({"job": {"a": 1}, "expression": "rate(1 minute)", "timezone": "Mars/Base"}, "unknown timezone"),
    (
        {"job": {"a": 1}, "expression": "rate(1 minute)", "endAt": "2020-01-01T00:00:00Z"},
        "endAt is in the past",
    ),
    ({"job": {"a": 1}, "expression": "at(2030-01-01T00:00:00)"}, "use runAt"),
    ({"job": {"a": 1}}, "either runAt"),
    ({"job": {"a": 1}, "runAt": "2030-01-01T00:00:00Z", "expression": "rate(1 minute)"}, "either runAt"),
    ({"job": [1, 2], "expression": "rate(1 minute)"}, "job must be a JSON object"),
    ({"job": {}, "expression": "rate(1 minute)", "cron": "x"}, "unknown field"),
    ({"job": {}, "runAt": "tomorrow"}, "not an ISO 8601"),
]


def test_post_refuses_bad_requests_with_the_reason(stack: dict[str, Any]) -> None:
    for body, reason in BAD_REQUESTS:
        status, answer = call(stack["schedules_api"], "POST", body=body)
        assert (status, reason in answer["message"]) == (400, True), (body, answer)
    assert boto3.client("scheduler").list_schedules(GroupName=GROUP)["Schedules"] == []


def test_one_time_schedule_is_created_as_aws_documents(stack: dict[str, Any]) -> None:
    run_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=2)
    status, answer = call(stack["schedules_api"], "POST", body={"job": {"n": 1}, "runAt": iso(run_at)})
    assert status == 201
    assert answer["nextRunAt"] == iso(run_at)
    live = boto3.client("scheduler").get_schedule(Name=answer["scheduleId"], GroupName=GROUP)
    assert live["ScheduleExpression"] == f"at({run_at.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert live["ActionAfterCompletion"] == "DELETE"
    assert live["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert live["Target"]["Arn"] == QUEUE_ARN
    assert json.loads(live["Target"]["Input"]) == {"scheduleId": answer["scheduleId"], "job": {"n": 1}}
    # Runs Scheduler cannot deliver go to the schedules' DLQ (Scheduler API reference,
    # Target.DeadLetterConfig:
    # "An object that contains information about an Amazon SQS queue that EventBridge Scheduler uses as a
    # dead-letter queue for your schedule").
    assert live["Target"]["DeadLetterConfig"] == {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:s-schedules-dlq"}
    status, described = call(stack["schedules_api"], "GET", answer["scheduleId"])
    assert status == 200
    assert described["runAt"] == iso(run_at) and described["state"] == "enabled" and described["runs"] == []


def test_unknown_and_malformed_schedule_ids(stack: dict[str, Any]) -> None:
    assert call(stack["schedules_api"], "GET", "no-such-schedule")[0] == 404
    assert call(stack["schedules_api"], "DELETE", "no-such-schedule")[0] == 404
    assert call(stack["schedules_api"], "GET", "bad/id")[0] == 400


def test_rate_schedule_runs_n_times_as_jobs_then_stops_after_delete(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, processor, status_checker = stack["schedules_api"], stack["job_processor"], stack["status_checker"]
    clock = FakeClock(datetime.now(timezone.utc))
    monkeypatch.setattr(api, "clock", clock)
    status, created = call(api, "POST", body={"job": {"text": "tick"}, "expression": "rate(1 minute)"})
    assert status == 201
    schedule_id = created["scheduleId"]
    # A rate schedule counts from its creation (its CreationDate, a real instant, later than the clock
    # above by however long the call took): the minutes below count from there.
    start = boto3.client("scheduler").get_schedule(Name=schedule_id, GroupName=GROUP)["CreationDate"]
    scheduler = local_scheduler.LocalScheduler(local_scheduler.sqs_sender(None), clock=clock)
    fired = []
    for minute in range(3):  # a rate schedule starts at once, then every minute
        clock.now = start + timedelta(minutes=minute, seconds=0.5)
        fired.append(scheduler.run_pending())
    assert fired == [1, 1, 1]
    records = drain(stack["queue_url"])
    assert len(records) == 3
    assert processor.lambda_handler({"Records": records}) == {"batchItemFailures": []}
    # A redelivery records nothing twice.
    assert processor.lambda_handler({"Records": records[:1]}) == {"batchItemFailures": []}
    status, described = call(api, "GET", schedule_id)
    assert status == 200 and described["runCount"] == 3
    assert sorted(run["jobId"] for run in described["runs"]) == sorted(r["messageId"] for r in records)
    assert {run["status"] for run in described["runs"]} == {"completed"}
    job = status_checker.lambda_handler({"pathParameters": {"jobId": records[0]["messageId"]}})
    assert json.loads(job["body"])["scheduleId"] == schedule_id
    assert call(api, "DELETE", schedule_id)[0] == 204
    clock.now = start + timedelta(minutes=10)
    assert scheduler.run_pending() == 0
    assert drain(stack["queue_url"]) == []
    status, described = call(api, "GET", schedule_id)
    assert described["state"] == "deleted" and described["nextRunAt"] is None and described["runCount"] == 3


def test_one_time_schedule_fires_once_within_a_second_of_its_time(stack: dict[str, Any]) -> None:
    run_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    status, created = call(stack["schedules_api"], "POST", body={"job": {"once": True}, "runAt": iso(run_at)})
    assert status == 201
    scheduler = local_scheduler.LocalScheduler(local_scheduler.sqs_sender(None), tick=0.1)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while not scheduler.fired and time.monotonic() < deadline:
            scheduler.stopping.wait(0.05)
        received_at = datetime.now(timezone.utc)
    finally:
        scheduler.stop()
        scheduler.join(5)
    assert len(scheduler.fired) == 1
    assert timedelta(0) <= received_at - run_at < timedelta(seconds=1)
    records = drain(stack["queue_url"])
    assert len(records) == 1
    assert json.loads(records[0]["body"]) == {"scheduleId": created["scheduleId"], "job": {"once": True}}
    # ActionAfterCompletion DELETE: the schedule is gone, and nothing fires again.
    assert boto3.client("scheduler").list_schedules(GroupName=GROUP)["Schedules"] == []
    assert scheduler.run_pending() == 0
    assert call(stack["schedules_api"], "GET", created["scheduleId"])[1]["state"] == "completed"


def test_cron_honours_the_timezone_and_end_date(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler_client = boto3.client("scheduler")
    now = datetime.now(timezone.utc)
    clock = FakeClock(now)
    # Every day at 09:00 in Paris, created now: the first run is the next 09:00 Paris time.
    scheduler_client.create_schedule(
        Name="paris",
        GroupName=GROUP,
        ScheduleExpression="cron(0 9 * * ? *)",
        ScheduleExpressionTimezone="Europe/Paris",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": QUEUE_ARN, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "Input": "{}"},
    )
    paris = now.astimezone(local_scheduler.expressions.zone("Europe/Paris"))
    nine = paris.replace(hour=9, minute=0, second=0, microsecond=0)
    first = nine if nine >= paris else nine + timedelta(days=1)
    first_utc = first.astimezone(timezone.utc)
    sched = local_scheduler.LocalScheduler(local_scheduler.sqs_sender(None), clock=clock)
    clock.now = first_utc - timedelta(seconds=1)
    assert sched.run_pending() == 0
    clock.now = first_utc
    assert sched.run_pending() == 1
    assert sched.fired[-1][1] == first_utc
    # EndDate: a rate schedule ending 90 s after it starts runs at +0 and +60 s only.
    scheduler_client.create_schedule(
        Name="ends",
        GroupName=GROUP,
        ScheduleExpression="rate(1 minute)",
        EndDate=now + timedelta(seconds=90),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": QUEUE_ARN, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "Input": "{}"},
        ActionAfterCompletion="DELETE",
    )
    ends = boto3.client("scheduler").get_schedule(Name="ends", GroupName=GROUP)["Arn"]
    for seconds in (1, 61, 121, 181):
        clock.now = now + timedelta(seconds=seconds)
        sched.run_pending()
    assert [arn for arn, _ in sched.fired].count(ends) == 2
    names = [s["Name"] for s in scheduler_client.list_schedules(GroupName=GROUP)["Schedules"]]
    assert names == ["paris"]  # "ends" completed and deleted itself


def test_disabled_schedule_does_not_run(stack: dict[str, Any]) -> None:
    now = datetime.now(timezone.utc)
    boto3.client("scheduler").create_schedule(
        Name="off",
        GroupName=GROUP,
        ScheduleExpression="rate(1 minute)",
        State="DISABLED",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": QUEUE_ARN, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "Input": "{}"},
    )
    clock = FakeClock(now + timedelta(minutes=5))
    assert local_scheduler.LocalScheduler(local_scheduler.sqs_sender(None), clock=clock).run_pending() == 0


def test_delete_waits_for_a_run_being_sent(stack: dict[str, Any]) -> None:
    """DELETE answers only after a run already being sent is on the queue: none starts after the answer."""
    import threading

    local_scheduler.guard_moto_scheduler()
    boto3.client("scheduler").create_schedule(
        Name="busy",
        GroupName=GROUP,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": QUEUE_ARN, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "Input": "{}"},
    )
    sending, release = threading.Event(), threading.Event()
    real_send = local_scheduler.sqs_sender(None)

    def slow_send(arn: str, body: str) -> None:
        sending.set()
        release.wait(10)
        real_send(arn, body)

    scheduler = local_scheduler.LocalScheduler(slow_send)
    runner = threading.Thread(target=scheduler.run_pending)
    runner.start()
    assert sending.wait(10)
    deleted = threading.Event()
    deleter = threading.Thread(
        target=lambda: (
            boto3.client("scheduler").delete_schedule(Name="busy", GroupName=GROUP),
            deleted.set(),
        )
    )
    deleter.start()
    # The send holds the lock: unguarded, moto's in-process delete answers in milliseconds; guarded, it waits.
    assert not deleted.wait(0.5)
    release.set()
    deleter.join(10)
    runner.join(10)
    assert deleted.is_set() and len(drain(stack["queue_url"])) == 1
    assert scheduler.run_pending() == 0


def test_a_one_time_schedule_created_just_after_its_time_still_runs(stack: dict[str, Any]) -> None:
    """The API refuses a past runAt, but its check and CreateSchedule are apart: the time can pass in
    between. EventBridge Scheduler invokes targets with 60 second precision (Scheduler User Guide,
    "Schedule types"): a one-time schedule created within its own minute still runs, once."""
    from moto.scheduler.models import scheduler_backends

    at = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    boto3.client("scheduler").create_schedule(
        Name="late-once",
        GroupName=GROUP,
        ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": QUEUE_ARN, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/s-scheduler-role", "Input": "{}"},
    )
    # As if AWS had stored it 30 s after its time (the same minute); the scheduler's clock agrees.
    schedule = scheduler_backends[ACCOUNT][REGION].get_schedule(GROUP, "late-once")
    schedule.creation_date = schedule.last_modified_date = (at + timedelta(seconds=30)).timestamp()
    clock = FakeClock(at + timedelta(seconds=31))
    scheduler = local_scheduler.LocalScheduler(local_scheduler.sqs_sender(None), clock=clock)
    assert scheduler.run_pending() == 1
    assert len(drain(stack["queue_url"])) == 1
    clock.now = at + timedelta(minutes=5)
    assert scheduler.run_pending() == 0  # once: and ActionAfterCompletion DELETE removed it


def test_deleting_a_group_the_embedded_aws_does_not_hold_is_not_found(mocked_aws: None) -> None:
    """AWS answers DeleteScheduleGroup for a missing group with ResourceNotFoundException (EventBridge
    Scheduler API reference, DeleteScheduleGroup, Errors); moto raised KeyError (a 500 over HTTP), and
    `down` of a stack a restarted embedded AWS had forgotten retried it until it gave up."""
    from botocore.exceptions import ClientError

    local_scheduler.guard_moto_scheduler()
    scheduler = boto3.client("scheduler")
    with pytest.raises(ClientError) as raised:
        scheduler.delete_schedule_group(Name="forgotten-schedules")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    scheduler.create_schedule_group(Name="held-schedules")
    scheduler.delete_schedule_group(Name="held-schedules")  # a group it holds still goes
    assert "held-schedules" not in {g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]}
