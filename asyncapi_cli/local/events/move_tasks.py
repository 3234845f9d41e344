"""SQS StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask for the embedded AWS
(moto lacks them).

Shapes from botocore's sqs model; semantics from the AWS API reference (API_StartMessageMoveTask.html,
API_ListMessageMoveTasks.html, API_CancelMessageMoveTask.html) and "Configuring a dead-letter queue
redrive" (sqs-configure-dead-letter-queue-redrive.html):
- the source must be a dead-letter queue (some queue's RedrivePolicy targets it), else
  InvalidParameterValue; an unknown queue is ResourceNotFoundException;
- without DestinationArn each message returns to the queue it was dead-lettered from; with it, all go
  there; moved messages start over (receive count 0);
- MaxNumberOfMessagesPerSecond (1-500) paces the move; one RUNNING task per source queue;
- status RUNNING -> COMPLETED (every message present at the start moved), CANCELLED, or FAILED with
  FailureReason (e.g. the destination was deleted); ListMessageMoveTasks gives the newest first
  (MaxResults 1-10, default 1), TaskHandle only for a RUNNING task.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..compat.registry import REGISTRY, Patch, register

_SOURCE_ATTR = "_asyncapi_dead_lettered_from"  # set on a message when it lands in a DLQ


@dataclass
class MoveTask:
    handle: str
    account: str
    region: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    started_ms: int
    moved: int = 0
    status: str = "RUNNING"
    failure: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == "RUNNING":
            result["TaskHandle"] = self.handle
        if self.destination_arn:
            result["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            result["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            result["FailureReason"] = self.failure
        return result


_tasks: list[MoveTask] = []
_tasks_lock = threading.Lock()


def _error(code: str, message: str) -> Exception:
    from moto.sqs.exceptions import SQSException

    return SQSException(code, message)


def _queue_by_arn(backend: Any, arn: str) -> Any:
    name = arn.rsplit(":", 1)[-1]
    queue = backend.queues.get(name)
    if queue is None or queue.queue_arn != arn:
        raise _error(
            "ResourceNotFoundException",
            "The resource that you specified for the SourceArn parameter doesn't exist.",
        )
    return queue


def _run(task: MoveTask, backend: Any) -> None:
    interval = 1.0 / task.rate if task.rate else 0.0
    try:
        dlq = _queue_by_arn(backend, task.source_arn)
        while task.moved < task.to_move and not task.cancel.is_set():
            message = next((m for m in list(dlq._messages) if m.visible and not m.delayed), None)
            if message is None:
                break  # fewer left than counted (consumed meanwhile): done
            target_arn = task.destination_arn or getattr(message, _SOURCE_ATTR, None)
            if target_arn is None:
                sources = backend.list_dead_letter_source_queues(dlq.name)
                if not sources:
                    raise LookupError("the source queue is no longer a dead-letter queue of any queue")
                target_arn = sources[0].queue_arn
            target = _queue_by_arn(backend, target_arn)
            with dlq._messages_lock:
                if message not in dlq._messages:
                    continue
                dlq._messages.remove(message)
                dlq.pending_messages.discard(message)
            backend.send_message(
                target.name,
                message.body,
                message_attributes=message.message_attributes or None,
                group_id=message.group_id if target.fifo_queue else None,
                deduplication_id=message.deduplication_id if target.fifo_queue else None,
                system_attributes=message.system_attributes or None,
            )
            task.moved += 1
            if interval:
                task.cancel.wait(interval)
        task.status = "CANCELLED" if task.cancel.is_set() else "COMPLETED"
    except Exception as exc:
        task.status = "FAILED"
        task.failure = getattr(exc, "message", None) or str(exc) or type(exc).__name__


def start(account: str, region: str, source_arn: str, destination_arn: str | None, rate: int | None) -> str:
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[account][region]
    dlq = _queue_by_arn(backend, source_arn)
    if not backend.list_dead_letter_source_queues(dlq.name):
        raise _error("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    if destination_arn:
        _queue_by_arn(backend, destination_arn)
    if rate is not None and not 1 <= rate <= 500:
        raise _error("InvalidParameterValue", "MaxNumberOfMessagesPerSecond must be between 1 and 500.")
    with _tasks_lock:
        if any(t.source_arn == source_arn and t.status == "RUNNING" for t in _tasks):
            raise _error(
                "UnsupportedOperation",
                "There is already a task running. Only one active task is allowed per source queue.",
            )
        task_id = str(uuid.uuid4())
        handle = base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source_arn}).encode()).decode()
        to_move = sum(1 for m in list(dlq._messages) if m.visible and not m.delayed)
        task = MoveTask(
            handle, account, region, source_arn, destination_arn, rate, to_move, int(time.time() * 1000)
        )
        _tasks.append(task)
    threading.Thread(target=_run, args=(task, backend), daemon=True, name="sqs-move-task").start()
    return handle


def list_tasks(account: str, region: str, source_arn: str, max_results: int) -> list[dict[str, Any]]:
    from moto.sqs.models import sqs_backends

    _queue_by_arn(sqs_backends[account][region], source_arn)
    if not 1 <= max_results <= 10:
        raise _error("InvalidParameterValue", "MaxResults must be between 1 and 10.")
    with _tasks_lock:
        found = [t for t in _tasks if t.source_arn == source_arn and t.account == account]
    return [t.describe() for t in reversed(found)][:max_results]


def cancel(handle: str) -> int:
    with _tasks_lock:
        task = next((t for t in _tasks if t.handle == handle), None)
    if task is None or task.status != "RUNNING":
        raise _error("ResourceNotFoundException", "The task handle is not valid or the task is not running.")
    task.cancel.set()
    return task.moved


def _add_message(original_add: Any) -> Any:
    def add_message(self: Any, message: Any) -> None:
        # moto moves a message to the DLQ by adding the same object: its previous queue is its source.
        previous = getattr(message, "_asyncapi_queue_arn", None)
        if previous is not None and previous != self.queue_arn:
            setattr(message, _SOURCE_ATTR, previous)
        message._asyncapi_queue_arn = self.queue_arn
        original_add(self, message)

    return add_message


def _start_action(_: Any) -> Any:
    from moto.core.responses import ActionResult

    def start_message_move_task(self: Any) -> Any:
        rate = self._get_param("MaxNumberOfMessagesPerSecond")
        handle = start(
            self.current_account,
            self.region,
            self._get_param("SourceArn"),
            self._get_param("DestinationArn"),
            None if rate is None else int(rate),
        )
        return ActionResult({"TaskHandle": handle})

    return start_message_move_task


def _list_action(_: Any) -> Any:
    from moto.core.responses import ActionResult

    def list_message_move_tasks(self: Any) -> Any:
        results = list_tasks(
            self.current_account,
            self.region,
            self._get_param("SourceArn"),
            int(self._get_param("MaxResults") or 1),
        )
        return ActionResult({"Results": results})

    return list_message_move_tasks


def _cancel_action(_: Any) -> Any:
    from moto.core.responses import ActionResult

    def cancel_message_move_task(self: Any) -> Any:
        return ActionResult({"ApproximateNumberOfMessagesMoved": cancel(self._get_param("TaskHandle"))})

    return cancel_message_move_task


# moto's SQS lacks the three actions; each dead-lettered message remembers where it came from.
GROUP = "sqs-move-tasks"
RESPONSE = "moto.sqs.responses:SQSResponse"
register(
    Patch(
        "moto.sqs.models:Queue.add_message",
        _add_message,
        "fidelity",
        "a DLQ message's source queue",
        GROUP,
        params=("self", "message"),
    ),
    Patch(
        f"{RESPONSE}.start_message_move_task",
        _start_action,
        "fidelity",
        "StartMessageMoveTask",
        GROUP,
        adds=True,
    ),
    Patch(
        f"{RESPONSE}.list_message_move_tasks",
        _list_action,
        "fidelity",
        "ListMessageMoveTasks",
        GROUP,
        adds=True,
    ),
    Patch(
        f"{RESPONSE}.cancel_message_move_task",
        _cancel_action,
        "fidelity",
        "CancelMessageMoveTask",
        GROUP,
        adds=True,
    ),
)


def install() -> None:
    """Teach moto's SQS the three actions (through the compat registry; idempotent)."""
    REGISTRY.apply([GROUP])
