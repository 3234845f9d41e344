"""Pieces of the embedded AWS on their own: Lambda workers, batch responses, Velocity templates."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from asyncapi_cli.api_definition import SUBMIT_ACCEPTED_TEMPLATE, SUBMIT_REQUEST_TEMPLATE
from asyncapi_cli.local.events.sqs_poller import MappingSpec, failed_ids, to_record
from asyncapi_cli.local.gateway.vtl import render
from asyncapi_cli.local.gateway.vtl_variables import InputVariable, UtilVariable, select_json_path
from asyncapi_cli.local.lambda_.runtime import FunctionSpec, InvokeResult, LambdaRuntime

HANDLER_SOURCE = """
import os, time
STARTED = time.time()
def handler(event, context):
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "crash":
        os._exit(3)
    if action == "raise":
        raise ValueError("bad input: " + str(event.get("why")))
    print("this goes to the log, not the protocol")
    return {"pid": os.getpid(), "started": STARTED, "env": os.environ.get("GREETING"),
            "remaining": context.get_remaining_time_in_millis(), "endpoint": os.environ["AWS_ENDPOINT_URL"]}
"""


def spec(timeout: float = 2.0, code: str = HANDLER_SOURCE, greeting: str = "hello") -> FunctionSpec:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", code)
    return FunctionSpec(
        account="123456789012",
        region="us-east-1",
        name="fn",
        arn="arn:aws:lambda:::function:fn",
        handler="fn.handler",
        timeout=timeout,
        memory=128,
        environment={"GREETING": greeting},
        code=buffer.getvalue(),
    )


@pytest.fixture
def runtime(tmp_path: Path):  # noqa: ANN201
    current = {"spec": spec()}
    runtime = LambdaRuntime("http://127.0.0.1:9", tmp_path / "code", lookup=lambda a, r, n: current["spec"])
    runtime.current = current  # type: ignore[attr-defined]
    yield runtime
    runtime.close()


def test_workers_stay_warm_and_see_the_function_environment(runtime: LambdaRuntime) -> None:
    first = runtime.invoke("123456789012", "us-east-1", "fn", {})
    second = runtime.invoke("123456789012", "us-east-1", "fn", {})
    assert first.ok and second.ok
    assert first.payload["pid"] == second.payload["pid"]  # the same warm worker
    assert first.payload["started"] == second.payload["started"]  # imported once
    assert first.payload["env"] == "hello"
    assert first.payload["endpoint"] == "http://127.0.0.1:9"
    assert 0 < first.payload["remaining"] <= 2000


def test_errors_are_reported_and_the_worker_survives(runtime: LambdaRuntime) -> None:
    failed = runtime.invoke("123456789012", "us-east-1", "fn", {"action": "raise", "why": "x"})
    assert (failed.ok, failed.error_type, failed.error_message) == (False, "ValueError", "bad input: x")
    assert runtime.invoke("123456789012", "us-east-1", "fn", {}).ok


def test_timeout_kills_the_worker_and_the_next_call_gets_a_new_one(runtime: LambdaRuntime) -> None:
    before = runtime.invoke("123456789012", "us-east-1", "fn", {}).payload["pid"]
    timed_out = runtime.invoke("123456789012", "us-east-1", "fn", {"action": "sleep", "seconds": 10})
    assert (
        timed_out.error_type == "Sandbox.Timedout"
        and "timed out after 2.00 seconds" in timed_out.error_message
    )
    after = runtime.invoke("123456789012", "us-east-1", "fn", {}).payload["pid"]
    assert after != before


def test_a_crash_is_an_error_and_the_worker_is_restarted(runtime: LambdaRuntime) -> None:
    crashed = runtime.invoke("123456789012", "us-east-1", "fn", {"action": "crash"})
    assert not crashed.ok and crashed.error_type == "Runtime.ExitError"
    assert runtime.invoke("123456789012", "us-east-1", "fn", {}).ok


def test_new_code_or_configuration_gets_new_workers(runtime: LambdaRuntime) -> None:
    old = runtime.invoke("123456789012", "us-east-1", "fn", {}).payload
    runtime.current["spec"] = spec(greeting="changed")  # type: ignore[attr-defined]
    new = runtime.invoke("123456789012", "us-east-1", "fn", {}).payload
    assert new["env"] == "changed" and new["pid"] != old["pid"]


def test_sweep_stops_the_workers_of_deleted_functions(runtime: LambdaRuntime) -> None:
    import os

    pid = runtime.invoke("123456789012", "us-east-1", "fn", {}).payload["pid"]
    runtime.sweep()  # the function still exists: its warm worker stays
    os.kill(pid, 0)
    runtime._lookup = lambda a, r, n: None  # the function was deleted
    runtime.sweep()
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            __import__("time").sleep(0.05)


def test_import_errors_surface_on_invoke(runtime: LambdaRuntime) -> None:
    runtime.current["spec"] = spec(code="import not_a_module\n")  # type: ignore[attr-defined]
    result = runtime.invoke("123456789012", "us-east-1", "fn", {})
    # The RIC's answer (awslambdaric/bootstrap.py _get_handler): Runtime.ImportModuleError.
    assert not result.ok and result.error_type == "Runtime.ImportModuleError"
    assert result.error_message == "Unable to import module 'fn': No module named 'not_a_module'"


BATCH = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(3)]


@pytest.mark.parametrize(
    "result, report, expected",
    [
        (InvokeResult(True, {"batchItemFailures": []}), True, set()),
        (InvokeResult(True, {"batchItemFailures": [{"itemIdentifier": "m1"}]}), True, {"m1"}),
        (InvokeResult(True, None), True, set()),
        (InvokeResult(True, {"batchItemFailures": [{"itemIdentifier": "other"}]}), True, {"m0", "m1", "m2"}),
        (InvokeResult(True, {"batchItemFailures": [{"itemIdentifier": ""}]}), True, {"m0", "m1", "m2"}),
        # No batchItemFailures key reads as a null list: complete success (AWS "Handling errors for
        # an SQS event source", success conditions).
        (InvokeResult(True, {"unexpected": 1}), True, set()),
        (InvokeResult(False, error_type="X"), True, {"m0", "m1", "m2"}),
        (InvokeResult(True, {"batchItemFailures": [{"itemIdentifier": "m1"}]}), False, set()),
    ],
)
def test_which_messages_stay_after_an_invocation(
    result: InvokeResult, report: bool, expected: set[str]
) -> None:
    assert failed_ids(result, BATCH, report) == expected


def test_sqs_event_record_shape() -> None:
    mapping = MappingSpec(
        "u", "123456789012", "us-east-1", "arn:aws:sqs:us-east-1:123456789012:q", "f", 10, 1, True
    )
    message = {
        "MessageId": "m",
        "ReceiptHandle": "r",
        "Body": "{}",
        "MD5OfBody": "x",
        "Attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1",
            "SenderId": "s",
            "ApproximateFirstReceiveTimestamp": "2",
            "MessageGroupId": "g",
        },
        "MessageAttributes": {"jobId": {"StringValue": "j", "DataType": "String"}},
    }
    record = to_record(message, mapping)
    assert record["attributes"] == {
        "ApproximateReceiveCount": "2",
        "SentTimestamp": "1",
        "SenderId": "s",
        "ApproximateFirstReceiveTimestamp": "2",
        "MessageGroupId": "g",  # kept, as in AWS's FIFO event example
    }
    assert record["messageAttributes"] == {
        "jobId": {"stringValue": "j", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        mapping.queue_arn,
        "us-east-1",
    )


def test_url_encode_follows_java_url_encoder() -> None:
    assert UtilVariable.urlEncode('a b&c+d%e="f"~*é') == "a+b%26c%2Bd%25e%3D%22f%22%7E*%C3%A9"
    assert UtilVariable.urlDecode(UtilVariable.urlEncode("x & y + é")) == "x & y + é"


def test_submit_template_renders_the_documented_sqs_form() -> None:
    import urllib.parse

    body = json.dumps({"t": "a&b+c%d é"}, ensure_ascii=False)
    # The job id is extendedRequestId made URL-safe, never the client-settable requestId.
    context = {
        "requestId": "req-1",
        "extendedRequestId": "Ab+c/D=",
        "requestTimeEpoch": 1700000000000,
        "responseOverride": {"header": {}},
    }
    rendered = render(SUBMIT_REQUEST_TEMPLATE, input_variable=InputVariable(body), context=context)
    form = dict(urllib.parse.parse_qsl(rendered, strict_parsing=True))
    assert form["Action"] == "SendMessage"
    assert form["MessageBody"] == body
    assert form["MessageAttribute.1.Name"] == "jobId"
    assert form["MessageAttribute.1.Value.DataType"] == "String"
    assert form["MessageAttribute.1.Value.StringValue"] == "Ab-c_D"
    assert form["MessageAttribute.2.Name"] == "submittedAt"
    assert form["MessageAttribute.2.Value.DataType"] == "Number"
    assert form["MessageAttribute.2.Value.StringValue"] == "1700000000000"
    accepted = render(SUBMIT_ACCEPTED_TEMPLATE, input_variable=InputVariable("<xml/>"), context=context)
    assert json.loads(accepted) == {"jobId": "Ab-c_D", "status": "queued", "statusUrl": "status/Ab-c_D"}
    assert context["responseOverride"]["header"]["Location"] == "status/Ab-c_D"


def test_json_path_subset() -> None:
    data = {"a": {"b": [10, {"c": "x"}]}, "k": 1}
    assert select_json_path(data, "$") == data
    assert select_json_path(data, "$.a.b[1].c") == "x"
    assert select_json_path(data, "$['k']") == 1
    assert select_json_path(data, "$.missing.deeper") is None
    variable = InputVariable(json.dumps(data))
    assert json.loads(variable.json("$.a")) == data["a"]


@pytest.mark.parametrize(("cores", "limit"), [(1, 4), (2, 4), (3, 6), (5, 10), (64, 10)])
def test_the_local_account_limit_is_two_environments_per_core(
    monkeypatch: pytest.MonkeyPatch, cores: int, limit: int
) -> None:
    from asyncapi_cli.local.lambda_ import concurrency

    monkeypatch.delenv("ASYNCAPI_LOCAL_CONCURRENCY", raising=False)
    monkeypatch.setattr(concurrency.os, "sched_getaffinity", lambda _: set(range(cores)), raising=False)
    assert concurrency.account_limit() == limit
    monkeypatch.setenv("ASYNCAPI_LOCAL_CONCURRENCY", "7")  # the override wins, whatever the machine
    assert concurrency.account_limit() == 7
    monkeypatch.setenv("ASYNCAPI_LOCAL_CONCURRENCY", "seven")  # not a number: the default
    assert concurrency.account_limit() == limit
