"""The two graphs the engine schedules: creation order for `up`, deletion order for `down`.

Both are derived from the units' references (refs.py), but not every reference orders both:
- `up`: a unit waits for what it refers to, except where it needs only a value known before the
  referenced resource exists (a function's ARN is computed from its name: API Gateway stores an
  integration URI naming it without checking it). `after` adds ordering no value carries.
- `down`: a unit is deleted before what it refers to only where AWS needs that order (a mapping
  is gone before its function and its queue: a Deleting mapping may still deliver a batch). Units
  deleted with a parent (routes and stage with their API, a permission with its function) make no
  call: their deletion order passes to the parent. `delete_after` adds ordering no value carries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .refs import Ref, _walk


def _refs_by_attribute(unit: Any) -> Iterator[tuple[str, Ref]]:
    for attribute_key, value in getattr(unit, "attributes", {}).items():
        for reference in _walk(value):
            yield attribute_key, reference


def up_edges(units: list[Any]) -> dict[str, set[str]]:
    """For each unit, the units that must be created (and ready) before it."""
    by_key = {u.key: u for u in units}
    waits_on: dict[str, set[str]] = {u.key: set() for u in units}
    for unit in units:
        if not hasattr(unit, "attributes"):  # a unit outside resources/: its declared dependencies
            waits_on[unit.key] = {d for d in unit.depends_on if d in by_key}
            continue
        waits_on[unit.key] |= {a for a in getattr(unit, "after", ()) if a in by_key}
        for attribute_key, reference in _refs_by_attribute(unit):
            target = by_key.get(reference.key)
            if target is None or target is unit:
                continue
            known = reference.attr in getattr(target, "known_before_create", frozenset())
            needs = getattr(unit, "needs_existing", None)
            if known and needs is not None and not needs(attribute_key, target):
                continue
            waits_on[unit.key].add(reference.key)
    return waits_on


def deleted_with(unit: Any) -> str | None:
    parent = getattr(unit, "deleted_with", None)
    return parent if isinstance(parent, str) else None


def down_edges(units: list[Any]) -> dict[str, set[str]]:
    """For each unit, the units that must be deleted (and gone) before it."""
    by_key = {u.key: u for u in units}

    def owner(key: str) -> str:
        seen = set()
        while key in by_key and deleted_with(by_key[key]) in by_key and key not in seen:
            seen.add(key)
            key = deleted_with(by_key[key])  # type: ignore[assignment]
        return key

    waits_on: dict[str, set[str]] = {u.key: set() for u in units}
    for unit in units:
        if not hasattr(unit, "attributes"):  # the safe default: the reverse of its dependencies
            producers = set(unit.depends_on)
        else:
            keys = getattr(unit, "deletion_keys", None)
            producers = set(getattr(unit, "delete_after", ()))
            producers |= {
                reference.key
                for attribute_key, reference in _refs_by_attribute(unit)
                if keys is None or attribute_key in keys
            }
        first = owner(unit.key)
        for producer in producers:
            if producer not in by_key:
                continue
            then = owner(producer)
            if then != first:
                waits_on[then].add(first)
    return waits_on
