"""Runs the function code stored in the control plane, in warm, separate worker processes.

Execution environments (lambda_sandbox.Sandbox) are kept warm per (function, code, configuration),
reclaimed after idling (AWS reclaims idle environments too), replaced after a crash or a timeout, and
bounded: per function by its reserved concurrency (GetFunctionConcurrency) and in total by a local
account limit. A function with reserved concurrency 0 is throttled, as on AWS.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ...lambda_interpreters import (
    Interpreter,
    bytecode_prefix,
    interpreter_for,
    runtime_library_dir,
    shared_root,
)
from .concurrency import Concurrency, Throttled, account_limit, reservations_in_moto
from .observers import Observer, tell
from .sandbox import (
    Credentials,
    FunctionSpec,
    InvokeResult,
    LogSink,
    Sandbox,
    StderrSink,
    static_credentials,
)
from .zygote import ZygoteLauncher

__all__ = ["FunctionSpec", "InvokeResult", "LambdaRuntime", "lookup_function", "account_limit"]

log = logging.getLogger("asyncapi.local.lambda")

IDLE_SECONDS = 60.0  # a warm environment unused this long is reclaimed


class FunctionPool:
    def __init__(
        self,
        spec: FunctionSpec,
        make_sandbox: Callable[[FunctionSpec], Sandbox],
        monotonic: Callable[[], float],
    ) -> None:
        self.spec = spec
        self._make = make_sandbox
        self._monotonic = monotonic
        self._idle: list[tuple[float, Sandbox]] = []
        self._lock = threading.Lock()
        self.busy = 0

    def acquire(self) -> Sandbox:
        with self._lock:
            self.busy += 1
            while self._idle:
                _, sandbox = self._idle.pop()
                if sandbox.usable and sandbox.process.poll() is None:
                    return sandbox
                sandbox.kill()
        try:
            return self._make(self.spec)
        except BaseException:
            with self._lock:
                self.busy -= 1
            raise

    def release(self, sandbox: Sandbox) -> None:
        with self._lock:
            self.busy -= 1
            if sandbox.usable and sandbox.process.poll() is None:
                self._idle.append((self._monotonic(), sandbox))
                return
        sandbox.kill()

    def reap_idle(self, idle_seconds: float) -> int:
        """Kill environments idle longer than idle_seconds; the number reclaimed."""
        cutoff = self._monotonic() - idle_seconds
        with self._lock:
            old = [s for t, s in self._idle if t <= cutoff]
            self._idle = [(t, s) for t, s in self._idle if t > cutoff]
        for sandbox in old:
            sandbox.kill()
        return len(old)

    @property
    def warm(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, sandbox in idle:
            sandbox.kill()


class LambdaRuntime:
    """Invokes functions by name; specs are read from the control plane on each call."""

    def __init__(
        self,
        endpoint: str,
        code_root: Path,
        log: IO[str] | None = None,
        lookup: Any = None,
        sink: LogSink | None = None,
        credentials: Credentials | None = None,
        limit: int | None = None,
        idle_seconds: float = IDLE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        zygote: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.code_root = code_root
        self._lookup = lookup or lookup_function
        self._sink = sink or StderrSink(log)
        self._credentials = credentials or static_credentials
        # Reserved concurrency is carved out of the account's limit (concurrency.py).
        self.concurrency = Concurrency(limit or account_limit())
        self.idle_seconds = idle_seconds
        self._monotonic = monotonic
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._use_zygote = zygote
        self._zygotes: dict[str, ZygoteLauncher] = {}  # per interpreter
        self._runtime_dir: Path | None = None
        self._closed = False
        # Apart from _lock: starting the zygote or unpacking code takes a while, and invocations of
        # functions already warm must not wait for it.
        self._zygote_lock = threading.Lock()
        self._unpack_lock = threading.Lock()
        self._unpacking: dict[str, threading.Lock] = {}  # per code version
        self.observers: list[Observer] = []

    def prepare(self, account: str, region: str, name: str) -> None:
        """Unpack the function's code and start the worker zygote now, in the background, rather than
        inside its first invocations (called when a function is created or its code updated). Under
        load, both took ~0.5 s there, four environments unpacking the same code at once while the
        server's threads were busy with submits. Neither is an AWS environment: the first
        invocation still starts one and runs its init phase, as on AWS."""
        threading.Thread(
            target=self._prepare, args=(account, region, name), daemon=True, name="lambda-prepare"
        ).start()

    def _prepare(self, account: str, region: str, name: str) -> None:
        try:
            spec = self._lookup(account, region, name)
            if spec is None:
                return  # deleted meanwhile
            self._code_dir(spec)
            self._launcher(interpreter_for(spec.runtime))
        except Exception as exc:  # the first invocation does it again and reports what fails
            log.warning("preparing function %s: %s", name, exc)

    def _code_dir(self, spec: FunctionSpec) -> Path:
        target = self.code_root / spec.digest[:24]
        with self._unpack_lock:
            unpacking = self._unpacking.setdefault(target.name, threading.Lock())
        with unpacking:  # once: concurrent first invocations wait for it, not unpack it again
            if not target.exists():
                staging = target.with_name(target.name + f".{uuid.uuid4().hex}")
                with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
                    archive.extractall(staging)
                # --- asyncapi.toml (package.py): requirements built for this host when the Lambda
                # wheels in the zip cannot load here (another CPython or machine); else a no-op. ---
                from ...package import overlay_host_dependencies

                overlay_host_dependencies(spec.code, staging)
                try:
                    staging.rename(target)
                except OSError:  # another server process sharing this code root renamed it first
                    pass
        return target

    def _make_sandbox(self, spec: FunctionSpec) -> Sandbox:
        interpreter = interpreter_for(spec.runtime)  # the declared runtime's Python, else the nearest
        return Sandbox(
            spec,
            self._code_dir(spec),
            self.endpoint,
            self._sink,
            self._credentials(spec),
            launcher=self._launcher(interpreter),
            executable=interpreter.executable,
            runtime_dir=self.runtime_dir(),
            pycache_prefix=bytecode_prefix(shared_root(), interpreter, self.runtime_dir()),
        )

    def runtime_dir(self) -> Path:
        """The local /var/runtime: links to the boto3, botocore and dependencies Lambda provides."""
        with self._unpack_lock:
            if self._runtime_dir is None:
                self._runtime_dir = runtime_library_dir(shared_root())
            return self._runtime_dir

    def _launcher(self, interpreter: Interpreter) -> ZygoteLauncher | None:
        """The warm zygote that workers of this interpreter are forked from (lambda_zygote.py), started on
        first use and again if it died; None when it cannot start (workers are then new interpreters)."""
        if not self._use_zygote:
            return None
        runtime_dir = self.runtime_dir()
        prefix = bytecode_prefix(shared_root(), interpreter, runtime_dir)
        executable = interpreter.executable
        with self._zygote_lock:
            if self._closed:
                return None  # a prepare() finishing after close() starts nothing
            zygote = self._zygotes.get(executable)
            if zygote is None or not zygote.alive:
                try:
                    zygote = ZygoteLauncher(executable, str(runtime_dir), prefix)
                    self._zygotes[executable] = zygote
                except OSError:
                    self._zygotes.pop(executable, None)
                    return None
            return zygote

    @property
    def limit(self) -> int:
        """The local account concurrency limit: the unreserved pool plus every reservation."""
        return self.concurrency.account_limit

    def invoke(
        self,
        account: str,
        region: str,
        function: str,
        event: Any,
        client_context: dict[str, Any] | None = None,
        identity: dict[str, Any] | None = None,
        qualifier: str | None = None,
        wait: bool = True,
    ) -> InvokeResult:
        """Run the function (a version or alias with `qualifier`) once; its result or its error."""
        spec = (
            self._lookup(account, region, function)
            if qualifier is None
            else self._lookup(account, region, function, qualifier)
        )
        if spec is None:
            return InvokeResult(
                False, error_type="ResourceNotFoundException", error_message=f"no function {function}"
            )
        if spec.reserved_concurrency == 0:
            # AWS: reserved concurrency 0 throttles every invocation.
            throttled = _throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
            return tell(self.observers, spec, qualifier, throttled)
        with self._lock:
            pool = self._pools.get(spec.key)
            if pool is None:
                prefix = spec.key.rsplit("/", 1)[0]
                for key in [k for k in self._pools if k.rsplit("/", 1)[0] == prefix]:
                    self._pools.pop(key).close()  # the function's code or configuration changed
                pool = self._pools[spec.key] = FunctionPool(spec, self._make_sandbox, self._monotonic)
        pool.spec.reserved_concurrency = spec.reserved_concurrency
        try:
            key = (account, region, spec.name)
            slot = self.concurrency.acquire(key, spec.reserved_concurrency, wait=wait)
        except Throttled as throttled:
            return tell(self.observers, spec, qualifier, _throttled(throttled.reason))
        try:
            sandbox = pool.acquire()
            try:
                started = time.monotonic()
                result = sandbox.invoke(event, client_context, identity)
                busy = pool.busy  # this environment included
            finally:
                pool.release(sandbox)
        finally:
            slot.release()
        # The invocation ended: its environment and its concurrency slot are free again.
        return tell(self.observers, spec, qualifier, result, started, busy)

    def status(self) -> dict[str, Any]:
        """Local limits and environments, for `asyncapi local status`."""
        with self._lock:
            pools = list(self._pools.values())
        return {
            "accountConcurrencyLimit": self.limit,
            "unreservedConcurrency": self.concurrency.unreserved,
            "reservedConcurrency": self.concurrency.reservations(),
            "idleSeconds": self.idle_seconds,
            "functions": {
                f"{p.spec.region}/{p.spec.name}": {
                    "warm": p.warm,
                    "busy": p.busy,
                    "reservedConcurrency": p.spec.reserved_concurrency,
                }
                for p in pools
            },
        }

    def refresh_reservations(self) -> None:
        """The reservations as moto stores them, so that a reserved function's slots are carved out
        before its first invocation (and a deleted or unreserved one's returned)."""
        if self._lookup is not lookup_function:
            return  # a runtime over another control plane (tests) learns them from its invocations
        stored = reservations_in_moto()
        for key in self.concurrency.known() - set(stored):
            self.concurrency.reserve(key, None)
        for key, reserved in stored.items():
            self.concurrency.reserve(key, reserved)

    def sweep(self) -> None:
        """Reclaim idle environments, and close those of functions deleted or changed since."""
        self.refresh_reservations()
        with self._lock:
            pools = list(self._pools.items())
        for key, pool in pools:
            spec = pool.spec
            current = self._lookup(spec.account, spec.region, spec.name)
            if current is None or current.key != key:
                with self._lock:
                    self._pools.pop(key, None)
                pool.close()
            else:
                pool.reap_idle(self.idle_seconds)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        with self._zygote_lock:
            self._closed = True
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for zygote in zygotes:
            zygote.close()


def _throttled(reason: str) -> InvokeResult:
    return InvokeResult(
        False,
        error_type="TooManyRequestsException",
        error_message="Rate Exceeded.",
        error_document={"Reason": reason},
    )


def lookup_function(
    account: str, region: str, name: str, qualifier: str | None = None
) -> FunctionSpec | None:
    """The function as stored by moto (in this process): code, handler, timeout, environment, role; of
    a published version or an alias's version with `qualifier` (moto keeps each version's code)."""
    from moto.awslambda.models import lambda_backends

    try:
        backend = lambda_backends[account][region]
        function = backend.get_function(name, qualifier)
    except Exception:
        return None
    reserved = getattr(function, "reserved_concurrency", None)
    code = function.code_bytes
    # The code's digest, kept on moto's function beside the code it was computed from: every invocation
    # looks its function up, and hashing a 20 MB package took ~10 ms of the server's CPU each time.
    known = getattr(function, "_asyncapi_code_digest", None)
    if known is None or known[0] is not code:
        known = (code, hashlib.sha256(code).hexdigest())
        function._asyncapi_code_digest = known
    return FunctionSpec(
        account=account,
        region=region,
        name=function.function_name,
        arn=function.function_arn,
        handler=function.handler,
        timeout=float(function.timeout),
        memory=int(function.memory_size),
        environment=dict(function.environment_vars or {}),
        code=code,
        role=str(function.role or ""),
        runtime=str(function.run_time or "python3.12"),
        version=str(function.version or "$LATEST"),
        reserved_concurrency=None if reserved is None else int(reserved),
        code_digest=known[1],
    )
