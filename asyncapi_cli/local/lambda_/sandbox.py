"""One Lambda execution environment: a worker process, its init phase, invocations and log stream.

Timing and log lines follow AWS: init is its own phase (10 s, not counted against the function's
timeout: "Lambda execution environment lifecycle",
docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html);
each invocation writes START / END / REPORT lines to the environment's stream in `/aws/lambda/<name>`
named `YYYY/MM/DD/[$LATEST]<32 hex>` ("Sending Lambda function logs to CloudWatch Logs").
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .zygote import ForkedWorker, ZygoteLauncher

INIT_TIMEOUT = 10.0  # AWS: the init phase is limited to 10 seconds
_END_MARK = "\x00asyncapi-end "  # written by the worker after each invocation's output (see _read_log)


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
    role: str = ""
    runtime: str = "python3.12"
    version: str = "$LATEST"
    reserved_concurrency: int | None = field(default=None, compare=False)
    code_digest: str = field(default="", compare=False)  # sha256 of code, when the caller knows it

    @property
    def digest(self) -> str:
        """The code's sha256 (hex)."""
        return self.code_digest or hashlib.sha256(self.code).hexdigest()

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.digest.encode())
        digest.update(
            json.dumps(
                [self.handler, self.timeout, self.memory, self.environment, self.role, self.runtime],
                sort_keys=True,
            ).encode()
        )
        # A version's environments are its own: they say their version (AWS_LAMBDA_FUNCTION_VERSION).
        function = self.name if self.version == "$LATEST" else f"{self.name}:{self.version}"
        return f"{self.account}/{self.region}/{function}/{digest.hexdigest()[:16]}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass
class InvokeResult:
    ok: bool
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None
    raw: str | None = None  # the result's JSON as the function's runtime wrote it
    error_document: dict[str, Any] | None = None  # what Invoke answers for a function error
    log: str = ""  # this invocation's lines of the log stream, START to REPORT (Invoke's LogType=Tail)
    version: str = "$LATEST"  # the version that ran (Invoke's X-Amz-Executed-Version)

    def document(self) -> dict[str, Any]:
        """The runtime's error document: errorMessage and errorType, and what the runtime added."""
        base = {"errorMessage": self.error_message, "errorType": self.error_type}
        return {**base, **(self.error_document or {})}


class LogSink(Protocol):
    def emit(
        self, account: str, region: str, group: str, stream: str, message: str, timestamp_ms: int
    ) -> None: ...


class StderrSink:
    """Without CloudWatch Logs (unit tests): the lines go to a text stream."""

    def __init__(self, out: Any = None) -> None:
        self._out = out

    def emit(
        self, account: str, region: str, group: str, stream: str, message: str, timestamp_ms: int
    ) -> None:
        if self._out is not None:
            self._out.write(f"{group} {stream} {message.rstrip()}\n")
            self._out.flush()


Credentials = Callable[["FunctionSpec"], dict[str, str]]


def static_credentials(spec: FunctionSpec) -> dict[str, str]:
    return {"AccessKeyId": "testing", "SecretAccessKey": "testing", "SessionToken": "testing"}


def log_stream_name(now: float, version: str = "$LATEST") -> str:
    day = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{uuid.uuid4().hex}"


