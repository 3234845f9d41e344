"""Lambda workers forked from the warm zygote (asyncapi_cli/local/lambda_/zygote.py): the same worker as a
new interpreter would be, a new interpreter where the function brings its own libraries, and nothing
left when a worker or the zygote dies."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncapi_cli.local.lambda_.runtime import LambdaRuntime
from asyncapi_cli.retry import Pacer, wait_until

from .test_fidelity_lambda import Clock, Sink, make_spec

SOURCE = """
import os, sys, time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    import boto3
    return {
        "pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "path0": sys.path[0],
        "boto3": boto3.__file__, "zone": time.strftime("%Z"), "argv0": os.path.basename(sys.argv[0]),
        "task_root": os.environ["LAMBDA_TASK_ROOT"], "secret": os.environ.get("ZYGOTE_TEST_SECRET"),
        "niceness": os.nice(0),
    }
"""


@pytest.fixture
def runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LambdaRuntime, dict[str, Any]]]:
    # Nothing of the runtime's own environment reaches a worker, forked or not.
    monkeypatch.setenv("ZYGOTE_TEST_SECRET", "runtime-only")
    specs: dict[str, Any] = {}
    runtime = LambdaRuntime(
        "http://127.0.0.1:9",
        tmp_path / "code",
        lookup=lambda a, r, n: specs.get(n),
        sink=Sink(),
        monotonic=Clock(),
    )
    yield runtime, specs
    runtime.close()


def zygote_of(runtime: LambdaRuntime) -> Any:
    """The zygote of the interpreter make_spec's runtime (python3.12) runs on, or None."""
    from asyncapi_cli.lambda_interpreters import interpreter_for

    return runtime._zygotes.get(interpreter_for("python3.12").executable)


def invoke(runtime: LambdaRuntime, name: str, event: Any) -> Any:
    return runtime.invoke("123456789012", "us-east-1", name, event)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0


def test_a_forked_worker_is_the_sandbox_a_new_interpreter_would_be(
    runtime: tuple[LambdaRuntime, dict[str, Any]],
) -> None:
    lambda_runtime, specs = runtime
    specs["fn"] = make_spec("fn", source=SOURCE)
    result = invoke(lambda_runtime, "fn", {})
    assert result.ok, result
    found = result.payload
    zygote = zygote_of(lambda_runtime)
    assert zygote is not None and found["ppid"] == zygote._process.pid  # forked, not a new interpreter
    assert found["cwd"] == found["path0"] == found["task_root"]
    assert found["zone"] == "UTC" and found["argv0"] == "worker.py"
    assert found["secret"] is None
    assert found["niceness"] == below_the_runtime()
    assert "boto3" in zygote.preloaded and found["boto3"].endswith(os.path.join("boto3", "__init__.py"))
    # A timed-out worker is killed and reaped; the next invocation gets a new one.
    specs["fn"] = make_spec("fn", source=SOURCE, timeout=1.0)
    warm = invoke(lambda_runtime, "fn", {}).payload["pid"]
    timed_out = invoke(lambda_runtime, "fn", {"sleep": 30})  # in the same warm worker
    assert timed_out.error_type == "Sandbox.Timedout"
    wait_until(lambda: gone(warm), pacer=Pacer(), what="the killed worker", timeout=10)


def test_a_function_that_brings_its_own_boto3_gets_a_new_interpreter(
    runtime: tuple[LambdaRuntime, dict[str, Any]],
) -> None:
    """Lambda puts the function's package first on sys.path, before the runtime's boto3: a zygote that
    has imported boto3 would hand the function the wrong copy."""
    lambda_runtime, specs = runtime
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", SOURCE)
        archive.writestr("boto3/__init__.py", "VENDORED = True\n")
    specs["own"] = make_spec("own", code=buffer.getvalue())
    result = invoke(lambda_runtime, "own", {})
    assert result.ok, result
    assert result.payload["boto3"] == os.path.join(result.payload["task_root"], "boto3", "__init__.py")
    assert result.payload["ppid"] == os.getpid()  # a new interpreter, started by the runtime
    assert result.payload["niceness"] == below_the_runtime()


def below_the_runtime() -> int:
    """A worker's niceness: lambda_worker.WORKER_NICENESS above this process's, at most 19 (Linux)."""
    from asyncapi_cli.local.lambda_.worker import WORKER_NICENESS

    return min(19, os.nice(0) + WORKER_NICENESS)


def test_workers_die_with_the_zygote_and_a_new_zygote_serves_the_next(
    runtime: tuple[LambdaRuntime, dict[str, Any]],
) -> None:
    lambda_runtime, specs = runtime
    specs["fn"] = make_spec("fn", source=SOURCE)
    first = invoke(lambda_runtime, "fn", {}).payload
    zygote = zygote_of(lambda_runtime)
    assert zygote is not None
    zygote._process.kill()
    wait_until(lambda: gone(first["pid"]), pacer=Pacer(), what="the orphaned worker", timeout=10)
    again = invoke(lambda_runtime, "fn", {})  # the warm sandbox's worker is gone: a new one serves
    assert again.ok, again
    assert again.payload["pid"] != first["pid"]
    assert zygote_of(lambda_runtime) is not None and zygote_of(lambda_runtime) is not zygote
    assert again.payload["ppid"] == zygote_of(lambda_runtime)._process.pid


