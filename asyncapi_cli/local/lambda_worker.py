"""One warm Lambda worker process: imports the handler once, then serves invocations over a pipe.

Protocol: one JSON line per request on stdin ({"event", "requestId", "deadline"}), one JSON line
per answer on the protocol pipe (the original stdout). The handler's own prints go to stderr, so
they reach the embedded AWS's log and never corrupt the protocol.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    def __init__(self, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.invoked_function_arn = os.environ.get("ASYNCAPI_FUNCTION_ARN", "")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the handler's stdout goes to the log
    sys.stdout = sys.stderr
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        init_error = None
    except Exception as exc:  # reported on every invocation, as Lambda does
        handler, init_error = None, {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    for line in sys.stdin:
        request = json.loads(line)
        if init_error is not None:
            answer: dict[str, Any] = {"ok": False, **init_error}
        else:
            try:
                result = handler(request["event"], LambdaContext(request["requestId"], request["deadline"]))
                answer = {"ok": True, "result": result}
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                answer = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}
        try:
            encoded = json.dumps(answer, default=str)
        except (TypeError, ValueError) as exc:
            encoded = json.dumps({"ok": False, "errorType": "Runtime.MarshalError", "errorMessage": str(exc)})
        protocol.write(encoded + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
