"""The two graphs the engine schedules: creation order for `up`, deletion order for `down`.

Both are derived from the units' references (refs.py), but not every reference orders both:
- `up`: a unit waits for what it refers to, except where it needs only a value known before the
  referenced resource exists (a function's ARN is computed from its name: API Gateway stores an
  integration URI naming it without checking it). `after` adds ordering no value carries.
- `down`: a unit is deleted before what it refers to only where AWS needs that order (a mapping
  is gone before its function and its queue: a Deleting mapping may still deliver a batch). Units
  deleted with a parent (routes and stage with their API, a permission with its function) make no
  call: their deletion order passes to the parent. `delete_after` adds ordering no value carries.

`run_dag` runs a graph on a thread pool, the longest chains (`critical_first`) started first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol, TypeVar

from .refs import Ref, _walk


class _Keyed(Protocol):
    key: str


T = TypeVar("T", bound=_Keyed)  # an engine Outcome: what run_dag's work returns for a unit


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


def critical_first(units: list[Any], waits_on: dict[str, set[str]]) -> dict[str, float]:
    """For each unit, the longest chain of `expected_seconds` from its start to the end of the run
    (itself and what waits on it, transitively): the engine starts the longest chains first."""
    seconds = {u.key: float(getattr(u, "expected_seconds", 0.2)) for u in units}
    dependents: dict[str, set[str]] = {key: set() for key in waits_on}
    for key, producers in waits_on.items():
        for producer in producers:
            dependents.setdefault(producer, set()).add(key)
    chain: dict[str, float] = {}

    def length(key: str, seen: frozenset[str]) -> float:
        if key not in chain:
            after = [length(d, seen | {key}) for d in dependents.get(key, ()) if d not in seen]
            chain[key] = seconds.get(key, 0.2) + max(after, default=0.0)
        return chain[key]

    for key in waits_on:
        length(key, frozenset())
    return chain


def needs_known_values_only(unit: Any, units: list[Any]) -> bool:
    """Whether every reference of `unit` is to a value known before the resource it names exists
    (a name, an ARN computed from it): then its lookup can run before they exist."""
    by_key = {u.key: u for u in units}
    for _attribute_key, reference in _refs_by_attribute(unit):
        target = by_key.get(reference.key)
        if target is None or reference.attr not in getattr(target, "known_before_create", frozenset()):
            return False
    return True


MAX_WORKERS = 16  # enough for every root of the stack at once; bounded for API rate limits


def run_dag(
    units: list[Any],
    work: Callable[[Any], T],
    *,
    waits_on: dict[str, set[str]] | None = None,
    max_workers: int | None = None,
) -> list[T]:
    """Run work(unit) once per unit, each after the units it waits on (default: up's graph).

    On the first failure nothing new starts; running units finish; the first error is raised.
    The pool is sized to the graph, so that no ready unit queues behind others (the table, whose
    CREATING is the longest wait of the roots, used to start after six others); ready units start
    longest chain first (critical_first), so that the roles, whose propagation starts the
    longest chain of `up`, make the first clients and the first calls.
    """
    by_key = {u.key: u for u in units}
    if waits_on is None:
        waits_on = up_edges(units)
    chain = critical_first(units, waits_on)
    starting_order = sorted(waits_on, key=lambda key: -chain[key])
    workers = max_workers or max(1, min(MAX_WORKERS, len(units)))
    done: set[str] = set()
    outcomes: list[T] = []
    running: dict[Future[T], str] = {}
    error: BaseException | None = None
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asyncapi")
    try:
        while True:
            if error is None:
                for key in starting_order:
                    if key not in done and key not in running.values() and waits_on[key] <= done:
                        running[pool.submit(work, by_key[key])] = key
            if not running:
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                key = running.pop(future)
                exc = future.exception()
                if exc is not None:
                    error = error or exc
                else:
                    outcomes.append(future.result())
                    done.add(key)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error
    order = {u.key: i for i, u in enumerate(units)}
    outcomes.sort(key=lambda o: order[o.key])
    return outcomes
