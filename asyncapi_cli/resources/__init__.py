"""One module per kind of resource; each unit finds, diffs, creates, updates and deletes itself.

A unit knows its AWS service, never the recipe: names, settings, policies and references all come
from stack.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from ..aws import is_not_found
from ..refs import refs_in


class Context(Protocol):
    """What a unit asks of the engine's context here (engine.Context; the engine imports the units, not
    the other way round)."""

    def resolve(self, value: Any) -> Any: ...


T = TypeVar("T")


def or_none(call: Callable[[], T]) -> T | None:
    """The call's result, or None when AWS says the resource does not exist."""
    try:
        return call()
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


_deletion = threading.local()


def ignore_not_found(call: Callable[[], Any]) -> None:
    """Deleting what is already gone is success (and noted: see was_already_gone)."""
    _deletion.gone = False
    try:
        call()
    except Exception as exc:
        if not is_not_found(exc):
            raise
        _deletion.gone = True


def note_already_gone() -> None:
    """For a delete that learns otherwise than through ignore_not_found that nothing was there."""
    _deletion.gone = True


def start_deletion() -> None:
    _deletion.gone = None


def was_already_gone() -> bool:
    """Whether this thread's last delete since start_deletion() found nothing to delete, so that
    `down` can say "absent" without looking the resource up first."""
    return getattr(_deletion, "gone", None) is True


@dataclass(kw_only=True)
class Resource:
    """What every unit shares: a key in the state file, a name, and one attribute map.

    `attributes` is the desired state in the AWS API's own shape; the same map is sent on create,
    compared with what is read back (diff) and sent on update. Its refs name the units this one
    depends on; `after` adds ordering that no value carries (a log group before its function).
    """

    key: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    # Deletion order that no reference carries: these units are deleted (and gone) before this one.
    delete_after: tuple[str, ...] = ()
    kind: ClassVar[str] = "resource"
    # Record attributes computed from the name alone (an ARN, say): a unit needing only their value
    # need not wait for this one to exist (graph.py).
    known_before_create: ClassVar[frozenset[str]] = frozenset()
    # This unit's attribute keys whose references need only the value, not the resource itself
    # (AWS does not check them on create: a function's environment names a table, say).
    value_only_keys: ClassVar[frozenset[str]] = frozenset()
    # This unit's attribute keys whose references order deletion (it goes before what they name);
    # None: every reference does (the safe default for a new kind).
    deletion_keys: ClassVar[frozenset[str] | None] = None
    # Roughly how long creating one takes until what waits on it can proceed (AWS's settling
    # included): only orders which ready units start first (graph.critical_first).
    expected_seconds: ClassVar[float] = 0.2

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Every unit this one takes a value from, or is ordered after (data dependencies)."""
        return tuple(sorted(refs_in(self.attributes) | set(self.after)))

    def known_record(self, ctx: Context) -> dict[str, Any]:
        """The attributes of the record known before the resource exists."""
        if not self.known_before_create:
            return {}
        return {k: v for k, v in self.placeholder(ctx).items() if k in self.known_before_create}

    def needs_existing(self, attribute_key: str, target: Any) -> bool:
        """Whether the refs under attribute_key need `target` to exist (not just its known value)."""
        return attribute_key not in self.value_only_keys

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        raise NotImplementedError

    def desired(self, ctx: Context) -> dict[str, Any]:
        resolved: dict[str, Any] = ctx.resolve(self.attributes)
        return resolved
