"""Lambda workers forked from a warm process (a zygote) instead of started as new interpreters.

A new worker spent ~0.3 s of CPU importing boto3 and botocore before its handler ran (a test-suite run
starts ~130). AWS's Python runtime ships boto3 too; here one process imports it once and each sandbox's
worker is forked from it, then given the sandbox's environment, working directory and pipes before
`lambda_worker.main()` runs, as in a new interpreter. A function whose package brings its own copy of a
library the zygote has imported (a vendored boto3, say) still gets a new interpreter, so that its own
copy is the one imported (`ZygoteLauncher.serves`).

Parent and zygote talk over a Unix SEQPACKET socket: a request is the environment and working directory
with the three pipe ends attached (SCM_RIGHTS); the zygote answers the child's pid, and later its exit
status (the zygote is its parent and reaps it). A worker dies with its zygote (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

_PRELOAD = ("boto3", "botocore.session", "botocore.client", "botocore.httpsession", "botocore.parsers")
_MESSAGE = 1 << 20
# Importing boto3 and parsing the handlers' models takes ~1 s; the runtime falls back to new
# interpreters for its workers when the zygote is not ready after this.
_START_TIMEOUT = 60.0


class ForkedWorker:
    """What lambda_sandbox uses of a subprocess.Popen, for a worker forked by the zygote."""

    def __init__(self, pid: int, stdin: Any, stdout: Any, stderr: Any, exited: threading.Condition) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None
        self._exited = exited
        try:
            self._pidfd: int | None = os.pidfd_open(pid)  # kill() can never reach a reused pid
        except (AttributeError, OSError):
            self._pidfd = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self._exited:
            if not self._exited.wait_for(lambda: self.returncode is not None, timeout):
                raise subprocess.TimeoutExpired(f"lambda worker {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        with self._exited:  # the pidfd is closed under this lock once the exit is reported
            if self.returncode is not None:
                return
            try:
                if self._pidfd is not None:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                else:
                    os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _ended(self, code: int) -> None:  # under the condition's lock
        self.returncode = code
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class ZygoteLauncher:
    """Starts the zygote; `launch` forks a worker from it. Thread-safe."""

    def __init__(
        self,
        executable: str = sys.executable,
        runtime_dir: str | None = None,
        pycache_prefix: str | None = None,
    ) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Without site (-S): the zygote, whichever Python runs it, imports this package and the
        # libraries Lambda's runtime provides (the runtime directory), not the CLI's site-packages.
        # Its workers then narrow their imports further (lambda_worker.isolate).
        package_root = str(Path(__file__).resolve().parents[3])
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "en_US.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            "PYTHONPATH": os.pathsep.join([package_root, *([runtime_dir] if runtime_dir else [])]),
            **({"PYTHONPYCACHEPREFIX": pycache_prefix} if pycache_prefix else {}),  # lambda_interpreters.py
        }
        self.executable = executable
        self._process = subprocess.Popen(
            [executable, "-S", "-m", "asyncapi_cli.local.lambda_.zygote", str(child.fileno())],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
            env=env,
        )
        child.close()
        self._socket = parent
        self._spawn_lock = threading.Lock()
        self._changed = threading.Condition()
        self._workers: dict[int, ForkedWorker] = {}
        self._ended: dict[int, int] = {}  # exits reported before their worker was registered
        self._pids: list[int] = []
        self.alive = True
        parent.settimeout(_START_TIMEOUT)  # a zygote that hangs while importing is given up, not awaited
        try:
            ready = json.loads(parent.recv(_MESSAGE) or b"{}")
        except OSError:  # including the timeout
            ready = {}
        parent.settimeout(None)
        if "preloaded" not in ready:
            self.close()
            raise OSError("the Lambda worker zygote did not start")
        self.preloaded: frozenset[str] = frozenset(ready["preloaded"])
        threading.Thread(target=self._read, daemon=True, name="lambda-zygote").start()

    def serves(self, code_dir: Path, environment: dict[str, str]) -> bool:
        """False when the function's own files would shadow a library the zygote has imported, or its
        environment changes how Python starts: those need a new interpreter."""
        if any(name.startswith("PYTHON") for name in environment):
            return False
        try:
            names = {entry.name.split(".", 1)[0] for entry in code_dir.iterdir()}
        except OSError:
            return False
        return self.alive and not (names & self.preloaded)

    def launch(self, env: dict[str, str], cwd: str) -> ForkedWorker:
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr: (read end, write end)
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        ours = [pipes[0][1], pipes[1][0], pipes[2][0]]
        try:
            with self._spawn_lock:
                request = json.dumps({"env": env, "cwd": cwd}).encode()
                socket.send_fds(self._socket, [request], theirs)
                with self._changed:
                    if not self._changed.wait_for(lambda: bool(self._pids) or not self.alive, 30):
                        raise OSError("the Lambda worker zygote did not answer")
                    if not self._pids:
                        raise OSError("the Lambda worker zygote exited")
                    pid = self._pids.pop(0)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        # Text pipes as subprocess.Popen(text=True) gives them; they live as long as the worker.
        stdin, stdout, stderr = (
            open(fd, mode, encoding="utf-8")  # noqa: SIM115
            for fd, mode in zip(ours, ("w", "r", "r"), strict=True)
        )
        worker = ForkedWorker(pid, stdin, stdout, stderr, self._changed)
        with self._changed:
            self._workers[pid] = worker
            if pid in self._ended:
                worker._ended(self._ended.pop(pid))
                self._changed.notify_all()
        return worker

    def _read(self) -> None:
        while True:
            try:
                data = self._socket.recv(_MESSAGE)
            except OSError:
                data = b""
            with self._changed:
                if not data:  # the zygote is gone, and its workers with it (PR_SET_PDEATHSIG)
                    self.alive = False
                    for worker in self._workers.values():
                        if worker.returncode is None:
                            worker._ended(-signal.SIGKILL)
                    self._changed.notify_all()
                    return
                message = json.loads(data)
                if "pid" in message:
                    self._pids.append(message["pid"])
                else:
                    worker = self._workers.pop(message["exit"], None)
                    if worker is None:
                        self._ended[message["exit"]] = message["code"]
                    else:
                        worker._ended(message["code"])
                self._changed.notify_all()

    def close(self) -> None:
        self.alive = False
        # Shut down, not just closed: that wakes the reader thread's recv and ends the zygote's input
        # (it exits; its workers die with it).
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _serve(sock: socket.socket) -> None:
    """The zygote: fork a worker per request, report each exit."""
    import importlib
    import selectors

    for module in _PRELOAD:
        importlib.import_module(module)
    from . import worker as lambda_worker  # noqa: F401  (imported here, once)

    _share_models()

    stdlib = sys.stdlib_module_names
    preloaded = sorted({n.split(".", 1)[0] for n in sys.modules} - set(stdlib) - {"__main__"})
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    import gc

    gc.collect()
    gc.freeze()  # forked workers share these pages; their collections do not walk them
    sock.send(json.dumps({"preloaded": preloaded}).encode())
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sock:
                message, fds, _, _ = socket.recv_fds(sock, _MESSAGE, 3)
                if not message:
                    return
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    os.close(wake_read)
                    os.close(wake_write)
                    _become_worker(sock, json.loads(message), fds)
                for fd in fds:
                    os.close(fd)
                if not _tell(sock, {"pid": pid}):
                    return
            else:
                os.read(wake_read, 4096)
            while True:  # reap after every event: a SIGCHLD may have come with the request
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if not _tell(sock, {"exit": pid, "code": os.waitstatus_to_exitcode(status)}):
                    return


# The services the stack's handlers call (handlers/); others are read when first used, as before.
_MODELS = ("dynamodb", "s3", "sqs", "secretsmanager", "scheduler", "apigatewaymanagementapi", "sts")


def _share_models() -> None:
    """Workers' default boto3 session reads models through one loader the zygote has filled (the shared
    loader of aws.py): a new worker spent a third of its CPU parsing endpoints.json and its services'
    models again. The parsed data is only read. Public API only (botocore and boto3 stay stock): each
    worker registers it on its default session (_default_session_on_shared_models)."""
    from ...aws import shared_loader

    loader = shared_loader()
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        loader.load_data(name)
    for service in _MODELS:
        for model in ("service-2", "endpoint-rule-set-1"):
            loader.load_service_model(service, model)


def _default_session_on_shared_models() -> None:
    """In a worker, its environment set: boto3's default session (what boto3.client() uses) over the
    zygote's filled loader, through boto3's and botocore's public API. A function whose environment names
    a data path of its own (AWS_DATA_PATH) keeps a loader of its own, as botocore would make it."""
    if os.environ.get("AWS_DATA_PATH"):
        return
    import boto3
    import botocore.session

    from ...aws import shared_loader

    session = botocore.session.Session()
    session.register_component("data_loader", shared_loader())
    boto3.setup_default_session(botocore_session=session)


def _tell(sock: socket.socket, message: dict[str, Any]) -> bool:
    try:
        sock.send(json.dumps(message).encode())
        return True
    except OSError:  # the runtime is gone: so is the zygote (its workers die with it)
        return False


def _become_worker(sock: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become what `python -m asyncapi_cli.local.lambda_.worker` would be."""
    code = 1
    try:
        sock.close()
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the zygote
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import time

        time.tzset()  # TZ is the sandbox's
        _default_session_on_shared_models()
        sys.path[0] = request["cwd"]  # as `python -m` puts the working directory first
        from . import worker as lambda_worker

        sys.argv = [lambda_worker.__file__]
        lambda_worker.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: S110  (exiting anyway)
                pass
        os._exit(code)


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])))
