"""Lambda's Invoke API on the embedded endpoint runs the function in the embedded runtime, answering as AWS.

Sources: "Invoke", Lambda API reference (docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: Event
202, DryRun 204, LogType=Tail "the last 4 KB of the execution log" base64, X-Amz-Executed-Version);
LocalStack's AWS-recorded snapshots (github:localstack/localstack tests/aws/services/lambda_/):
test_lambda.snapshot.json TestLambdaErrors::test_lambda_handler_error (FunctionError "Unhandled", the
payload {"errorMessage", "errorType", "requestId", "stackTrace": ["  File \\"/var/task/...\\", line 2, in
handler\\n    raise ...\\n"]}), test_lambda_api.snapshot.json (ResourceNotFoundException 404 "Function not
found: <arn>"; TooManyRequestsException 429 "Rate Exceeded." with Reason
ReservedFunctionConcurrentInvocationLimitExceeded).
"""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from asyncapi_cli.local.compat import REGISTRY
from asyncapi_cli.local.compat.moto_fixes import answer_invocations
from asyncapi_cli.local.lambda_.invoke import InvokeApi
from asyncapi_cli.package import build_zip

from .fidelity_apigw import ACCOUNT, LAMBDA_TRUST, Embedded

pytestmark = pytest.mark.xdist_group("test_fidelity_lambda_invoke")

SOURCE = """
import json, os
def handler(event, context):
    print("invoked with", json.dumps(event, sort_keys=True))
    if event.get("fail"):
        raise ValueError("Handler fails")
    if event.get("touch"):
        open(event["touch"], "w").close()
    return {"echo": event, "version": context.function_version, "answer":  42}
"""


@pytest.fixture(scope="module")
def aws() -> Iterator[Embedded]:
    embedded = Embedded()
    # As server.py does with its runtime.
    REGISTRY.apply(["lambda-invoke"])
    restore = answer_invocations(InvokeApi(embedded.runtime.invoke).answer)
    embedded.function("inv-echo", SOURCE)
    yield embedded
    restore()
    embedded.close()


def test_request_response_returns_the_functions_result_as_written(aws: Embedded) -> None:
    answer = aws.client("lambda").invoke(FunctionName="inv-echo", Payload=json.dumps({"a": 1}))
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    # The runtime's own JSON (json.dumps of the result), byte for byte.
    assert answer["Payload"].read() == b'{"echo": {"a": 1}, "version": "$LATEST", "answer": 42}'


def test_an_unhandled_error_is_the_runtimes_error_document(aws: Embedded) -> None:
    # test_lambda_handler_error: 200, FunctionError Unhandled, errorMessage/errorType/requestId/stackTrace.
    answer = aws.client("lambda").invoke(FunctionName="inv-echo", Payload=json.dumps({"fail": True}))
    assert (answer["StatusCode"], answer["FunctionError"]) == (200, "Unhandled")
    document = json.loads(answer["Payload"].read())
    assert set(document) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert (document["errorType"], document["errorMessage"]) == ("ValueError", "Handler fails")
    assert len(document["requestId"]) == 36
    (frame,) = document["stackTrace"]  # the handler's frame only, not the runtime's
    assert frame.startswith('  File "') and 'fn.py", line 6, in handler\n' in frame
    assert frame.endswith('    raise ValueError("Handler fails")\n')


def test_log_type_tail_is_the_invocations_log_base64(aws: Embedded) -> None:
    answer = aws.client("lambda").invoke(FunctionName="inv-echo", Payload=b'{"b": 2}', LogType="Tail")
    log = base64.b64decode(answer["LogResult"]).decode("utf-8")
    assert log.startswith("START RequestId: ") and "Version: $LATEST" in log
    assert 'invoked with {"b": 2}' in log
    assert "\nEND RequestId: " in log and "\nREPORT RequestId: " in log
    big = aws.client("lambda").invoke(
        FunctionName="inv-echo", Payload=json.dumps({"x": "y" * 9000}), LogType="Tail"
    )
    tail = base64.b64decode(big["LogResult"])
    assert len(tail) == 4096 and tail.decode("utf-8").rstrip().split("\n")[-1].startswith("REPORT RequestId:")
    # Without LogType=Tail no log comes back.
    assert "LogResult" not in aws.client("lambda").invoke(FunctionName="inv-echo", Payload=b"{}")


