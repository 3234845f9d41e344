"""Shared fixtures: fake credentials, in-process moto, a moto server on 127.0.0.1, the embedded AWS."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.aws import botocore_session
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.local.compat import REGISTRY
from asyncapi_cli.retry import Pacer

from .cli_forkserver import ForkServer

ACCOUNT = "123456789012"

# In-process moto stands in for AWS here, with the embedded AWS's fixes, through its patch registry
# (asyncapi_cli/local/compat): the engine runs units on threads, and moto's IAM failed a role lookup while
# another thread created a role ("dictionary changed size during iteration"), which AWS never does, and its
# CloudWatch Logs a log group listing while another thread created one; DynamoDB writes and S3 object
# operations are atomic, moto's were not (the handlers' threads, run in-process, lost one of two concurrent
# ADDs to a set, and read an S3 object being replaced); a redeploy keeps the stage's settings. And moto's
# routing, remembered (speed): most of the CPU of the CLI tests' server, a third of in-process moto's.
# What the embedded AWS does to moto itself (its services' own hooks apart: IAM enforcement, the
# gateway's VTL, the scheduler's guard), for the tests that run moto in-process as the embedded AWS does.
EMBEDDED_MOTO_GROUPS = (
    "event-sources-off", "sqs-depth", "dynamodb-parse-cache", "dynamodb-validation", "stream-reenable",
    "stage-on-redeploy", "iam-role-listing", "logs-listing", "atomic-dynamodb", "atomic-s3", "routing",
    "routers-one-at-a-time", "sqs-move-tasks", "stream-start",
)  # fmt: skip


def apply_embedded_moto_patches() -> None:
    from asyncapi_cli.local.events import move_tasks, stream_poller  # noqa: F401  (they register theirs)

    REGISTRY.apply(EMBEDDED_MOTO_GROUPS)


REGISTRY.apply(
    ["iam-role-listing", "logs-listing", "atomic-dynamodb", "atomic-s3", "stage-on-redeploy", "routing",
     "routers-one-at-a-time"]
)


# The tests' own clients (boto3.client, its default session) read botocore's models through the
# process's shared loader, as the CLI's clients do (aws.shared_loader). mock_aws drops the default
# session each time it starts, and a new session's own loader parsed endpoints.json and each service's
# model again: an eighth of the test workers' CPU (py-spy over the whole suite).
def _default_session_with_the_shared_loader(**kwargs: Any) -> None:
    kwargs.setdefault("botocore_session", botocore_session())
    boto3.DEFAULT_SESSION = boto3.Session(**kwargs)


boto3.setup_default_session = _default_session_with_the_shared_loader
# Tests press Ctrl-C on the CLI processes they start. A suite started as a background job of a
# non-interactive shell (`(pytest &)`) has SIGINT ignored, and an ignored signal stays ignored across
# exec, so those processes would never see the Ctrl-C. Caught here, it is reset to the default in them,
# as for a command run from a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
REPO = Path(__file__).resolve().parent.parent


# Modules whose tests spend most of their time waiting on the embedded AWS's clocks (schedules of a
# minute, pollers, webhook backoffs, job backlogs) rather than computing; the longest first.
WAITING_MODULES = (
    "test_schedules_websocket_e2e.py",
    "test_local.py",
    "test_daytwo.py",
    "test_feature_e2e.py",
    "test_secure_api.py",
    "test_load.py",
    "test_own_code.py",
)
# The CPU-bound modules whose cases share nothing (no module-scoped fixture): others' tests may go
# between their cases.
INDEPENDENT_CASES = ("test_converge.py", "test_faults.py", "test_cli.py", "test_daytwo_cli.py")


def _module_name(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest-xdist hands out tests in this order (with --dist loadgroup, a group as one unit): spread
    the waiting tests evenly through the first three quarters of the CPU-bound rest, so that while one
    worker waits the others compute, and none is left to run alone at the end. In file order they came
    together: all four workers waited at once and the two cores idled, ~32 s of a 6 min 30 s run (a
    timeline of the suite, `/proc/stat` every 5 s). Every worker derives the same order from names."""
    waiting: dict[str, list[pytest.Item]] = {module: [] for module in WAITING_MODULES}
    rest: list[pytest.Item] = []
    for item in items:
        waiting.get(_module_name(item), rest).append(item)
    units: list[list[pytest.Item]] = []  # a waiting group as one unit, else each waiting test
    for tests in waiting.values():
        grouped = bool(tests) and tests[0].get_closest_marker("xdist_group") is not None
        units.extend([tests] if grouped else [[test] for test in tests])
    if not units:
        return
    ordered: list[pytest.Item] = []
    step = 0.75 * len(rest) / len(units)
    start = 0
    for index, unit in enumerate(units):
        end = max(start, round(index * step))
        while 0 < end < len(rest) and rest[end].module is rest[end - 1].module:
            if _module_name(rest[end]) in INDEPENDENT_CASES:
                break
            end += 1  # between two modules: a module's fixtures are set up once
        ordered.extend(rest[start:end])
        ordered.extend(unit)
        start = end
    ordered.extend(rest[start:])
    items[:] = ordered


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the dashboard in headless chromium (selenium)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Browser tests skip, all with the one reason from here, where chromium is absent (.ci/run installs
    it): `-ra` folds them into one line that says why."""
    if item.get_closest_marker("browser") is not None:
        from .browser_support import missing_browser

        if reason := missing_browser():
            pytest.skip(reason)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is loaded by now (moto's and botocore's models, the test modules) lives as long as the worker:
    frozen out of the collector's reach. Each full collection walked all of it again, about a fifth of the
    interruption matrices' CPU (44 -> 35 s for 18 of their cases on one worker)."""
    gc.collect()
    gc.freeze()


