"""Patches to moto's SQS and to where moto runs event source mappings itself.

- event-sources-off (fidelity): moto invokes a mapped function inside SendMessage / PutItem (through
  Docker) and consumes the messages or stream records. AWS runs a mapping from its own pollers, apart
  from the write; so do ours (event_sources.py): queues and tables see no mappings.
- sqs-depth (speed): SQS cost per call no longer grows with queue depth. moto computes every message's
  visibility with datetime arithmetic, builds every queue attribute (three passes over the messages) for
  each SendMessage, and again for *each* message in ReceiveMessage to read the retention period:
  quadratic in the depth (bench/load.py --backlog). The same answers (tests/test_local_perf_moto.py):
  - Message.visible / delayed / had_receipt_handle: the same comparisons, on a cheap clock;
  - SQSBackend.is_message_valid_based_on_retention_period: reads the one attribute it needs;
  - Queue.delete_message: stops at the message instead of three passes over the queue;
  - receipt handles: the same 185 lowercase letters, from os.urandom instead of 185 random.choice();
  - within SendMessage, Queue.attributes holds the FIFO attributes alone (all SendMessage reads).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from .registry import Patch, register


def _now_ms() -> float:
    return time.time() * 1000.0  # what moto's unix_time_millis() computes, minus the datetime round trip


def _no_mappings(_original: Any) -> property:
    def mappings(self: Any) -> dict[str, Any]:
        return {}

    def ignore(self: Any, value: Any) -> None:
        pass

    return property(mappings, ignore)


register(
    Patch(
        "moto.sqs.models:Queue.lambda_event_source_mappings",
        _no_mappings,
        "fidelity",
        "the embedded pollers run mappings, not SendMessage",
        "event-sources-off",
        adds=True,
    ),
    Patch(
        "moto.dynamodb.models.table:Table.lambda_event_source_mappings",
        _no_mappings,
        "fidelity",
        "the embedded pollers run mappings, not PutItem",
        "event-sources-off",
        adds=True,
    ),
)


def _visible(original: Any) -> property:
    def visible(self: Any) -> bool:
        return _now_ms() > self.visible_at  # type: ignore[no-any-return]

    return property(visible)


def _delayed(original: Any) -> property:
    def delayed(self: Any) -> bool:
        return _now_ms() < self.delayed_until  # type: ignore[no-any-return]

    return property(delayed)


def _had_receipt_handle(original: Any) -> Any:
    def had_receipt_handle(self: Any, receipt_handle: str) -> bool:
        return receipt_handle == self.receipt_handle or receipt_handle in self._old_receipt_handles

    return had_receipt_handle


def _retention(original: Any) -> Any:
    from moto.core.utils import unix_time

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return retention_period + message.sent_timestamp / 1000 > unix_time()  # type: ignore[no-any-return]

    return is_message_valid_based_on_retention_period


def _delete_message(original: Any) -> Any:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: deleting again succeeds, as on AWS
        # A receipt handle belongs to one message: stop at it (received messages are the oldest, near the
        # front). Under the queue's own lock (add_message takes it too): two deletes must not shift each
        # other's index.
        with self._messages_lock:
            for index, message in enumerate(self._messages):
                if message.had_receipt_handle(receipt_handle):
                    self.pending_messages.discard(message)
                    self.deleted_messages.update(message.all_receipt_handles)
                    del self._messages[index]
                    return
        raise ReceiptHandleIsInvalid()

    return delete_message


def _receipt_handle(original: Any) -> Any:
    def generate_receipt_handle() -> str:
        # moto draws 185 letters one random.choice() at a time (~2.5 ms a message); same shape, from urandom.
        return bytes(97 + byte % 26 for byte in os.urandom(185)).decode("ascii")

    return generate_receipt_handle


_sending = threading.local()  # set while this thread is inside SendMessage


def _send_message(send: Any) -> Any:
    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.active = outer

    return send_message


def _attributes(attributes: Any) -> property:
    from moto.core.utils import camelcase_to_underscores

    def attributes_while_sending(self: Any) -> dict[str, Any]:
        if not getattr(_sending, "active", False):
            return attributes.fget(self)  # type: ignore[no-any-return]
        # Within SendMessage moto reads ContentBasedDeduplication alone (its FIFO checks and its
        # deduplication): the FIFO attributes as moto renders them, not the rest (the three message
        # counts walk the queue; each name goes through a regex).
        if not self.fifo_queue:
            return {}
        found = {name: getattr(self, camelcase_to_underscores(name)) for name in self.FIFO_ATTRIBUTES}
        return {
            name: str(value).lower() if isinstance(value, bool) else value for name, value in found.items()
        }

    return property(attributes_while_sending)


SEND_PARAMS = (
    "self",
    "queue_name",
    "message_body",
    "message_attributes",
    "delay_seconds",
    "deduplication_id",
    "group_id",
    "system_attributes",
    "validate_group_id",
)
register(
    Patch(
        "moto.sqs.models:Message.visible", _visible, "speed", "a cheap clock", "sqs-depth", params=("self",)
    ),
    Patch(
        "moto.sqs.models:Message.delayed", _delayed, "speed", "a cheap clock", "sqs-depth", params=("self",)
    ),
    Patch(
        "moto.sqs.models:Message.had_receipt_handle",
        _had_receipt_handle,
        "speed",
        "no list copy",
        "sqs-depth",
        params=("self", "receipt_handle"),
    ),
    Patch(
        "moto.sqs.models:SQSBackend.is_message_valid_based_on_retention_period",
        _retention,
        "speed",
        "reads one attribute, not all",
        "sqs-depth",
        params=("self", "queue_name", "message"),
    ),
    Patch(
        "moto.sqs.models:Queue.delete_message",
        _delete_message,
        "speed",
        "stops at the message",
        "sqs-depth",
        params=("self", "receipt_handle"),
    ),
    Patch(
        "moto.sqs.models:generate_receipt_handle",
        _receipt_handle,
        "speed",
        "one urandom call",
        "sqs-depth",
        params=(),
    ),
    Patch(
        "moto.sqs.models:SQSBackend.send_message",
        _send_message,
        "speed",
        "marks SendMessage's thread",
        "sqs-depth",
        params=SEND_PARAMS,
    ),
    Patch(
        "moto.sqs.models:Queue.attributes",
        _attributes,
        "speed",
        "FIFO attributes alone within a send",
        "sqs-depth",
        params=("self",),
    ),
)
