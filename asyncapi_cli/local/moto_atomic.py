"""Operations AWS applies atomically and moto carries out in several Python steps, run one at a time.

moto's servers and in-process mocks run requests on threads, and these races were seen:
- DynamoDB applies each write to an item atomically: an UpdateItem's ADD is an atomic counter or set
  addition, and a condition is checked against the item it writes (Amazon DynamoDB Developer Guide,
  "Atomic counters" and "Condition expressions"). moto reads, changes and stores the item in Python, so
  two threads' ADD to one item could lose one: three runs of a schedule were recorded as one.
- S3 gives strong read-after-write consistency, and of two concurrent PUTs of a key the later one wins
  (Amazon S3 User Guide, "Amazon S3 data consistency model"). moto's PutObject closes the buffer of the
  value it replaces (FakeKey.dispose) while another thread may still read it (a GET, or the first PUT's
  own answer, whose ETag is read from the buffer): "I/O operation on closed file". Two deliveries of
  one job write its result object at once, and one of them failed that way.
"""

from __future__ import annotations

import threading
from typing import Any

from .moto_patches import originals

_lock = threading.Lock()


def apply() -> None:
    """Both (idempotent)."""
    atomic_dynamodb_writes()
    atomic_s3_object_operations()


def atomic_dynamodb_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    _one_at_a_time(
        DynamoDBBackend,
        ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"),
    )


def atomic_s3_object_operations() -> None:
    from moto.s3.responses import S3Response

    # Every request on an object (GET, HEAD, PUT, DELETE, copies) goes through key_response, on the
    # server and in-process alike, answer included.
    _one_at_a_time(S3Response, ("key_response",))


def _one_at_a_time(cls: type, names: tuple[str, ...]) -> None:
    """Each of cls's methods `names` runs under one lock of cls's own (reentrant: a transaction's
    writes may go through the others)."""
    with _lock:
        if f"{cls.__name__}.{names[0]}" in originals:
            return
        lock = threading.RLock()

        def serialized(original: Any) -> Any:
            def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                with lock:
                    return original(self, *args, **kwargs)

            return call

        for name in names:
            original = getattr(cls, name)
            originals[f"{cls.__name__}.{name}"] = original
            setattr(cls, name, serialized(original))