class Sandbox:
    """A worker process. `usable` turns False for good once it crashed, timed out or was killed:
    such a worker never returns to the warm pool (its process may not have exited yet)."""

    def __init__(
        self,
        spec: FunctionSpec,
        code_dir: Path,
        endpoint: str,
        sink: LogSink,
        credentials: dict[str, str],
        clock: Callable[[], float] = time.time,
        launcher: ZygoteLauncher | None = None,
        executable: str = sys.executable,
        runtime_dir: Path | None = None,
        pycache_prefix: str | None = None,
    ) -> None:
        self.spec = spec
        self._sink = sink
        self._clock = clock
        self.stream = log_stream_name(clock(), spec.version)
        self._captured: list[str] | None = None  # the running invocation's log lines
        self.usable = True
        self.last_used = time.monotonic()
        self._init_ms: float | None = None
        # "Defined runtime environment variables"
        # (docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            **spec.environment,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
            # The local /var/runtime: the libraries Lambda's runtime provides (lambda_interpreters.py).
            "LAMBDA_RUNTIME_DIR": str(runtime_dir or ""),
            "LAMBDA_TASK_ROOT": str(code_dir),
            "ASYNCAPI_FUNCTION_ARN": spec.arn,
            "_HANDLER": spec.handler,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # The runtime's libraries compiled for this interpreter (lambda_interpreters.bytecode_prefix).
            **({"PYTHONPYCACHEPREFIX": pycache_prefix} if pycache_prefix else {}),
        }
        started = time.monotonic()
        self._executable = executable
        self.process: subprocess.Popen[str] | ForkedWorker = self._start(env, code_dir, launcher)
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._ends: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_answers, daemon=True).start()
        threading.Thread(target=self._read_log, daemon=True).start()
        self.init_error: InvokeResult | None = None
        self._init_started = started
        self._init_pending = False
        try:
            line = self._answers.get(timeout=INIT_TIMEOUT)
        except queue.Empty:
            # AWS: when init exceeds 10 s, the first invocation initializes again, within the
            # function's timeout ("suppressed init"). Here the same process goes on initializing
            # and the first invocation waits for it, its time counted against the function's timeout.
            self._init_pending = True
            return
        self._init_done(line)

    def _start(
        self, env: dict[str, str], code_dir: Path, launcher: ZygoteLauncher | None
    ) -> subprocess.Popen[str] | ForkedWorker:
        """Forked from the warm zygote when it can serve this code, else a new interpreter."""
        if launcher is not None and launcher.serves(code_dir, self.spec.environment):
            try:
                return launcher.launch(env, str(code_dir))
            except OSError:
                pass  # the zygote is gone: a new interpreter still works
        # The worker module by its path, without site (-S): it imports only the standard library, and
        # then only what lambda_worker.isolate lets the function see.
        return subprocess.Popen(
            [self._executable, "-S", str(Path(__file__).resolve().with_name("worker.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            cwd=str(code_dir),
        )

    def _init_done(self, line: str | None) -> None:
        self._init_pending = False
        if line is None:
            self.usable = False
            self.init_error = InvokeResult(
                False, error_type="Runtime.ExitError", error_message="Runtime exited during init"
            )
        else:
            init = json.loads(line)
            if init.get("init") != "ok":
                self.init_error = InvokeResult(
                    False, error_type=init["errorType"], error_message=init["errorMessage"]
                )
        self._init_ms = (time.monotonic() - self._init_started) * 1000

    def _emit(self, message: str) -> None:
        captured = self._captured
        if captured is not None:
            captured.append(message)
        self._sink.emit(
            self.spec.account,
            self.spec.region,
            self.spec.log_group,
            self.stream,
            message,
            int(self._clock() * 1000),
        )

    def _read_answers(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._answers.put(line)
        self._answers.put(None)  # EOF: the worker died

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            text, mark, request_id = line.partition(_END_MARK)
            if text:
                self._emit(text if mark == "" else text + "\n")
            if mark:
                self._ends.put(request_id.strip())

    def invoke(
        self, event: Any, client_context: dict[str, Any] | None = None, identity: dict[str, Any] | None = None
    ) -> InvokeResult:
        request_id = str(uuid.uuid4())
        timeout = self.spec.timeout
        self._captured = []
        self._emit(f"START RequestId: {request_id} Version: {self.spec.version}\n")
        started = time.monotonic()
        result = self._run(request_id, event, timeout, client_context, identity)
        elapsed_ms = (time.monotonic() - started) * 1000
        if self.usable:  # its output up to the answer is in the stream before END
            try:
                self._ends.get(timeout=1.0)
            except queue.Empty:
                pass
        if not result.ok and result.error_type in ("Sandbox.Timedout", "Runtime.ExitError"):
            self._emit(f"{self._clock_text()} {request_id} {result.error_message}\n")
        self._emit(f"END RequestId: {request_id}\n")
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(elapsed_ms + 0.999))} ms\tMemory Size: {self.spec.memory} MB\t"
            f"Max Memory Used: {self._max_memory_mb()} MB"
        )
        if self._init_ms is not None:
            report += f"\tInit Duration: {self._init_ms:.2f} ms"
            self._init_ms = None
        self._emit(report + "\t\n")
        self.last_used = time.monotonic()
        result.log, self._captured = "".join(self._captured or []), None
        result.version = self.spec.version
        return result

    def _clock_text(self) -> str:
        moment = datetime.datetime.fromtimestamp(self._clock(), datetime.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def _max_memory_mb(self) -> int:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return max(1, int(line.split()[1]) // 1024)
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def _run(
        self,
        request_id: str,
        event: Any,
        timeout: float,
        client_context: dict[str, Any] | None,
        identity: dict[str, Any] | None,
    ) -> InvokeResult:
        started = time.monotonic()
        if self._init_pending:
            try:
                self._init_done(self._answers.get(timeout=timeout))
            except queue.Empty:
                return self._timed_out()
            timeout = max(0.0, timeout - (time.monotonic() - started))
        if self.init_error is not None:
            return self.init_error
        request = {
            "event": event,
            "requestId": request_id,
            "deadline": self._clock() + timeout,
            "clientContext": client_context,
            "identity": identity,
        }
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._exited(request_id)
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            return self._timed_out()
        if line is None:
            return self._exited(request_id)
        answer = json.loads(line)
        if answer.get("ok"):
            return InvokeResult(True, payload=json.loads(answer["raw"]), raw=answer["raw"])
        extra = {k: answer[k] for k in ("requestId", "stackTrace") if k in answer}
        return InvokeResult(
            False,
            error_type=answer.get("errorType"),
            error_message=answer.get("errorMessage"),
            error_document=extra or None,
        )

    def _timed_out(self) -> InvokeResult:
        """The function ran out of its timeout (in its init or its invocation): the environment is killed."""
        self.kill()
        return InvokeResult(
            False,
            error_type="Sandbox.Timedout",
            error_message=f"Task timed out after {self.spec.timeout:.2f} seconds",
        )

    def _exited(self, request_id: str) -> InvokeResult:
        self.usable = False
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        status = f"signal: {-code}" if code is not None and code < 0 else f"exit status {code}"
        return InvokeResult(
            False,
            error_type="Runtime.ExitError",
            error_message=f"RequestId: {request_id} Error: Runtime exited with error: {status}",
        )

    def kill(self) -> None:
        self.usable = False
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
