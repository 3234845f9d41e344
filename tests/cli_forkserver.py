"""A zygote that imports the CLI once, then forks a fresh process for each CLI run of the tests.

Each run is still a separate process with its own pid and working directory, running the CLI's own
entry point, ended as the interpreter ends it (threads joined, atexit, streams flushed, the exit
status; `_exit_as_the_interpreter_would`) or by a real SIGKILL.
What the children share is the start-up: the interpreter, the imports and botocore's parsed service
models (asyncapi_cli.aws.shared_loader), together over a second of CPU a process on this machine and
hundreds of CLI runs in the suite. The zygote starts no thread and opens no connection before it forks.
A few tests still start the CLI cold (`run_cli(..., fresh=True)`), so start-up itself stays tested.
An `up --local` of a forked CLI forks the embedded AWS in turn (`_fork_server`): the zygote has also
loaded what a new server would (moto's models, routers and apps); the demo's test starts both cold.

Protocol (one JSON object a line): the test sends {"args", "env", "cwd", "kill_after", "stdin",
"out", "err"}; the zygote answers {"pid"} once it forked, then {"returncode"} (-9 for a SIGKILL, as
subprocess reports it). `kill_after` > 0: the child SIGKILLs itself right after its k-th mutating AWS
call has completed, or (a string) right after its first call of that operation (the SIGKILL matrices
of test_faults.py and test_lifecycle_faults.py).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

# Every service a command may use: their models are parsed once, in the zygote.
WARM_SERVICES = (
    "sqs",
    "dynamodb",
    "s3",
    "iam",
    "lambda",
    "logs",
    "apigateway",
    "apigatewayv2",
    "sts",
    "secretsmanager",
    "scheduler",
    "cloudwatch",
)


def _kill_after_hook(kill_after: int | str) -> Any:
    """SIGKILL right after the k-th mutating call, or (a string) after the first call of that
    operation ("CreateApiKey", or "apigatewayv2.CreateApi" where two services share the name)."""
    from asyncapi_cli.aws import is_mutating

    seen = [0]
    lock = threading.Lock()

    def after_call(model: Any, **_: Any) -> None:
        if isinstance(kill_after, str):
            if kill_after in (model.name, f"{model.service_model.service_name}.{model.name}"):
                os.kill(os.getpid(), signal.SIGKILL)
            return
        if not is_mutating(model.name):
            return
        with lock:
            seen[0] += 1
            if seen[0] == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    def hook(client: Any) -> None:
        client.meta.events.register("after-call.*.*", after_call)

    return hook


class _ForkedServer:
    """manager.ServerProcess for a server forked from this process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _fork_server(root: Path, log_path: Path) -> Any:
    """manager.server_launcher for the CLI runs of the tests: the embedded AWS forked from the CLI
    process, which the zygote has already warmed with moto's models, routers and apps (over 3 s of CPU
    in each new server). The server is then what `python -m asyncapi_cli.local.server` would be: its
    own session and process group, the home as working directory, stdio on its log, its own signal
    handlers and exit. A CLI process that already runs threads starts it the usual way instead."""
    from asyncapi_cli.local import manager, server

    if threading.active_count() > 1:
        return manager.launch_server_process(root, log_path)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return _ForkedServer(pid)
    code = 1
    try:
        os.setsid()
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        for source, target in ((null, 0), (log, 1), (log, 2)):
            os.dup2(source, target)
        os.closerange(3, 1024)  # as Popen's close_fds: nothing of the CLI's stays open
        os.chdir(root)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        code = server.main(["--home", str(root)])
    except BaseException:  # noqa: BLE001 - the server's log says why, as a new interpreter's stderr would
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run_child(request: dict[str, Any]) -> NoReturn:
    """In the forked child: become the CLI process the request describes. Never returns."""
    from asyncapi_cli import cli
    from asyncapi_cli import options as cli_options
    from asyncapi_cli.local import manager

    os.chdir(request["cwd"])
    sys.path[0] = request["cwd"]  # as `python -m` puts the working directory first
    os.environ.clear()
    os.environ.update(request["env"])
    stdin = os.open(request["stdin"] or os.devnull, os.O_RDONLY)
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for source, target in ((stdin, 0), (out, 1), (err, 2)):
        os.dup2(source, target)
        os.close(source)
    # Fresh standard streams on the new descriptors, as a new process has.
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
    if request["kill_after"]:
        make_options = cli_options.stack_options_from
        kill_after = request["kill_after"]
        hook = _kill_after_hook(kill_after if isinstance(kill_after, str) else int(kill_after))

        def options_with_hook(**kwargs: Any) -> Any:
            options = make_options(**kwargs)
            options.hooks.append(hook)
            return options

        cli_options.stack_options_from = options_with_hook
    manager.server_launcher = _fork_server
    try:
        cli.main(args=request["args"], prog_name="asyncapi")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - uncaught: the traceback and status 1, as the interpreter gives
        sys.excepthook(*sys.exc_info())
        code = 1
    _exit_as_the_interpreter_would(code)


