"""One module per kind of resource; each unit finds, diffs, creates, updates and deletes itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..aws import is_not_found

T = TypeVar("T")


def or_none(call: Callable[[], T]) -> T | None:
    """The call's result, or None when AWS says the resource does not exist."""
    try:
        return call()
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def ignore_not_found(call: Callable[[], Any]) -> None:
    """Deleting what is already gone is success."""
    or_none(call)
