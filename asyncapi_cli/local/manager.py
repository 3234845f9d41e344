"""Start, find and stop the embedded local AWS (a background process bound to 127.0.0.1)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..errors import AwsError
from ..retry import Pacer, wait_until

START_TIMEOUT = 60.0


def home() -> Path:
    base = Path(os.environ.get("ASYNCAPI_HOME") or Path.home() / ".asyncapi")
    path = base / "local"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    # So does anyone else's zombie: the server outlives the `up` that started it, so its parent is
    # init, which may take seconds to reap it.
    found = _proc_state(Path(f"/proc/{pid}"))
    return found is None or found[0] != "Z"


def _proc_state(entry: Path) -> tuple[str, int] | None:
    """(state, process group) from Linux's /proc/<pid>/stat (the fields after the name in parentheses);
    None where there is no such file (gone, or no /proc)."""
    try:
        stat = (entry / "stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return fields[0], int(fields[2])  # state, ppid, pgrp
    except (OSError, IndexError, ValueError):
        return None


def _group_running(pgid: int) -> bool:
    """Whether a process of the server's group (its Lambda workers) still runs. Zombies do not count:
    they have exited, and init reaps them when it gets to it (Linux /proc; elsewhere, the group's
    existence is the answer)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit() and (found := _proc_state(entry)) and found[1] == pgid and found[0] != "Z":
            return True
    return False


def _accepts(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


def running_info() -> dict[str, Any] | None:
    path = home() / "server.json"
    try:
        info = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if _pid_alive(int(info.get("pid", 0))) and _accepts(info["endpoint"]) and _accepts(info["gateway"]):
        return dict(info)
    return None


class ServerProcess(Protocol):
    def poll(self) -> int | None: ...


def launch_server_process(root: Path, log_path: Path) -> ServerProcess:
    """The server as a new interpreter in its own session: it outlives this command, and its Lambda
    workers share its process group (which `stop` ends)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "asyncapi_cli.local.server", "--home", str(root)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd=str(root),
        )


# The seam for starting the server process (the tests' CLI zygote swaps in a fork of a warm process).
server_launcher: Callable[[Path, Path], ServerProcess] = launch_server_process


def ensure_running(pacer: Pacer | None = None) -> dict[str, Any]:
    """The running embedded AWS, started in the background if needed (once, even when racing)."""
    pacer = pacer or Pacer()
    root = home()
    with open(root / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = running_info()
        if info is not None:
            return info
        with contextlib.suppress(FileNotFoundError):
            (root / "server.json").unlink()
        # The server logs to server.log itself (rotated); this file only catches what escapes logging.
        log_path = root / "server.err"
        process = server_launcher(root, log_path)

        def started() -> dict[str, Any] | None:
            if process.poll() is not None:
                reason = _last_line(log_path)
                raise AwsError(
                    f"the embedded local AWS failed to start{': ' + reason if reason else ''}; see {log_path}"
                )
            return running_info()

        return wait_until(
            started,
            pacer=pacer,
            what="the embedded local AWS to start",
            timeout=START_TIMEOUT,
            base=0.05,
            cap=0.5,
        )


def _last_line(path: Path) -> str:
    """The server's one-line reason for exiting at start (a line "asyncapi local: ..."), if any."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    last = next((line for line in reversed(lines) if line.strip()), "")
    return last.removeprefix("asyncapi local: ") if last.startswith("asyncapi local: ") else ""


def local_status() -> dict[str, Any]:
    """The running server's limits, warm workers and pollers (written by it every 2 s), or {}."""
    try:
        return dict(json.loads((home() / "status.json").read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def describe_compat(patches: list[dict[str, Any]]) -> list[str]:
    """`asyncapi local status` lines for the library patches the server applied or skipped, by group."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for patch in patches:
        groups.setdefault((patch["group"], patch["purpose"]), []).append(patch)
    lines = []
    for (group, purpose), members in groups.items():
        skipped = [p for p in members if p["state"] != "applied"]
        state = skipped[0]["state"] if skipped else "applied"
        verified = members[0]["verified"]
        targets = f"{len(members)} target{'s' if len(members) > 1 else ''}"
        lines.append(f"patch {group} ({purpose}, {targets}, verified on {verified}): {state}")
    return lines


def describe_limits(status: dict[str, Any]) -> list[str]:
    """`asyncapi local status` lines for the local limits (plain text: no markup)."""
    if not status:
        return []
    # Reserved concurrency is carved out: the limit is the unreserved pool plus every reservation.
    reserved = status.get("reservedConcurrency") or {}
    carve = ", ".join(f"{name} {count}" for name, count in sorted(reserved.items()))
    split = (
        f" ({status.get('unreservedConcurrency')} unreserved + reserved: {carve})"
        if reserved and status.get("unreservedConcurrency") is not None
        else ""
    )
    lines = [
        f"account concurrency limit {status.get('accountConcurrencyLimit')}{split}, "
        f"idle workers reclaimed after {status.get('idleSeconds'):.0f} s"
    ]
    for name, function in sorted((status.get("functions") or {}).items()):
        reserved = function.get("reservedConcurrency")
        lines.append(
            f"function {name}: {function.get('warm')} warm, {function.get('busy')} busy, "
            f"reserved concurrency {'none' if reserved is None else reserved}"
        )
    cloudwatch = status.get("cloudwatch")
    if cloudwatch:
        lines.append(
            f"cloudwatch: {cloudwatch.get('metricSeries', 0)} metric series, "
            f"{cloudwatch.get('alarmEvaluations', 0)} alarm evaluations, "
            f"{cloudwatch.get('alarmTransitions', 0)} state changes, "
            f"{cloudwatch.get('alarmActions', 0)} actions"
        )
        lines.append(
            f"sns: {cloudwatch.get('snsDeliveries', 0)} HTTP deliveries, "
            f"{cloudwatch.get('snsDeliveryFailures', 0)} failed, "
            f"{cloudwatch.get('snsEmails', 0)} emails logged, "
            f"confirmation and certificate URLs at {cloudwatch.get('sns')}"
        )
    for uuid, mapping in sorted((status.get("mappings") or {}).items()):
        if "notPolled" in mapping:
            lines.append(f"mapping {uuid}: not polled ({mapping['notPolled']})")
        else:
            lines.append(
                f"mapping {uuid}: {mapping.get('pollers')} pollers, "
                f"{mapping.get('batchesInFlight', 0)} batches in flight, "
                f"maximum concurrency {mapping.get('maximumConcurrency', 1)}"
            )
    return lines


def stop(pacer: Pacer | None = None) -> bool:
    pacer = pacer or Pacer()
    path = home() / "server.json"
    try:
        info = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return False
    pid = int(info.get("pid", 0))
    if not pid or not _pid_alive(pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    try:
        wait_until(
            lambda: not _pid_alive(pid) and not _group_running(pid),
            pacer=pacer,
            what="the embedded AWS to stop",
            timeout=15,
            base=0.05,
            cap=0.5,
        )
    except AwsError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True
