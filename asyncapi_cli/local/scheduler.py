"""Fires the EventBridge Scheduler schedules that moto stores (moto keeps them but never runs them).

Each pass reads every schedule, works out its runs with the same evaluator the schedules API uses
(handlers/schedule_expressions.py: at/rate/cron, time zone, StartDate, EndDate) and, for every run
that is due, sends the target's Input to the target SQS queue, as EventBridge Scheduler's templated
SQS target does. DISABLED schedules do not run (and do not catch up when enabled again, as on AWS);
ActionAfterCompletion DELETE removes a schedule once it has no run left. A pass runs every
`tick` seconds (0.2 s), so a run starts within a second of its time.

"No run starts after DeleteSchedule answers": moto's delete and update take the same lock as the
check-then-send of a run (see `guard_moto_scheduler`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..handler_modules import load
from .compat.registry import REGISTRY, Patch, register

expressions = load("schedule_expressions")
log = logging.getLogger("asyncapi.local.scheduler")
SCHEDULE_LOCK = threading.RLock()
EPSILON = timedelta(microseconds=1)
Clock = Callable[[], datetime]
Sender = Callable[[str, str], None]  # (target queue ARN, message body)


@dataclass(frozen=True)
class ScheduleView:
    arn: str
    account: str
    region: str
    group: str
    name: str
    expression: str
    timezone: str
    state: str
    action_after_completion: str | None
    target_arn: str
    input: str
    created: datetime
    modified: float
    start: datetime | None
    end: datetime | None


def _instant(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) or str(value).replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(value), timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# --- the one place that knows moto's internals -----------------------------------------------


def moto_schedules() -> Iterator[tuple[str, str, Any, Any]]:
    """(account, region, group, schedule) for every schedule moto holds, and a way to delete it."""
    from moto.scheduler.models import scheduler_backends

    for account, regions in list(scheduler_backends.items()):
        for region, backend in list(regions.items()):
            for group in list(backend.schedule_groups.values()):
                for schedule in list(group.schedules.values()):
                    yield account, region, group, schedule


def _guarded(original: Any) -> Any:
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        with SCHEDULE_LOCK:
            return original(self, *args, **kwargs)

    return guarded


def _guarded_group_deletion(original: Any) -> Any:
    """Waits for a run being sent, and answers ResourceNotFoundException for a group moto does not hold,
    as AWS does (EventBridge Scheduler API reference, DeleteScheduleGroup, Errors), where moto raised
    KeyError and answered 500: `down` of a stack a restarted embedded AWS had forgotten, or a `down`
    resumed after the group went, retried that 500 until it gave up."""
    from moto.scheduler.exceptions import ScheduleGroupNotFound

    def delete_schedule_group(self: Any, name: str | None) -> Any:
        with SCHEDULE_LOCK:
            if (name or "default") not in self.schedule_groups:
                raise ScheduleGroupNotFound(name or "default")
            return original(self, name)

    return delete_schedule_group


BACKEND = "moto.scheduler.models:EventBridgeSchedulerBackend"
register(
    Patch(
        f"{BACKEND}.delete_schedule",
        _guarded,
        "fidelity",
        "waits for a run being sent",
        "scheduler-guard",
        params=("self", "group_name", "name"),
    ),
    Patch(
        f"{BACKEND}.update_schedule", _guarded, "fidelity", "waits for a run being sent", "scheduler-guard"
    ),
    Patch(
        f"{BACKEND}.delete_schedule_group",
        _guarded_group_deletion,
        "fidelity",
        "waits for a run being sent; a missing group is ResourceNotFoundException, as on AWS",
        "scheduler-guard",
        params=("self", "name"),
    ),
)


def guard_moto_scheduler() -> None:
    """Make moto's schedule deletion and update wait for a run being sent, and its deletion of a missing
    group answer as AWS's does (compat registry; idempotent)."""
    REGISTRY.apply(["scheduler-guard"])


def _view(account: str, region: str, schedule: Any) -> ScheduleView:
    target = schedule.target or {}
    return ScheduleView(
        arn=schedule.arn,
        account=account,
        region=region,
        group=schedule.group_name,
        name=schedule.name,
        expression=schedule.schedule_expression,
        timezone=schedule.schedule_expression_timezone or "UTC",
        state=schedule.state or "ENABLED",
        action_after_completion=schedule.action_after_completion,
        target_arn=target.get("Arn", ""),
        input=target.get("Input") or "{}",
        created=_instant(schedule.creation_date) or datetime.now(timezone.utc),
        modified=float(schedule.last_modified_date or 0),
        start=_instant(schedule.start_date),
        end=_instant(schedule.end_date),
    )


def _still_there(group: Any, schedule: Any) -> bool:
    return group.schedules.get(schedule.name) is schedule


def _delete(group: Any, schedule: Any) -> None:
    if _still_there(group, schedule):
        group.schedules.pop(schedule.name, None)


# ----------------------------------------------------------------------------------------------


