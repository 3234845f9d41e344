"""Runs the function code stored in the control plane, in warm, separate worker processes.

Workers are kept warm per (function, code, configuration), restarted after a crash, and killed
when an invocation exceeds the function's timeout, as Lambda does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MAX_WORKERS_PER_FUNCTION = 10


@dataclass
class FunctionSpec:
    account: str
    region: str
    name: str
    arn: str
    handler: str
    timeout: float
    memory: int
    environment: dict[str, str]
    code: bytes

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.code)
        digest.update(
            json.dumps([self.handler, self.timeout, self.memory, self.environment], sort_keys=True).encode()
        )
        return f"{self.account}/{self.region}/{self.name}/{digest.hexdigest()[:16]}"


@dataclass
class InvokeResult:
    ok: bool
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None


class Worker:
    def __init__(self, spec: FunctionSpec, code_dir: Path, endpoint: str, log: IO[str] | None) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            **spec.environment,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "ASYNCAPI_FUNCTION_ARN": spec.arn,
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "asyncapi_cli.local.lambda_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log if log is not None else subprocess.DEVNULL,
            env=env,
            text=True,
            cwd=str(code_dir),
        )
        self._answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._answers.put(line)
        self._answers.put(None)  # EOF: the worker died

    def invoke(self, event: Any, timeout: float) -> InvokeResult:
        request_id = str(uuid.uuid4())
        request = {"event": event, "requestId": request_id, "deadline": time.time() + timeout}
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return InvokeResult(False, error_type="Runtime.ExitError", error_message="worker process exited")
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return InvokeResult(
                False,
                error_type="Sandbox.Timedout",
                error_message=f"Task timed out after {timeout:.2f} seconds",
            )
        if line is None:
            return InvokeResult(False, error_type="Runtime.ExitError", error_message="worker process exited")
        answer = json.loads(line)
        if answer.get("ok"):
            return InvokeResult(True, payload=answer.get("result"))
        return InvokeResult(
            False, error_type=answer.get("errorType"), error_message=answer.get("errorMessage")
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class FunctionPool:
    def __init__(self, spec: FunctionSpec, code_dir: Path, endpoint: str, log: IO[str] | None) -> None:
        self.spec = spec
        self._code_dir = code_dir
        self._endpoint = endpoint
        self._log = log
        self._idle: list[Worker] = []
        self._slots = threading.BoundedSemaphore(MAX_WORKERS_PER_FUNCTION)
        self._lock = threading.Lock()

    def invoke(self, event: Any) -> InvokeResult:
        with self._slots:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None or not worker.alive():
                worker = Worker(self.spec, self._code_dir, self._endpoint, self._log)
            result = worker.invoke(event, self.spec.timeout)
            if worker.alive():
                with self._lock:
                    self._idle.append(worker)
            return result

    def close(self) -> None:
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.kill()


class LambdaRuntime:
    """Invokes functions by name; specs are read from the control plane on each call."""

    def __init__(
        self, endpoint: str, code_root: Path, log: IO[str] | None = None, lookup: Any = None
    ) -> None:
        self.endpoint = endpoint
        self.code_root = code_root
        self.log = log
        self._lookup = lookup or lookup_function
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()

    def _code_dir(self, spec: FunctionSpec) -> Path:
        target = self.code_root / hashlib.sha256(spec.code).hexdigest()[:24]
        if not target.exists():
            staging = target.with_name(target.name + f".{uuid.uuid4().hex}")
            with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
                archive.extractall(staging)
            # --- asyncapi.toml (package.py): requirements built for this host when the Lambda wheels
            # in the zip cannot load here (another CPython or machine); a no-op otherwise. ---
            from ..package import overlay_host_dependencies

            overlay_host_dependencies(spec.code, staging)
            try:
                staging.rename(target)
            except OSError:  # another thread extracted it first
                pass
        return target

    def invoke(self, account: str, region: str, function: str, event: Any) -> InvokeResult:
        spec = self._lookup(account, region, function)
        if spec is None:
            return InvokeResult(
                False, error_type="ResourceNotFoundException", error_message=f"no function {function}"
            )
        with self._lock:
            pool = self._pools.get(spec.key)
            if pool is None:
                stale = [k for k in self._pools if k.rsplit("/", 1)[0] == spec.key.rsplit("/", 1)[0]]
                for key in stale:  # the function's code or configuration changed
                    self._pools.pop(key).close()
                pool = self._pools[spec.key] = FunctionPool(
                    spec, self._code_dir(spec), self.endpoint, self.log
                )
        return pool.invoke(event)

    def sweep(self) -> None:
        """Close the warm workers of functions that were deleted or changed since they started."""
        with self._lock:
            pools = list(self._pools.items())
        for key, pool in pools:
            spec = pool.spec
            current = self._lookup(spec.account, spec.region, spec.name)
            if current is None or current.key != key:
                with self._lock:
                    self._pools.pop(key, None)
                pool.close()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def lookup_function(account: str, region: str, name: str) -> FunctionSpec | None:
    """The function as stored by moto (in this process): code, handler, timeout, environment."""
    from moto.awslambda.models import lambda_backends

    try:
        function = lambda_backends[account][region].get_function(name)
    except Exception:
        return None
    return FunctionSpec(
        account=account,
        region=region,
        name=function.function_name,
        arn=function.function_arn,
        handler=function.handler,
        timeout=float(function.timeout),
        memory=int(function.memory_size),
        environment=dict(function.environment_vars or {}),
        code=function.code_bytes,
    )
