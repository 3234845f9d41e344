"""References between units: a value one unit takes from another unit's record, resolved at run time.

A unit's attributes are plain data in which `ref("main_queue").arn` (a `Ref`), `Sub(...)` (a string
built from refs) and `Json(...)` (a JSON document, serialized once its refs are resolved) may appear.
The engine derives a unit's dependencies by walking its attributes for refs (as Chalice's models
do), so a dependency can never disagree with the value that needs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ref:
    """The attribute `attr` of the record of unit `key` (for example its "arn" or "id")."""

    key: str
    attr: str


class RefTo:
    """`ref("dlq").arn` reads better than `Ref("dlq", "arn")`: any attribute name makes a Ref."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __getattr__(self, attr: str) -> Ref:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return Ref(self._key, attr)


def ref(key: str) -> RefTo:
    return RefTo(key)


@dataclass(frozen=True)
class Sub:
    """A string from a template with `{field}` slots filled by refs or plain values (like Fn::Sub)."""

    template: str
    values: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, template: str, **values: Any) -> Sub:
        return cls(template, tuple(sorted(values.items())))


@dataclass(frozen=True)
class Json:
    """A JSON document passed to AWS as a string (an SQS RedrivePolicy, say); its refs resolve first."""

    document: Any


Lookup = Callable[[str], dict[str, Any]]


def resolve(value: Any, lookup: Lookup) -> Any:
    """The value with every Ref, Sub and Json replaced by what the records say now."""
    if isinstance(value, Ref):
        record = lookup(value.key)
        if value.attr not in record:
            raise KeyError(f"the record of {value.key!r} has no {value.attr!r} (it has {sorted(record)})")
        return record[value.attr]
    if isinstance(value, Sub):
        return value.template.format(**{name: resolve(v, lookup) for name, v in value.values})
    if isinstance(value, Json):
        return json.dumps(resolve(value.document, lookup), sort_keys=True)
    if isinstance(value, dict):
        return {k: resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, lookup) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve(v, lookup) for v in value)
    return value


def _walk(value: Any) -> Iterator[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Sub):
        for _, item in value.values:
            yield from _walk(item)
    elif isinstance(value, Json):
        yield from _walk(value.document)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)


def refs_in(value: Any) -> set[str]:
    """The keys of every unit the value refers to."""
    return {r.key for r in _walk(value)}