MODELS_SOURCE = """
import boto3
def handler(event, context):
    loader = boto3._get_default_session()._session.get_component("data_loader")
    parsed = getattr(loader, "_cache", {})
    cached = [key for key in parsed if key[:2] == ("load_service_model", "dynamodb")]
    client = boto3.client("dynamodb", region_name="us-east-1")
    return {"dynamodb_parsed": bool(cached), "operations": len(client.meta.service_model.operation_names)}
"""


def test_workers_read_models_the_zygote_parsed_unless_given_their_own_data_path(
    runtime: tuple[LambdaRuntime, dict[str, Any]], tmp_path: Path
) -> None:
    lambda_runtime, specs = runtime
    specs["models"] = make_spec("models", source=MODELS_SOURCE)
    shared = invoke(lambda_runtime, "models", {})
    assert shared.ok, shared
    # boto3's default session (what boto3.client() uses) reads through the zygote's loader: already parsed.
    assert shared.payload["dynamodb_parsed"]
    assert shared.payload["operations"] > 40
    # botocore reads AWS_DATA_PATH for extra models: such a function gets a loader of its own.
    specs["own"] = make_spec("own", source=MODELS_SOURCE, environment={"AWS_DATA_PATH": str(tmp_path)})
    own = invoke(lambda_runtime, "own", {})
    assert own.ok, own
    assert not own.payload["dynamodb_parsed"]
    assert own.payload["operations"] == shared.payload["operations"]


def test_a_zygote_not_ready_in_time_is_given_up_and_workers_are_new_interpreters(
    runtime: tuple[LambdaRuntime, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from asyncapi_cli.local.lambda_ import zygote as lambda_zygote

    monkeypatch.setattr(lambda_zygote, "_START_TIMEOUT", 0.001)  # no zygote imports boto3 that fast
    lambda_runtime, specs = runtime
    # A new interpreter imports boto3 inside the handler: seconds on a loaded machine, so a timeout that
    # is not what this test is about (make_spec's 3 s timed it out under a full parallel suite).
    specs["fn"] = make_spec("fn", source=SOURCE, timeout=60.0)
    result = invoke(lambda_runtime, "fn", {})
    assert result.ok, result
    assert zygote_of(lambda_runtime) is None
    assert result.payload["ppid"] == os.getpid()  # a new interpreter, started by the runtime


def test_a_prepared_function_is_unpacked_and_its_zygote_started_before_its_first_invocation(
    runtime: tuple[LambdaRuntime, dict[str, Any]], tmp_path: Path
) -> None:
    """prepare() (called when a function is created): the code is unpacked and the zygote started in the
    background, and the first invocation forks from that zygote and runs from that directory."""
    lambda_runtime, specs = runtime
    specs["fn"] = make_spec("fn", source=SOURCE)
    lambda_runtime.prepare("123456789012", "us-east-1", "fn")
    code_root = tmp_path / "code"

    def prepared() -> bool:
        zygote = zygote_of(lambda_runtime)
        return zygote is not None and zygote.alive and code_root.is_dir() and any(code_root.iterdir())

    wait_until(prepared, pacer=Pacer(), what="the prepared function", timeout=60)
    zygote = zygote_of(lambda_runtime)
    assert zygote is not None
    (unpacked,) = list(code_root.iterdir())
    result = invoke(lambda_runtime, "fn", {})
    assert result.ok, result
    assert result.payload["ppid"] == zygote._process.pid and zygote_of(lambda_runtime) is zygote
    assert result.payload["task_root"] == str(unpacked)


# Each invocation waits until `count` of them are running at once (a file each in `dir`), so the four
# are in four environments however slowly the machine starts them.
RENDEZVOUS_SOURCE = """
import os, time
def handler(event, context):
    open(os.path.join(event["dir"], str(os.getpid())), "w").close()
    deadline = time.monotonic() + 30
    while len(os.listdir(event["dir"])) < event["count"] and time.monotonic() < deadline:
        time.sleep(0.01)
    met = len(os.listdir(event["dir"]))
    return {"pid": os.getpid(), "task_root": os.environ["LAMBDA_TASK_ROOT"], "met": met}
"""


def test_concurrent_first_invocations_unpack_the_code_once(
    runtime: tuple[LambdaRuntime, dict[str, Any]], tmp_path: Path
) -> None:
    """Four environments starting at once (a mapping's first batches) share one unpacked copy; each
    used to unpack its own and leave the losers' staging directories behind."""
    from concurrent.futures import ThreadPoolExecutor

    lambda_runtime, specs = runtime
    specs["fn"] = make_spec("fn", source=RENDEZVOUS_SOURCE, timeout=60.0)
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    event = {"dir": str(meeting), "count": 4}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: invoke(lambda_runtime, "fn", event), range(4)))
    assert all(result.ok for result in results), results
    assert [result.payload["met"] for result in results] == [4] * 4  # all four ran at once
    assert len({result.payload["pid"] for result in results}) == 4
    (unpacked,) = list((tmp_path / "code").iterdir())
    assert {result.payload["task_root"] for result in results} == {str(unpacked)}