def no_sleep_pacer() -> Pacer:
    """Waiters and retries without real sleeping (the clock still moves, so deadlines hold)."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return Pacer(sleep=sleep, clock=lambda: now[0])


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fake credentials, no real AWS config, a private ASYNCAPI_HOME and working directory."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("ASYNCAPI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ASYNCAPI_DEBUG", raising=False)
    # Safety net: anything that would leave the machine goes to a closed loopback port instead.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield


@pytest.fixture
def mocked_aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


def stack_options(name: str = "test-stack", **kwargs: Any) -> ops.StackOptions:
    kwargs.setdefault("pacer", no_sleep_pacer())
    return ops.StackOptions(name=name, **kwargs)


def deploy(name: str = "test-stack", **kwargs: Any) -> ops.Stack:
    stack = ops.open_stack(stack_options(name, **kwargs), creating=True)
    ops.up(stack, SilentReporter())
    return stack


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """A real moto server on 127.0.0.1 (HTTP), shared by the tests that need one; reset per test."""
    from asyncapi_cli.local.moto_server.keepalive import KeepAliveMotoServer
    from asyncapi_cli.local.scheduler import guard_moto_scheduler

    # AWS runs an event source mapping from its own pollers, apart from SendMessage; moto instead invokes
    # the mapped function inside SendMessage through Docker, and answers 500 where Docker is absent (a fresh
    # venv). This stand-in for AWS should behave like AWS here: the mapping exists, SendMessage just queues.
    REGISTRY.apply(["event-sources-off"])
    # The stage keeps its settings across redeploys (applied above, for every test), and DeleteScheduleGroup
    # of a missing group answers ResourceNotFoundException, as on AWS.
    guard_moto_scheduler()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    # Connections kept alive as AWS's endpoints keep them (werkzeug's server closes each after one answer).
    server = KeepAliveMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_server(moto_server_url: str) -> str:
    urllib.request.urlopen(urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST")).read()
    return moto_server_url


_forks: ForkServer | None = None
_forks_lock = threading.Lock()


def cli_forks() -> ForkServer:
    """This test process's zygote (tests/cli_forkserver.py), started on first use."""
    global _forks
    with _forks_lock:
        if _forks is None:
            _forks = ForkServer()
            atexit.register(_forks.close)
        return _forks


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    input_text: str | None = None,
    fresh: bool = False,
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: a separate process, with its own working directory, environment,
    standard streams and exit code. Forked from a zygote that has already imported the CLI (the
    start-up is the one thing shared); `fresh=True`, or a second run while one is under way, starts
    `python -m asyncapi_cli` cold instead."""
    environment = {**os.environ, **(env or {})}
    if not fresh:
        result = cli_forks().try_run(args, timeout, environment, input_text)
        if result is not None:
            return result
    return subprocess.run(
        [sys.executable, "-m", "asyncapi_cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        input=input_text,
        stdin=None if input_text is not None else subprocess.DEVNULL,
    )
