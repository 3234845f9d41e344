"""Fidelity of the embedded Lambda runtime against AWS's own runtime and documentation.

Sources (cited per case):
- RIC: github:aws/aws-lambda-python-runtime-interface-client, awslambdaric/bootstrap.py (_get_handler),
  lambda_runtime_exception.py (error types), lambda_runtime_marshaller.py (Decimal, MarshalError),
  lambda_context.py (context fields).
- ENV: "Defined runtime environment variables",
  docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
- LIFECYCLE: "Understanding the Lambda execution environment lifecycle" (init phase limited to 10 s,
  separate from the invocation's timeout),
  docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
- LOGS: "Sending Lambda function logs to CloudWatch Logs" (group /aws/lambda/<name>, stream
  YYYY/MM/DD/[version]<id>, START/END/REPORT lines),
  docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
- CONCURRENCY: "Configuring reserved concurrency" (0 throttles every invocation),
  docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asyncapi_cli.local.lambda_.runtime import FunctionSpec, LambdaRuntime

# Its tests share module-scoped fixtures that start servers: one pytest-xdist worker runs them all
# (`--dist loadgroup`), so the fixtures start once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_fidelity_lambda")

SOURCE = """
import decimal, os, sys, time, json
def handler(event, context):
    action = event.get("action")
    if action == "decimal":
        return {"n": decimal.Decimal("12"), "f": decimal.Decimal("1.5")}
    if action == "unserializable":
        return {"when": object()}
    if action == "crash":
        os._exit(3)
    if action == "sleep":
        time.sleep(event["seconds"])
        return os.getpid()
    if action == "log":
        print("line from print")
        sys.stderr.write("line from stderr\\n")
        return "logged"
    if action == "context":
        return {
            "request": context.aws_request_id, "group": context.log_group_name,
            "stream": context.log_stream_name, "version": context.function_version,
            "memory": context.memory_limit_in_mb, "name": context.function_name,
            "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
            "client_context": context.client_context, "remaining": context.get_remaining_time_in_millis(),
        }
    if action == "env":
        return {k: os.environ.get(k) for k in event["names"]}
    return os.getpid()
