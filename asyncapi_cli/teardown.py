"""Teardown from the record: `down` deletes what the state file records, whatever today's flags, file
or code say, and `up` deletes what the state records but the configuration no longer has.

What deletes a record is its unit in the stack with everything on (every feature, API keys, CORS), or,
for a record no unit of this code builds (another asyncapi version wrote it), the unit its recorded kind
names (resources/registry.py), ordered by the dependencies recorded beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Protocol

from . import config, engine
from .engine import Context, Outcome, Reporter
from .errors import StateError
from .stack import build_units
from .state import StackState, StateStore, read_state, state_lock


class Stack(Protocol):
    """What teardown needs of ops.Stack (ops builds on this module, so it is not imported here)."""

    store: StateStore
    ctx: Context

    @property
    def state(self) -> StackState: ...


@contextlib.contextmanager
def locked(stack: Stack) -> Iterator[None]:
    with state_lock(stack.store.path):
        # Re-read under the lock: another run may have changed the file since we looked.
        if stack.store.path.exists():
            fresh = read_state(stack.store.path)
            stack.store.state.resources = fresh.resources
            stack.store.state.outputs = fresh.outputs
        yield


def retired_units(stack: Stack) -> list[engine.Unit]:
    """Units the state records that the stack's configuration no longer has (a feature, auth or
    CORS turned off): each record's unit, from the stack with everything on."""
    current = {unit.key for unit in build_units(stack.ctx)}
    everything = every_unit(stack.ctx)
    retired = [unit for unit in everything if unit.key not in current and unit.key in stack.state.resources]
    return retired + _retired_items(stack, current | {unit.key for unit in everything})


def _retired_items(stack: Stack, built: set[str]) -> list[engine.Unit]:
    """Records of kinds with one unit per configured item (an alarm subscription per `notify`
    endpoint): a record that no configuration builds any more is retired from its record."""
    from .resources.registry import KINDS, unit_for

    items = []
    for key in stack.state.resources:
        meta = stack.state.graph.get(key) or {}
        cls = KINDS.get(str(meta.get("kind")))
        if key not in built and cls is not None and getattr(cls, "retired_from_record", False):
            unit = unit_for(key, meta)
            if unit is not None:
                items.append(unit)
    return items


def every_unit(ctx: Context) -> list[engine.Unit]:
    """Every unit the stack can have, whatever its configuration: every feature, API keys, CORS.
    What deletes a record comes from here, never from today's flags, file or settings."""
    everything = dataclasses.replace(
        ctx.settings,
        features=frozenset(config.FEATURES),
        auth="api-key",
        cors_origins=ctx.settings.cors_origins or ("*",),
    )
    return build_units(dataclasses.replace(ctx, settings=everything), include_disabled=True)


def down(stack: Stack, reporter: Reporter) -> list[Outcome]:
    """Delete every resource the state records, by the records' ids, whatever the configuration says
    today; with no state (down --name), every kind the stack can have, found by name."""
    with locked(stack):
        everything = every_unit(stack.ctx)
        if stack.state.resources:
            # What the state records, and what the recorded configuration has but the state lost (a
            # crash between a create and its record): found by name.
            wanted = {unit.key for unit in build_units(stack.ctx)} | set(stack.state.resources)
            units = [unit for unit in everything if unit.key in wanted]
        else:
            units = everything
        known = {unit.key for unit in everything}
        unknown = [key for key in stack.state.resources if key not in known]
        # Records no unit of this code builds (another asyncapi version wrote them) go first, from
        # their recorded kind and dependencies: nothing this code builds can depend on them.
        outcomes = _destroy_from_record(stack, unknown, reporter)
        outcomes += engine.destroy(units, stack.ctx, stack.store, reporter)
        left = [o.key for o in outcomes if o.action.startswith("left")]
        if left:
            raise StateError(
                f"down deleted everything else, but left {', '.join(left)} (see above); "
                f"{stack.store.path} keeps their records: delete them by hand, then the file"
            )
        stack.store.delete_file()
    return outcomes


def _destroy_from_record(stack: Stack, keys: list[str], reporter: Reporter) -> list[Outcome]:
    """Delete records by their recorded kind (resources/registry.py), the dependents first (the
    recorded depends_on, reversed). A record of a kind this code does not know is left, and said."""
    from .resources.registry import unit_for

    graph = stack.state.graph
    units, left = [], []
    for key in keys:
        unit = unit_for(key, graph.get(key) or {})
        if unit is None:
            kind = str((graph.get(key) or {}).get("kind", "unknown"))
            left.append(Outcome(key, kind, key, f"left (a {kind} this asyncapi cannot delete)"))
        else:
            units.append(unit)
    # down: a record is deleted after every record that depends on it.
    going = {unit.key for unit in units}
    waits: dict[str, set[str]] = {key: set() for key in going}
    for key in going:
        for dependency in (graph.get(key) or {}).get("depends_on") or ():
            if dependency in going:
                waits[dependency].add(key)
    done = engine.destroy(units, stack.ctx, stack.store, reporter, extra_waits=waits) if units else []
    return done + left