def _exit_as_the_interpreter_would(code: object) -> NoReturn:
    """What an exiting interpreter does that a CLI run can show (CPython's Py_RunMain, then
    Py_FinalizeEx): the SystemExit's status (None is 0, a message goes to stderr and is 1), the
    non-daemon threads joined, the atexit handlers run (logging's shutdown among them), the standard
    streams flushed. Not the teardown of every module and object that follows: in a child it writes to
    the heap inherited from the zygote, and copy-on-write copies that heap into each child (a
    `--version` run: 128 ms of CPU, 26 ms without; the suite forks hundreds of runs)."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    threading._shutdown()  # type: ignore[attr-defined]  # the interpreter's own join of non-daemon threads
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # closed or broken: the interpreter ignores that too
    os._exit(status & 0xFF)


def _warm() -> None:
    import statistics  # noqa: F401 - the imports every child would otherwise repeat

    import asyncapi_cli.cli  # noqa: F401
    import asyncapi_cli.clients.payloads  # noqa: F401 - imported by commands when they run
    import asyncapi_cli.commands.job_runs  # noqa: F401
    import asyncapi_cli.ops  # noqa: F401
    import asyncapi_cli.output  # noqa: F401
    from asyncapi_cli import names
    from asyncapi_cli.aws import AwsClients
    from asyncapi_cli.state import Target

    # Made as a child's stack makes them (a boto3 session over the shared loader): no call is made,
    # this parses the models and fills the caches every child's clients then share (aws.py).
    clients = AwsClients(
        Target(kind="aws", region="us-east-1", endpoint_url="http://127.0.0.1:9"),
        credentials={"aws_access_key_id": "warm", "aws_secret_access_key": "warm"},
    )
    for service in WARM_SERVICES:
        _fill_model_caches(clients(service).meta.service_model)
    names.known_regions()
    _warm_embedded_aws()


def _fill_model_caches(model: Any) -> None:
    """What botocore works out about a service's model on its first calls and keeps on the model, which
    the clients of one botocore session share: each operation's streaming and
    idempotency flags, read on every call, and the map of error codes, built on the first error parsed.
    Worked out here once instead of in every child."""
    for name in model.operation_names:
        operation = model.operation_model(name)
        for flag in ("has_event_stream_output", "has_streaming_input", "has_streaming_output"):
            getattr(operation, flag)
        operation.idempotent_members  # noqa: B018 - read to fill its cache
    model.shape_for_error_code("")


# What a new embedded AWS loads on its first requests: moto's botocore models (its own loader),
# operation routers and per-service Flask apps.
MOTO_SERVICES = (*WARM_SERVICES, "events")


def _warm_embedded_aws() -> None:
    import moto.core.routing
    import moto.core.utils
    from moto.backends import get_backend
    from moto.moto_server import werkzeug_app

    from asyncapi_cli.local import feature_services, iam_policy, logs, server  # noqa: F401 - what server.main imports
    from asyncapi_cli.local.events import sources  # noqa: F401
    from asyncapi_cli.local.gateway import rest  # noqa: F401
    from asyncapi_cli.local.lambda_ import runtime  # noqa: F401
    from asyncapi_cli.local.moto_server import keepalive as keepalive_wsgi

    apps = {}
    for service in MOTO_SERVICES:
        get_backend(service)
        moto.core.utils.get_service_model(service)
        moto.core.routing.get_service_router(service)
        apps[service] = werkzeug_app.create_backend_app(service)

    def create_backend_app(service: str) -> Any:
        # Each server process (one per fork) takes an app once; it is built anew where not warmed.
        return apps.pop(service, None) or werkzeug_app.create_backend_app(service)

    keepalive_wsgi.create_backend_app = create_backend_app


def serve() -> None:
    _warm()
    # What the zygote holds stays out of each child's garbage collections: a collection writes to every
    # object it tracks, so each child would copy the zygote's whole heap (copy-on-write) when it runs.
    gc.collect()
    gc.freeze()
    replies = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        request = json.loads(line)
        replies.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            replies.close()
            _run_child(request)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


class ReplyLines:
    """The zygote's answers, a line at a time, with a timeout. A buffered reader's `readline` could take
    both lines of a quick run (its pid, then its status) in one read; `select` on the descriptor then saw
    nothing left and waited out the whole timeout (300 s) for a run long finished. Here a line already
    read is answered first, and `select` is asked only for bytes still to come."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._buffer = b""

    def readline(self, timeout: float | None = None) -> str | None:
        """The next line, without its newline; None once `timeout` seconds pass without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._descriptor], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._descriptor, 65536)
            if not chunk:
                raise EOFError("the CLI zygote exited")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8")

    def next_line(self) -> str:
        line = self.readline()
        assert line is not None  # without a timeout: a line, or EOFError
        return line


class ForkServer:
    """The test side: starts the zygote and runs the CLI through it, answering as subprocess.run does.
    One run at a time: `try_run` answers None while another thread's run is under way."""

    def __init__(self) -> None:
        self._scratch = tempfile.TemporaryDirectory()
        self._busy = threading.Lock()
        self._zygote = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self._zygote.stdout is not None
        self._replies = ReplyLines(self._zygote.stdout.fileno())  # never read through the file object

    def run(
        self,
        *args: str,
        kill_after: int | str = 0,
        timeout: float = 120.0,
        env: dict[str, str] | None = None,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        with self._busy:
            return self._run(args, kill_after, timeout, env, input_text)

    def try_run(
        self, args: tuple[str, ...], timeout: float, env: dict[str, str], input_text: str | None
    ) -> subprocess.CompletedProcess[str] | None:
        if self._zygote.poll() is not None or not self._busy.acquire(blocking=False):
            return None
        try:
            return self._run(args, 0, timeout, env, input_text)
        finally:
            self._busy.release()

    def _run(
        self,
        args: tuple[str, ...],
        kill_after: int | str,
        timeout: float,
        env: dict[str, str] | None,
        input_text: str | None,
    ) -> subprocess.CompletedProcess[str]:
        scratch = Path(self._scratch.name)
        out, err, stdin = scratch / "out", scratch / "err", scratch / "stdin"
        if input_text is not None:
            stdin.write_text(input_text, encoding="utf-8")
        request = {
            "args": list(args),
            "env": dict(os.environ) if env is None else env,
            "cwd": os.getcwd(),
            "kill_after": kill_after,
            "stdin": str(stdin) if input_text is not None else None,
            "out": str(out),
            "err": str(err),
        }
        assert self._zygote.stdin is not None
        self._zygote.stdin.write((json.dumps(request) + "\n").encode())
        self._zygote.stdin.flush()
        pid = json.loads(self._replies.next_line())["pid"]
        reply = self._replies.readline(timeout)
        if reply is None:  # a hung run: end it as subprocess.run's timeout would, and say so
            with contextlib.suppress(ProcessLookupError):  # it may end just now
                os.kill(pid, signal.SIGKILL)
            self._replies.next_line()
            raise subprocess.TimeoutExpired(["asyncapi", *args], timeout)
        returncode = json.loads(reply)["returncode"]
        return subprocess.CompletedProcess(
            ["asyncapi", *args],
            returncode,
            out.read_text(encoding="utf-8", errors="replace"),
            err.read_text(encoding="utf-8", errors="replace"),
        )

    def close(self) -> None:
        assert self._zygote.stdin is not None
        self._zygote.stdin.close()
        self._zygote.wait(timeout=30)
        self._scratch.cleanup()


if __name__ == "__main__":
    serve()