"""


def function_zip(source: str, module: str = "fn") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{module}.py", source)
    return buffer.getvalue()


def make_spec(name: str, source: str = SOURCE, handler: str = "fn.handler", **kwargs: Any) -> FunctionSpec:
    fields: dict[str, Any] = {
        "account": "123456789012",
        "region": "us-east-1",
        "name": name,
        "arn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        "handler": handler,
        "timeout": 3.0,
        "memory": 256,
        "environment": {},
        "code": function_zip(source),
    }
    fields.update(kwargs)
    return FunctionSpec(**fields)


class Sink:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def emit(
        self, account: str, region: str, group: str, stream: str, message: str, timestamp_ms: int
    ) -> None:
        with self._lock:
            self.lines.append((group, stream, message))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    specs: dict[str, FunctionSpec] = {}
    sink = Sink()
    clock = Clock()
    runtime = LambdaRuntime(
        "http://127.0.0.1:9",
        tmp_path_factory.mktemp("code"),
        lookup=lambda a, r, n: specs.get(n),
        sink=sink,
        monotonic=clock,
    )
    yield {"runtime": runtime, "specs": specs, "sink": sink, "clock": clock}
    runtime.close()


def invoke(env: dict[str, Any], name: str, event: Any, **kwargs: Any) -> Any:
    return env["runtime"].invoke("123456789012", "us-east-1", name, event, **kwargs)


def test_decimal_results_are_json_numbers(env: dict[str, Any]) -> None:
    # RIC lambda_runtime_marshaller.py: Decimal is encoded as its digits (RawJSON), not a string.
    env["specs"]["fn"] = make_spec("fn")
    result = invoke(env, "fn", {"action": "decimal"})
    assert result.ok and result.payload == {"n": 12, "f": 1.5}


def test_an_unserializable_result_is_a_marshal_error(env: dict[str, Any]) -> None:
    # RIC lambda_runtime_marshaller.py marshal_response:
    # FaultException(MARSHAL_ERROR, "Unable to marshal response: ...")
    env["specs"]["fn"] = make_spec("fn")
    result = invoke(env, "fn", {"action": "unserializable"})
    assert (result.ok, result.error_type) == (False, "Runtime.MarshalError")
    assert result.error_message.startswith(
        "Unable to marshal response: Object of type object is not JSON serializable"
    )


def test_a_missing_handler_is_handler_not_found(env: dict[str, Any]) -> None:
    # RIC bootstrap.py _get_handler: "Handler '{fname}' missing on module '{modname}'"
    env["specs"]["nohandler"] = make_spec("nohandler", handler="fn.nope")
    result = invoke(env, "nohandler", {})
    assert (result.error_type, result.error_message) == (
        "Runtime.HandlerNotFound",
        "Handler 'nope' missing on module 'fn'",
    )


def test_a_module_that_cannot_be_imported_is_import_module_error(env: dict[str, Any]) -> None:
    # RIC bootstrap.py _get_handler: "Unable to import module '{modname}': {e}"
    env["specs"]["nomodule"] = make_spec("nomodule", handler="missing.handler")
    result = invoke(env, "nomodule", {})
    assert (result.error_type, result.error_message) == (
        "Runtime.ImportModuleError",
        "Unable to import module 'missing': No module named 'missing'",
    )


def test_the_context_carries_what_the_ric_gives(env: dict[str, Any]) -> None:
    # RIC lambda_context.py: names from AWS_LAMBDA_* variables, identity object always present,
    # client_context None unless given; LOGS for the stream name's shape.
    env["specs"]["fn"] = make_spec("fn")
    payload = invoke(env, "fn", {"action": "context"}).payload
    assert re.fullmatch(r"[0-9a-f-]{36}", payload["request"])
    assert payload["group"] == "/aws/lambda/fn"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", payload["stream"])
    assert (payload["version"], payload["memory"], payload["name"]) == ("$LATEST", "256", "fn")
    assert payload["identity"] == [None, None] and payload["client_context"] is None
    assert 0 < payload["remaining"] <= 3000
    with_context = invoke(
        env,
        "fn",
        {"action": "context"},
        identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool"},
    ).payload
    assert with_context["identity"] == ["id-1", "pool"]


def test_the_environment_is_lambdas(env: dict[str, Any]) -> None:
    # ENV: the reserved variables Lambda sets in every execution environment.
    env["specs"]["fn"] = make_spec("fn", runtime="python3.12")
    names = [
        "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_SESSION_TOKEN", "LAMBDA_RUNTIME_DIR",
        "LANG", "TZ", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "LAMBDA_TASK_ROOT", "_HANDLER",
    ]  # fmt: skip
    found = invoke(env, "fn", {"action": "env", "names": names}).payload
    assert found["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert found["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert found["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert found["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert found["AWS_LAMBDA_LOG_STREAM_NAME"].startswith(tuple("0123456789"))
    assert (found["LANG"], found["TZ"]) == ("en_US.UTF-8", ":UTC")
    assert found["AWS_REGION"] == found["AWS_DEFAULT_REGION"] == "us-east-1"
    assert (found["AWS_LAMBDA_FUNCTION_NAME"], found["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) == ("fn", "256")
    assert found["AWS_SESSION_TOKEN"] and found["LAMBDA_RUNTIME_DIR"] and found["LAMBDA_TASK_ROOT"]
    assert found["_HANDLER"] == "fn.handler"


def test_init_is_not_counted_against_the_timeout(env: dict[str, Any]) -> None:
    # LIFECYCLE: init (up to 10 s) is its own phase; a 1 s function whose import takes 1.5 s still runs.
    env["specs"]["slowinit"] = make_spec(
        "slowinit", source="import time\ntime.sleep(1.5)\n" + SOURCE, timeout=1.0
    )
    result = invoke(env, "slowinit", {})
    assert result.ok, result


def test_a_crashed_worker_never_returns_to_the_pool(env: dict[str, Any]) -> None:
    # AWS reports Runtime.ExitError and starts a fresh environment for the next invocation.
    env["specs"]["crash"] = make_spec("crash")
    runtime = env["runtime"]
    first_pid = invoke(env, "crash", {}).payload
    crashed = invoke(env, "crash", {"action": "crash"})
    assert crashed.error_type == "Runtime.ExitError" and "exit status 3" in crashed.error_message
    assert runtime.status()["functions"]["us-east-1/crash"]["warm"] == 0
    again = invoke(env, "crash", {})
    assert again.ok and again.payload != first_pid


def test_output_goes_to_the_stream_between_start_and_end(env: dict[str, Any]) -> None:
    # LOGS: START RequestId / the function's lines / END RequestId / REPORT RequestId with Duration.
    env["specs"]["logger"] = make_spec("logger")
    assert invoke(env, "logger", {"action": "log"}).ok
    lines = [(s, m) for g, s, m in env["sink"].lines if g == "/aws/lambda/logger"]
    stream = lines[-1][0]
    texts = [m for s, m in lines if s == stream]
    start = max(i for i, t in enumerate(texts) if t.startswith("START RequestId: "))
    tail = texts[start:]
    request_id = tail[0].split()[2]
    assert tail[0] == f"START RequestId: {request_id} Version: $LATEST\n"
    assert tail[1:3] == ["line from print\n", "line from stderr\n"]
    assert tail[3] == f"END RequestId: {request_id}\n"
    assert re.match(
        rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB",
        tail[4],
    )


def test_idle_environments_are_reclaimed(env: dict[str, Any]) -> None:
    env["specs"]["burst"] = make_spec("burst")
    runtime, clock = env["runtime"], env["clock"]
    with ThreadPoolExecutor(4) as pool:
        pids = set(
            pool.map(lambda _: invoke(env, "burst", {"action": "sleep", "seconds": 0.5}).payload, range(4))
        )
    assert len(pids) == 4 and runtime.status()["functions"]["us-east-1/burst"]["warm"] == 4
    runtime.sweep()
    assert runtime.status()["functions"]["us-east-1/burst"]["warm"] == 4  # not idle long enough
    clock.now += runtime.idle_seconds + 1
    runtime.sweep()
    assert runtime.status()["functions"]["us-east-1/burst"]["warm"] == 0


def test_reserved_concurrency_bounds_and_zero_throttles(env: dict[str, Any]) -> None:
    # CONCURRENCY: reserved concurrency caps concurrent environments; 0 throttles (TooManyRequestsException).
    env["specs"]["capped"] = make_spec("capped", reserved_concurrency=2)
    with ThreadPoolExecutor(4) as pool:
        pids = set(
            pool.map(lambda _: invoke(env, "capped", {"action": "sleep", "seconds": 0.3}).payload, range(4))
        )
    assert len(pids) <= 2
    env["specs"]["capped"] = make_spec("capped", reserved_concurrency=0)
    throttled = invoke(env, "capped", {})
    assert (throttled.ok, throttled.error_type) == (False, "TooManyRequestsException")
