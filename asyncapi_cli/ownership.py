"""Which state file owns a stack: tags on its main queue, checked before `up` changes anything."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .aws import AwsClients
from .errors import StateError


class Stack(Protocol):
    """What ownership reads and sets of an open stack (ops.Stack; ops imports this module, not the other
    way round)."""

    store: Any  # state.StateStore: its path names the owner
    clients: AwsClients
    ctx: Any  # engine.Context: the main queue's name, what this run created
    state: Any
    owner_lookup: Any  # the tags lookup started when the stack was opened, or None

T = TypeVar("T")

# Ownership: the main queue carries the hash of the absolute path of the state file that owns the
# stack (and the path itself where tag rules allow), so an `up` of the same name from another
# folder is refused before it touches anything. SQS tag values: up to 256 characters of letters,
# digits, spaces and _ . : / = + - @ (SQS developer guide, "Tagging queues").
STATE_TAG = "asyncapi:state"
STATE_PATH_TAG = "asyncapi:state-path"
_TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]{1,256}$")


def state_owner(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:32]


def in_background(fn: Callable[..., T], *args: Any) -> Future[T]:
    """fn(*args) on a daemon thread; its result (or error) in the future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever takes the result
            future.set_exception(exc)

    threading.Thread(target=run, name="asyncapi-lookup", daemon=True).start()
    return future


def _main_queue_tags(stack: Stack) -> tuple[str, dict[str, str]] | None:
    return main_queue_tags_of(stack.clients, stack.ctx.names.main_queue)


def main_queue_tags_of(clients: AwsClients, name: str) -> tuple[str, dict[str, str]] | None:
    from botocore.exceptions import ClientError

    sqs = clients("sqs")
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in (
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        ):
            return None
        raise
    return url, sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}


def check_ownership(stack: Stack) -> bool:
    """Refuses a stack another state file owns; whether the main queue exists."""
    lookup, stack.owner_lookup = stack.owner_lookup, None
    found = lookup.result() if lookup is not None else _main_queue_tags(stack)
    if found is None:
        return False
    owner = found[1].get(STATE_TAG)
    if owner and owner != state_owner(stack.store.path):
        other = found[1].get(STATE_PATH_TAG)
        where = f"the state file {other}" if other else "another state file"
        raise StateError(
            f"stack {stack.state.name} already exists and belongs to {where}; run asyncapi from there, "
            "or choose another --name"
        )
    return True


def ownership_tags(stack: Stack) -> dict[str, str]:
    wanted = {STATE_TAG: state_owner(stack.store.path)}
    absolute = str(stack.store.path.resolve())
    if _TAG_VALUE_RE.match(absolute):
        wanted[STATE_PATH_TAG] = absolute
    return wanted


def claim_ownership(stack: Stack) -> None:
    if "main_queue" in stack.ctx.created:  # created in this run with the tags (ownership_tags)
        return
    found = _main_queue_tags(stack)
    if found is None:
        return
    url, tags = found
    wanted = ownership_tags(stack)
    if any(tags.get(k) != v for k, v in wanted.items()):
        stack.clients("sqs").tag_queue(QueueUrl=url, Tags=wanted)
