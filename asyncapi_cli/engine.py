"""Planner (reads only), executor (acts) and destroyer over a DAG of resource units.

Each unit lives in its own module under resources/ and knows how to find, diff, create, update and
delete one kind of resource; stack.py says which units make the stack and wires their references
(refs.py), from which each unit's dependencies are derived. The engine runs independent units
concurrently and records every unit's ids in the state file the moment it exists (and forgets
them the moment they are gone).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

# Re-exported: units and features import these from the engine.
from .context import KNOWN_AFTER_UP as KNOWN_AFTER_UP
from .context import LEFT as LEFT
from .context import Change as Change
from .context import Context as Context
from .context import Found as Found
from .context import LambdaCode as LambdaCode
from .errors import AlreadyExists
from .graph import deleted_with, down_edges, needs_known_values_only, run_dag
from .resources import start_deletion, was_already_gone
from .state import StateStore


class Unit(Protocol):
    key: str
    kind: str
    name: str

    @property
    def depends_on(self) -> tuple[str, ...]: ...
    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None: ...
    def diff(self, ctx: Context, found: Found) -> list[Change]: ...
    def create(self, ctx: Context) -> dict[str, Any]: ...
    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]: ...
    def delete(self, ctx: Context, record: dict[str, Any]) -> None: ...
    def placeholder(self, ctx: Context) -> dict[str, Any]: ...


@dataclass
class Outcome:
    key: str
    kind: str
    name: str
    action: str  # plan: create/update/exists; up: created/updated/exists/adopted; down: deleted/absent
    changes: list[Change] = field(default_factory=list)
    elapsed: float = 0.0
    # A deletion that loses data or a credential says what (ops.deletion_risks); `up` asks first.
    deletes: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            **({"deletes": self.deletes} if self.deletes else {}),
            "key": self.key,
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "changes": [{"setting": c.setting, "live": c.live, "desired": c.desired} for c in self.changes],
            "elapsed": round(self.elapsed, 3),
        }


class Reporter(Protocol):
    def started(self, key: str, kind: str, name: str) -> None: ...
    def finished(self, outcome: Outcome) -> None: ...


class SilentReporter:
    def started(self, key: str, kind: str, name: str) -> None:
        pass

    def finished(self, outcome: Outcome) -> None:
        pass


def _seed_known(units: list[Unit], ctx: Context) -> None:
    """Records known before anything exists (ARNs from names), for units that need only those."""
    for unit in units:
        known = getattr(unit, "known_record", None)
        record = known(ctx) if known else {}
        if record:
            ctx.set_record(unit.key, record)


def plan(units: list[Unit], ctx: Context, store: StateStore) -> list[Outcome]:
    """What `up` would do, per resource. Reads only; never writes state."""

    def work(unit: Unit) -> Outcome:
        started = time.monotonic()
        found = unit.find(ctx, store.state.resources.get(unit.key))
        if found is None:
            ctx.set_record(unit.key, unit.placeholder(ctx))
            action, changes = "create", []
        else:
            ctx.set_record(unit.key, found.record)
            changes = unit.diff(ctx, found)
            action = "update" if changes else "exists"
        return Outcome(unit.key, unit.kind, unit.name, action, changes, time.monotonic() - started)

    _seed_known(units, ctx)
    return run_dag(units, work)


def apply(
    units: list[Unit],
    ctx: Context,
    store: StateStore,
    reporter: Reporter,
    retired: list[Unit] | None = None,
) -> list[Outcome]:
    """Converge every resource: create what is missing, repair what drifted, adopt what exists.

    `retired` are units the stack no longer has (a feature turned off): those the state records are
    deleted once the rest has converged (so nothing still refers to them), dependents first.
    """
    current = {unit.key for unit in units}
    leaving = [u for u in retired or [] if u.key not in current and u.key in store.state.resources]
    # Units marked retire_first go before the rest converges (gateway responses: the stage's new
    # deployment must not carry them).
    first = [u for u in leaving if getattr(u, "retire_first", False)]
    outcomes = destroy(first, ctx, store, reporter) if first else []
    outcomes += _apply(units, ctx, store, reporter)
    last = [u for u in leaving if u not in first]
    if last:
        outcomes += destroy(last, ctx, store, reporter)
    return outcomes


def _apply(units: list[Unit], ctx: Context, store: StateStore, reporter: Reporter) -> list[Outcome]:

    def work(unit: Unit) -> Outcome:
        name = unit.name
        reporter.started(unit.key, unit.kind, name)
        started = time.monotonic()
        recorded = store.state.resources.get(unit.key)
        parent = deleted_with(unit)
        # A child (routes, a stage, a permission) of a parent created in this run cannot exist yet:
        # no lookup.
        fresh = recorded is None and parent is not None and parent in ctx.created
        if unit.key in early:  # looked up while what it refers to was being created
            found = early[unit.key].result()
            return _converge(unit, recorded, found, started)
        # In a stack that is most likely new (ops.py: no state, no main queue), a unit whose create
        # fails cleanly when its resource exists (AlreadyExists) is created without a lookup first:
        # one call fewer on the way to what waits for it (a role's propagation starts `up`'s longest
        # chain). A stack whose state was lost is still looked up first: adopting it changes nothing.
        create_first = recorded is None and ctx.likely_new and getattr(unit, "create_first", False)
        found = None if fresh or create_first else unit.find(ctx, recorded)
        return _converge(unit, recorded, found, started)

    def _converge(unit: Unit, recorded: Any, found: Found | None, started: float) -> Outcome:
        name = unit.name
        changes: list[Change] = []
        if found is None:
            try:
                record = unit.create(ctx)
            except AlreadyExists:
                found = unit.find(ctx, recorded)
                if found is None:  # deleted again in between: nothing to converge, create it
                    record = unit.create(ctx)
        if found is None:
            action = "created"
            with ctx._lock:
                ctx.created.add(unit.key)
        else:
            changes = unit.diff(ctx, found)
            if changes:
                record = unit.update(ctx, found, changes)
                action = "updated"
            else:
                record = found.record
                action = "adopted" if recorded is None else "exists"
        meta = {"kind": unit.kind, "name": name, "depends_on": sorted(unit.depends_on)}
        if recorded != record or store.state.graph.get(unit.key) != meta:
            store.record(unit.key, record, meta)
        ctx.set_record(unit.key, record)
        outcome = Outcome(unit.key, unit.kind, name, action, changes, time.monotonic() - started)
        reporter.finished(outcome)
        look_up_early()
        return outcome

    # A unit marked find_early (a mapping: its function is waited for until Active) whose references
    # are all values known in advance is looked up early, off the path from what it waits for to its
    # create call: once a first unit has finished, so that the roots' first calls go first.
    early: dict[str, Future[Found | None]] = {}
    lookups = ThreadPoolExecutor(max_workers=2, thread_name_prefix="asyncapi-lookup")
    started_early = threading.Event()
    early_lock = threading.Lock()

    def look_up_early() -> None:
        with early_lock:
            if started_early.is_set():
                return
            started_early.set()
            for unit in units:
                recorded = store.state.resources.get(unit.key)
                if getattr(unit, "find_early", False) and needs_known_values_only(unit, units):
                    early[unit.key] = lookups.submit(unit.find, ctx, recorded)

    _seed_known(units, ctx)
    try:
        return run_dag(units, work)
    finally:
        lookups.shutdown(wait=True, cancel_futures=True)


def destroy(
    units: list[Unit],
    ctx: Context,
    store: StateStore,
    reporter: Reporter,
    extra_waits: dict[str, set[str]] | None = None,
) -> list[Outcome]:
    """Delete in AWS's deletion order (graph.down_edges). Not found means already deleted.

    A recorded resource is deleted by the ids in the state file, without looking it up first; only
    what the state does not record (`down --name` without a state file, or a crash between a create
    and its record) is found by name or tags.
    """

    going = {unit.key for unit in units}

    def work(unit: Unit) -> Outcome:
        name = unit.name
        reporter.started(unit.key, unit.kind, name)
        started = time.monotonic()
        action = "absent"
        recorded = store.state.resources.get(unit.key)
        parent = deleted_with(unit)
        if parent and parent in going:
            # Children of another resource (routes and stage of an API, a function's permission)
            # go when their parent is deleted: nothing to do. A child retired while its parent stays
            # (a feature's second invoke permission on a base function) is deleted itself.
            action = f"deleted with {parent}"
        elif getattr(unit, "kept_on_down", False):  # an account-wide setting: never undone
            action = "kept"
        elif recorded is not None and _deleted_by_record(unit, ctx, recorded):
            action = "absent" if was_already_gone() else "deleted"
        else:
            # Where names are not unique (REST APIs), a same-named orphan may remain after the
            # one found is gone: look again, a bounded number of times.
            try:
                for _ in range(1 if getattr(unit, "unique_name", True) else 5):
                    found = unit.find(ctx, None)
                    if found is None:
                        break
                    unit.delete(ctx, found.record)
                    action = "deleted"
            except KeyError:  # neither ids recorded nor what finding it by name needs: say so
                action = LEFT
        if action != LEFT:
            store.forget(unit.key)
        outcome = Outcome(unit.key, unit.kind, name, action, [], time.monotonic() - started)
        reporter.finished(outcome)
        return outcome

    # Units found by name find themselves through other units' records (the API id, say): take
    # them from the state, or, when the state lost them, find those units by name first.
    _seed_known(units, ctx)
    for key, record in store.state.resources.items():
        ctx.set_record(key, record)
    needed = {dep for unit in units if unit.key not in store.state.resources for dep in unit.depends_on}
    # Those found by name first, then the children whose placeholders may refer to them.
    for unit in sorted(units, key=lambda u: deleted_with(u) is not None):
        if unit.key not in needed or unit.key in store.state.resources:
            continue
        try:
            found = None if deleted_with(unit) else unit.find(ctx, None)
            record = found.record if found else unit.placeholder(ctx)
        except KeyError:  # it refers to a unit nothing was found for: nothing of it to find either
            record = {}
        ctx.set_record(unit.key, record)
    waits_on = down_edges(units)
    for key, before in (extra_waits or {}).items():  # orderings the state recorded (ops.down)
        waits_on.setdefault(key, set()).update(before & set(waits_on))
    return run_dag(units, work, waits_on=waits_on)


def _deleted_by_record(unit: Unit, ctx: Context, record: dict[str, Any]) -> bool:
    """Delete by the recorded ids ("not found" is success: the unit ignores it). A record without
    what the delete needs (an older or damaged state: a queue without its URL) is False: the unit is
    then found by name, as an unrecorded one is, rather than failing `down`."""
    start_deletion()
    try:
        unit.delete(ctx, record)
    except KeyError:
        return False
    return True


def diff_settings(live: dict[str, Any], desired: dict[str, Any], prefix: str = "") -> list[Change]:
    """Changes for every desired setting whose live value differs."""
    return [
        Change(f"{prefix}{key}", live.get(key), value)
        for key, value in desired.items()
        if live.get(key) != value
    ]
