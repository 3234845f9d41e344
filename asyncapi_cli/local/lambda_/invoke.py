"""Lambda's Invoke API on the embedded endpoint, answered by the embedded runtime (not moto's Docker).

AWS's behaviour ("Invoke", Lambda API reference, docs.aws.amazon.com/lambda/latest/api/API_Invoke.html,
and LocalStack's AWS-recorded snapshots, tests/aws/services/lambda_/test_lambda.snapshot.json and
test_lambda_api.snapshot.json):
- RequestResponse: 200 with the function's result as its runtime wrote it, X-Amz-Executed-Version;
  a function error is still 200, with X-Amz-Function-Error: Unhandled and the runtime's error document
  ({"errorMessage", "errorType", "requestId", "stackTrace"}: test_lambda_handler_error);
- LogType=Tail: X-Amz-Log-Result, the last 4 KB of the invocation's log, base64;
- Event: 202 with no body, the function runs in the background; DryRun: 204, nothing runs;
- a missing function, version or alias: 404 ResourceNotFoundException "Function not found: <arn>";
- throttled: 429 TooManyRequestsException "Rate Exceeded." with a Reason
  (ReservedFunctionConcurrentInvocationLimitExceeded: test_lambda_concurrency_block).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

from .sandbox import InvokeResult

log = logging.getLogger("asyncapi.local.lambda")

TAIL_BYTES = 4096  # LogType=Tail: "the last 4 KB of the execution log"
Invoker = Callable[..., InvokeResult]
Answer = tuple[int, dict[str, str], str | bytes]


class InvokeApi:
    """What the patched moto Invoke route calls: the runtime's invoke, the answer in AWS's shape."""

    def __init__(self, invoke: Invoker, background_workers: int = 4) -> None:
        self._invoke = invoke
        self._background = ThreadPoolExecutor(background_workers, thread_name_prefix="lambda-event")
        self._lock = threading.Lock()

    def answer(self, response: Any) -> Answer:
        """`response` is moto's LambdaResponse for the request (its path, headers, body, backend)."""
        status, headers, body = self._answer(response)
        return status, {**headers, "status": str(status)}, body  # moto reads the status from "status"

    def _answer(self, response: Any) -> Answer:
        name = unquote(response.path.rsplit("/", 2)[-2])
        qualifier = (response.querystring.get("Qualifier") or [None])[0]  # ?Qualifier= (API reference)
        # moto's own lookup: a missing function, version or alias raises its ResourceNotFoundException.
        function = response.backend.get_function(name, qualifier)
        account, region = response.current_account, response.region
        invocation = (response.headers.get("X-Amz-Invocation-Type") or "RequestResponse").strip()
        version = str(function.version or "$LATEST")
        if invocation == "DryRun":
            return 204, {}, b""
        event = _event(response.body)
        call_qualifier = None if version == "$LATEST" else version
        if invocation == "Event":
            name = function.function_name
            self._background.submit(self._run_event, account, region, name, event, call_qualifier)
            return 202, {}, b""
        result = self._invoke(
            account, region, function.function_name, event, qualifier=call_qualifier, wait=False
        )
        return render(result, tail=(response.headers.get("X-Amz-Log-Type") or "").strip() == "Tail")

    def _run_event(self, account: str, region: str, name: str, event: Any, qualifier: str | None) -> None:
        try:
            result = self._invoke(account, region, name, event, qualifier=qualifier)
        except Exception as exc:  # an Event invocation has no caller to tell
            log.warning("event invocation of %s: %s", name, exc)
            return
        if not result.ok:
            log.warning("event invocation of %s failed: %s %s", name, result.error_type, result.error_message)

    def close(self) -> None:
        self._background.shutdown(wait=False, cancel_futures=True)


def _event(body: Any) -> Any:
    if not body:
        return {}
    text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
    return json.loads(text)


def render(result: InvokeResult, *, tail: bool) -> Answer:
    if result.error_type == "TooManyRequestsException":
        document = {"Type": "User", "message": result.error_message or "Rate Exceeded."}
        if result.error_document and result.error_document.get("Reason"):
            document["Reason"] = str(result.error_document["Reason"])
        return 429, {"x-amzn-ErrorType": "TooManyRequestsException"}, json.dumps(document)
    if result.error_type == "ResourceNotFoundException":
        document = {"Type": "User", "Message": result.error_message or "Function not found"}
        return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(document)
    headers = {"X-Amz-Executed-Version": result.version, "Content-Type": "application/json"}
    if tail:
        tail_bytes = result.log.encode("utf-8")[-TAIL_BYTES:]
        headers["X-Amz-Log-Result"] = base64.b64encode(tail_bytes).decode("ascii")
    if result.ok:
        raw = result.raw if result.raw is not None else json.dumps(result.payload)
        return 200, headers, raw.encode("utf-8")
    headers["X-Amz-Function-Error"] = "Unhandled"
    return 200, headers, json.dumps(result.document()).encode("utf-8")