def sqs_sender(endpoint: str | None) -> Sender:
    """Sends to a queue given by ARN, through the embedded endpoint (or in-process moto)."""
    import boto3

    clients: dict[str, Any] = {}
    urls: dict[str, str] = {}
    lock = threading.Lock()

    def send(queue_arn: str, body: str) -> None:
        _, _, _, region, account, name = queue_arn.split(":", 5)
        with lock:
            if region not in clients:
                clients[region] = boto3.client(
                    "sqs",
                    region_name=region,
                    endpoint_url=endpoint,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
            client = clients[region]
        if queue_arn not in urls:
            urls[queue_arn] = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        client.send_message(QueueUrl=urls[queue_arn], MessageBody=body)

    return send


class LocalScheduler(threading.Thread):
    def __init__(
        self,
        send: Sender,
        *,
        clock: Clock | None = None,
        tick: float = 0.2,
        schedules: Callable[[], Iterator[tuple[str, str, Any, Any]]] = moto_schedules,
    ) -> None:
        super().__init__(daemon=True, name="scheduler")
        self.send = send
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.tick = tick
        self.schedules = schedules
        self.stopping = threading.Event()
        self._cursors: dict[tuple[str, float], datetime] = {}  # (arn, modified) -> runs not before
        self._unsupported: set[tuple[str, float]] = set()
        self.fired: list[tuple[str, datetime]] = []  # (schedule ARN, run time), for the log and tests

    def run(self) -> None:
        guard_moto_scheduler()
        while not self.stopping.wait(self.tick):
            try:
                self.run_pending()
            except Exception:  # a bad schedule must not stop the others
                log.exception("scheduler pass failed")

    def stop(self) -> None:
        self.stopping.set()

    def run_pending(self) -> int:
        """One pass: fire every run that is due now; the number of runs fired."""
        now = self.clock()
        seen: set[tuple[str, float]] = set()
        fired = 0
        for account, region, group, schedule in self.schedules():
            view = _view(account, region, schedule)
            key = (view.arn, view.modified)
            seen.add(key)
            # A new (or updated) schedule counts from its creation (or now, when updated).
            origin = view.created if view.modified <= view.created.timestamp() else now
            if view.expression.startswith("at("):
                # "All schedule types on EventBridge Scheduler invoke their targets with 60 second
                # precision" (Scheduler User Guide, Schedule types): a one-time schedule whose time
                # passed while it was being created, within the same minute, still runs.
                origin = origin.replace(second=0, microsecond=0)
            cursor = self._cursors.setdefault(key, origin)
            fired += self._fire_due(view, group, schedule, key, cursor, now)
        for key in set(self._cursors) - seen:
            del self._cursors[key]
        return fired

    def _fire_due(
        self,
        view: ScheduleView,
        group: Any,
        schedule: Any,
        key: tuple[str, float],
        cursor: datetime,
        now: datetime,
    ) -> int:
        if ":sqs:" not in view.target_arn:  # the embedded AWS runs SQS targets only (the stack's)
            if key not in self._unsupported:
                self._unsupported.add(key)
                log.warning("schedule %s: target %s is not an SQS queue; not run", view.arn, view.target_arn)
            return 0
        if view.state != "ENABLED":
            self._cursors[key] = now  # a disabled schedule skips its runs; no catching up
            return 0
        fired = 0
        while True:
            try:
                due = expressions.next_run(
                    view.expression,
                    view.timezone,
                    cursor,
                    start=view.start,
                    end=view.end,
                    anchor=view.created,
                )
            except expressions.ExpressionError as exc:
                log.warning("schedule %s: %s", view.arn, exc)
                return fired
            if due is None:
                if view.action_after_completion == "DELETE":
                    with SCHEDULE_LOCK:
                        _delete(group, schedule)
                    log.info("schedule %s completed and was deleted", view.arn)
                return fired
            if due > now:
                return fired
            with SCHEDULE_LOCK:
                if not _still_there(group, schedule):
                    return fired
                try:
                    self.send(view.target_arn, view.input)
                except Exception as exc:  # EventBridge retries per RetryPolicy; we retry on the next pass
                    log.warning("schedule %s: target %s failed: %s", view.arn, view.target_arn, exc)
                    return fired
            log.info("schedule %s ran for %s", view.arn, expressions.iso(due))
            self.fired.append((view.arn, due))
            fired += 1
            cursor = self._cursors[key] = due + EPSILON


_running: LocalScheduler | None = None


def start(endpoint: str | None, *, clock: Clock | None = None, tick: float = 0.2) -> LocalScheduler:
    """Start the scheduler thread for the embedded AWS (server.py calls this after moto starts)."""
    global _running
    stop()
    _running = LocalScheduler(sqs_sender(endpoint), clock=clock, tick=tick)
    _running.start()
    return _running


def stop() -> None:
    global _running
    if _running is not None:
        _running.stop()
        _running.join(timeout=5)
        _running = None
