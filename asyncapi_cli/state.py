"""The local state file: written after every resource, atomically, under an exclusive lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LockBusyError, StateError

SCHEMA_VERSION = 1
TOOL = "asyncapi"
STATE_DIR = Path(".asyncapi")


@dataclass
class Target:
    """Where a stack lives. kind: "aws" (default chain), "endpoint" (--endpoint-url) or "local"."""

    kind: str
    region: str
    account: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    # The embedded AWS's run that holds the stack (its pid and start time): it keeps everything in
    # memory, so a stack recorded under another run is gone (local only).
    instance: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "region": self.region,
            "account": self.account,
            "endpoint_url": self.endpoint_url,
            "profile": self.profile,
            **({"instance": self.instance} if self.instance else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        return cls(
            kind=data["kind"],
            region=data["region"],
            account=data.get("account"),
            endpoint_url=data.get("endpoint_url"),
            profile=data.get("profile"),
            instance=data.get("instance"),
        )


@dataclass
class StackState:
    name: str
    target: Target
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    # What `up` was given (configuration.py): a later run without flags means the same stack.
    configuration: dict[str, Any] = field(default_factory=dict)
    # Per record, written with it: its kind, name and the keys of the records it depends on, so that
    # `down` can delete it (in dependency order) even where the code builds no unit for it any more.
    graph: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "tool": TOOL,
            "name": self.name,
            "target": self.target.to_json(),
            "settings": self.settings,
            "configuration": self.configuration,
            "graph": self.graph,
            "resources": self.resources,
            "outputs": self.outputs,
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    @classmethod
    def from_json(cls, data: Any, path: Path) -> StackState:
        if not isinstance(data, dict) or data.get("tool") != TOOL:
            raise StateError(f"{path} is not an asyncapi state file; refusing to use or overwrite it")
        schema = data.get("schema")
        if not isinstance(schema, int):
            raise StateError(f"{path} has no schema version; refusing to use it")
        if schema > SCHEMA_VERSION:
            raise StateError(
                f"{path} was written by a newer asyncapi (schema {schema} > {SCHEMA_VERSION}); "
                "upgrade asyncapi"
            )
        try:
            return cls(
                name=str(data["name"]),
                target=Target.from_json(data["target"]),
                resources=dict(data.get("resources") or {}),
                outputs=dict(data.get("outputs") or {}),
                settings=dict(data.get("settings") or {}),
                configuration=dict(data.get("configuration") or {}),
                graph=dict(data.get("graph") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"{path} is damaged ({exc!s}); fix or remove it") from None


def default_state_path(name: str) -> Path:
    return STATE_DIR / f"{name}.json"


def discover_state_path() -> Path | None:
    """The one state file under .asyncapi/, if there is exactly one."""
    if not STATE_DIR.is_dir():
        return None
    candidates = sorted(p for p in STATE_DIR.glob("*.json") if p.is_file())
    if len(candidates) > 1:
        listed = ", ".join(p.stem for p in candidates)
        raise StateError(f"several stacks in {STATE_DIR}/ ({listed}); choose one with --name or --state")
    return candidates[0] if candidates else None


def read_state(path: Path) -> StackState:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(f"no state file at {path}; run 'asyncapi up' first or pass --state") from None
    except UnicodeDecodeError:
        raise StateError(f"state file {path} is not UTF-8 text; it was left untouched") from None
    except OSError as exc:
        raise StateError(f"cannot read state file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(
            f"state file {path} is corrupt or truncated (line {exc.lineno}); it was left untouched"
        ) from None
    return StackState.from_json(data, path)


def check_state_path(path: Path) -> None:
    """A state path we can really use, checked before anything starts (the embedded AWS, a first call).

    Exists: a regular, readable file. Absent: its nearest existing ancestor is a writable directory
    (so `up` can create the folders and the file). Anything else is bad input, in one line.
    """
    try:
        if path.exists():
            if not path.is_file():
                raise StateError(f"--state {path} is not a regular file")
            if not os.access(path, os.R_OK):
                raise StateError(f"cannot read state file {path}: permission denied")
            return
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
    except OSError as exc:  # e.g. ENAMETOOLONG, or a path below something unreadable
        raise StateError(f"--state {path} cannot be used: {exc.strerror}") from None
    if not ancestor.is_dir():
        raise StateError(f"--state {path} cannot be created: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK) or _pseudo_filesystem(ancestor):
        raise StateError(f"--state {path} cannot be created: {ancestor} is not writable")


def _pseudo_filesystem(directory: Path) -> bool:
    """/proc and /sys accept no new files even for root, whatever access() says."""
    resolved = directory.resolve()
    return any(resolved == Path(root) or Path(root) in resolved.parents for root in ("/proc", "/sys"))


class StateStore:
    """Owns one state file: thread-safe, atomic saves (temp file, fsync, os.replace)."""

    def __init__(self, path: Path, state: StackState) -> None:
        self.path = path
        self.state = state
        self._mutex = threading.Lock()

    def record(self, key: str, record: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
        """The record of `key`, and (meta) its kind, name and dependencies, in one atomic save."""
        with self._mutex:
            self.state.resources[key] = record
            if meta is not None:
                self.state.graph[key] = meta
            self._save()

    def forget(self, key: str) -> None:
        with self._mutex:
            known = self.state.graph.pop(key, None) is not None
            if self.state.resources.pop(key, None) is not None or known:
                self._save()

    def set_outputs(self, **outputs: Any) -> None:
        with self._mutex:
            self.state.outputs.update(outputs)
            self._save()

    def save(self) -> None:
        with self._mutex:
            self._save()

    def delete_file(self) -> None:
        """The stack is gone: remove its state file and the lock file beside it."""
        with self._mutex:
            for path in (self.path, lock_path_of(self.path)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self.state.to_json(), indent=2, sort_keys=True) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        # Make the rename itself durable.
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def lock_path_of(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def state_lock(path: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock beside the state file; released even on SIGKILL (flock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = lock_path_of(path)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusyError(
                f"another asyncapi up/down is running on {path} (lock {lock_path}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
