"""The registry of every patch the embedded AWS makes to a library's internals (moto, werkzeug, flask,
airspeed), modelled on LocalStack's localstack/utils/patch.py: a patch is an object that names its target,
why it exists, what it was verified on, and can be applied and undone.

Each patch declares its purpose:
- "fidelity": the emulator answers as AWS does only with it (a moto bug, an action moto lacks, a hook the
  embedded services need). A fidelity patch whose target is missing or no longer looks as verified stops
  the embedded AWS at start, with one line naming the patch: answering differently from AWS, silently,
  would be worse.
- "speed": the same answers at less CPU. One whose target is missing or changed is skipped with one log
  line; the emulator still works, slower.

Only the embedded AWS's process applies patches (server.py), and the in-process test fixtures that need
some of them, through `apply()` here. What was applied or skipped is `report()` (`asyncapi local status`).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

Purpose = Literal["fidelity", "speed"]
log = logging.getLogger("asyncapi.local")

# Test hook: targets ("module:Class.attribute", comma-separated) deleted before the patches apply, as a
# library release that dropped them would look. Read only by apply().
SIMULATE_MISSING_ENV = "ASYNCAPI_COMPAT_SIMULATE_MISSING"
_MISSING = object()


class CompatError(Exception):
    """A fidelity patch cannot apply: the library is not the one it was verified on."""


class _NotApplicable(Exception):
    pass


@dataclass(eq=False)
class Patch:
    """`target` is "module:attribute" or "module:Class.attribute"; `make(original)` returns what replaces
    it (`original` is None when the patch adds an attribute the library lacks: `adds=True`)."""

    target: str
    make: Callable[[Any], Any]
    purpose: Purpose
    why: str
    group: str
    verified: tuple[str, str] = ("moto", "5.2.5")  # (distribution, versions it was verified on)
    params: tuple[str, ...] | None = None  # the target's parameter names, as verified
    adds: bool = False
    upstream: str | None = None  # the ready-to-send fix for the library, when this works around its bug
    state: str = "pending"
    _saved: Any = field(default=_MISSING, repr=False)  # the owner's own entry, restored by undo()
    _replaced: Any = field(default=_MISSING, repr=False)  # what the target was (inherited or not)
    _owner: Any = field(default=None, repr=False)

    @property
    def module_name(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def path(self) -> list[str]:
        return self.target.split(":", 1)[1].split(".")

    def _resolve(self) -> tuple[Any, str]:
        try:
            owner: Any = importlib.import_module(self.module_name)
        except ImportError as exc:
            raise _NotApplicable(f"module {self.module_name} cannot be imported: {exc}") from None
        *owners, attribute = self.path
        for name in owners:
            owner = getattr(owner, name, _MISSING)
            if owner is _MISSING:
                raise _NotApplicable(f"{name} is missing from {self.module_name}")
        return owner, attribute

    def check(self) -> tuple[Any, str, Any]:
        """The owner, attribute and current value, if the target still looks as verified; else raises
        _NotApplicable with the reason."""
        owner, attribute = self._resolve()
        current = getattr(owner, attribute, _MISSING)
        if self.adds:
            if current is not _MISSING:
                raise _NotApplicable(f"{attribute} exists now (the library may implement it itself)")
            return owner, attribute, None
        if current is _MISSING:
            raise _NotApplicable(f"{attribute} is missing")
        if self.params is not None:
            function = current.fget if isinstance(current, property) else current
            try:
                found = tuple(inspect.signature(function).parameters)
            except (TypeError, ValueError):
                found = ()
            if found != self.params:
                raise _NotApplicable(
                    f"signature changed: ({', '.join(found)}), verified ({', '.join(self.params)})"
                )
        return owner, attribute, current

    def apply(self) -> None:
        owner, attribute, current = self.check()
        replacement = self.make(current)
        self._owner, self._replaced = owner, current
        self._saved = vars(owner).get(attribute, _MISSING) if inspect.isclass(owner) else current
        setattr(owner, attribute, replacement)
        self.state = "applied"

    def undo(self) -> None:
        if self.state != "applied":
            return
        *_, attribute = self.path
        if self._saved is _MISSING:
            delattr(self._owner, attribute)  # it was inherited, or added by this patch
        else:
            setattr(self._owner, attribute, self._saved)
        self._saved = self._replaced = _MISSING
        self.state = "pending"

    @property
    def original(self) -> Any:
        """What the target was before this patch (tests compare against it)."""
        if self._replaced is _MISSING:
            owner, attribute = self._resolve()
            return getattr(owner, attribute)
        return self._replaced

    def describe(self) -> dict[str, Any]:
        package, versions = self.verified
        return {
            "target": self.target,
            "purpose": self.purpose,
            "group": self.group,
            "state": self.state,
            "why": self.why,
            "verified": f"{package} {versions}",
            "installed": _installed_version(package),
            **({"upstream": self.upstream} if self.upstream else {}),
        }


def _installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


class Registry:
    def __init__(self) -> None:
        self._patches: list[Patch] = []
        self._lock = threading.RLock()

    def register(self, *patches: Patch) -> None:
        with self._lock:
            known = {p.target for p in self._patches}
            for patch in patches:
                if patch.target in known:
                    raise ValueError(f"{patch.target} is patched twice")  # one patch per target
                self._patches.append(patch)

    def patches(self, groups: Iterable[str] | None = None) -> list[Patch]:
        wanted = None if groups is None else set(groups)
        return [p for p in self._patches if wanted is None or p.group in wanted]

    def get(self, target: str) -> Patch:
        return next(p for p in self._patches if p.target == target)

    def apply(self, groups: Iterable[str] | None = None) -> None:
        """Apply the patches of `groups` (all by default) not yet applied. A group applies whole or not
        at all: its patches work together. Raises CompatError for a fidelity group that cannot apply."""
        with self._lock:
            _simulate_missing_targets()
            by_group: dict[str, list[Patch]] = {}
            for patch in self.patches(groups):
                by_group.setdefault(patch.group, []).append(patch)
            for group, patches in by_group.items():
                pending = [p for p in patches if p.state != "applied"]
                if not pending:
                    continue
                problem = _first_problem(pending)
                if problem is None:
                    for patch in pending:
                        patch.apply()
                    continue
                broken, reason = problem
                if broken.purpose == "fidelity":
                    raise CompatError(
                        f"fidelity patch {broken.target} ({group}) cannot apply: {reason}; "
                        f"verified on {' '.join(broken.verified)}"
                    )
                for patch in pending:
                    patch.state = f"skipped: {broken.target}: {reason}"
                log.warning(
                    "compat: speed patches %s skipped (%s: %s); slower, same answers",
                    group,
                    broken.target,
                    reason,
                )

    def undo(self, groups: Iterable[str] | None = None) -> None:
        with self._lock:
            for patch in reversed(self.patches(groups)):
                patch.undo()

    def report(self) -> list[dict[str, Any]]:
        return [patch.describe() for patch in self._patches]


def _first_problem(patches: list[Patch]) -> tuple[Patch, str] | None:
    for patch in patches:
        try:
            patch.check()
        except _NotApplicable as exc:
            return patch, str(exc)
    return None


def _simulate_missing_targets() -> None:
    for target in filter(None, os.environ.get(SIMULATE_MISSING_ENV, "").split(",")):
        module_name, _, dotted = target.strip().partition(":")
        owner: Any = importlib.import_module(module_name)
        *owners, attribute = dotted.split(".")
        for name in owners:
            owner = getattr(owner, name)
        for holder in inspect.getmro(owner) if inspect.isclass(owner) else (owner,):
            if attribute in vars(holder):
                delattr(holder, attribute)
                break


REGISTRY = Registry()
register = REGISTRY.register
apply = REGISTRY.apply