def test_event_is_202_and_runs_in_the_background_dry_run_is_204(aws: Embedded, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    lam = aws.client("lambda")
    answer = lam.invoke(
        FunctionName="inv-echo", InvocationType="Event", Payload=json.dumps({"touch": str(marker)})
    )
    assert answer["StatusCode"] == 202 and answer["Payload"].read() == b""
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the Event invocation did not run"
        time.sleep(0.05)
    dry_marker = tmp_path / "dry"
    dry = lam.invoke(
        FunctionName="inv-echo", InvocationType="DryRun", Payload=json.dumps({"touch": str(dry_marker)})
    )
    assert dry["StatusCode"] == 204 and dry["Payload"].read() == b""
    assert not dry_marker.exists()


def test_a_missing_function_version_or_alias_is_resource_not_found(aws: Embedded) -> None:
    lam = aws.client("lambda")
    for name, qualifier, arn in (
        ("nope", None, f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:nope"),
        ("inv-echo", "99", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:inv-echo:99"),
    ):
        with pytest.raises(ClientError) as raised:
            lam.invoke(FunctionName=name, **({"Qualifier": qualifier} if qualifier else {}))
        error = raised.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert error["Error"] == {
            "Code": "ResourceNotFoundException",
            "Message": f"Function not found: {arn}",
        }


def test_reserved_concurrency_zero_is_throttled(aws: Embedded) -> None:
    aws.function("inv-blocked", SOURCE)
    lam = aws.client("lambda")
    lam.put_function_concurrency(FunctionName="inv-blocked", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName="inv-blocked", Payload=b"{}")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Error"]["Message"] == "Rate Exceeded."
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_versions_and_aliases_run_their_own_code(aws: Embedded) -> None:
    lam = aws.client("lambda")
    aws.function("inv-versions", SOURCE)
    version = lam.publish_version(FunctionName="inv-versions")["Version"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", SOURCE.replace('"answer":  42', '"answer": 43'))
    lam.update_function_code(FunctionName="inv-versions", ZipFile=buffer.getvalue())
    lam.create_alias(FunctionName="inv-versions", Name="live", FunctionVersion=version)

    def run(**kwargs: Any) -> tuple[str, dict[str, Any]]:
        answer = lam.invoke(FunctionName="inv-versions", Payload=b"{}", **kwargs)
        return answer["ExecutedVersion"], json.loads(answer["Payload"].read())

    executed, result = run(Qualifier=version)
    assert (executed, result["answer"], result["version"]) == (version, 42, version)
    executed, result = run(Qualifier="live")
    assert (executed, result["answer"]) == (version, 42)
    executed, result = run()
    assert (executed, result["answer"], result["version"]) == ("$LATEST", 43, "$LATEST")
    executed, result = run(Qualifier="$LATEST")
    assert (executed, result["answer"]) == ("$LATEST", 43)


def test_the_status_function_answers_a_proxy_event(aws: Embedded) -> None:
    # The stack's own status checker, from the deployment zip, invoked as API Gateway would.
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="inv-jobs",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(
        TableName="inv-jobs",
        Item={"jobId": {"S": "job-1"}, "status": {"S": "processing"}, "attempts": {"N": "1"}},
    )
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName="inv-status",
        Runtime="python3.12",
        Role=aws.role("inv-status-role", None, LAMBDA_TRUST),
        Handler="status_checker.lambda_handler",
        Code={"ZipFile": build_zip().zip_bytes},
        Environment={"Variables": {"JOBS_TABLE_NAME": "inv-jobs"}},
        Timeout=30,
    )
    event = {
        "resource": "/status/{jobId}",
        "path": "/status/job-1",
        "httpMethod": "GET",
        "headers": None,
        "pathParameters": {"jobId": "job-1"},
        "requestContext": {"requestId": "r-1"},
    }
    answer = json.loads(lam.invoke(FunctionName="inv-status", Payload=json.dumps(event))["Payload"].read())
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert (body["jobId"], body["status"], body["attempts"]) == ("job-1", "processing", 1)
    event["pathParameters"] = {"jobId": "job-2"}
    missing = json.loads(lam.invoke(FunctionName="inv-status", Payload=json.dumps(event))["Payload"].read())
    assert missing["statusCode"] == 404
