"""One warm Lambda worker process: imports the handler once (the init phase), then serves invocations.

Protocol: the first line on the protocol pipe (the original stdout) reports the init phase
({"init": "ok"} or {"init": "error", "errorType", "errorMessage"}); then one JSON line per request on
stdin ({"event", "requestId", "deadline", "clientContext", "identity"}) and one JSON line per answer.
The handler's own output (print, logging, tracebacks) goes to stderr, which the runtime ships to the
function's CloudWatch Logs stream, so it never corrupts the protocol.

Error types, messages and the JSON encoding of results follow AWS's runtime interface client
(github:aws/aws-lambda-python-runtime-interface-client, awslambdaric/bootstrap.py `_get_handler`,
lambda_runtime_exception.py, lambda_runtime_marshaller.py).
"""

from __future__ import annotations

import decimal
import gc
import importlib
import json
import math
import os
import sys
import time
import traceback
from typing import Any


class _Obj:
    """Attribute bag for context.identity / context.client_context (the RIC uses plain objects)."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__dict__})"


class CognitoIdentity(_Obj):
    pass


class ClientContext(_Obj):
    pass


class LambdaContext:
    """The RIC's LambdaContext (awslambdaric/lambda_context.py): names from the environment."""

    def __init__(
        self,
        request_id: str,
        deadline: float,
        client_context: dict[str, Any] | None = None,
        identity: dict[str, Any] | None = None,
    ) -> None:
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = os.environ.get("ASYNCAPI_FUNCTION_ARN", "")
        identity = identity or {}
        # The RIC always sets an identity object, with None fields outside Cognito.
        self.identity = CognitoIdentity(
            cognito_identity_id=identity.get("cognitoIdentityId"),
            cognito_identity_pool_id=identity.get("cognitoIdentityPoolId"),
        )
        self.client_context = None
        if client_context is not None:
            self.client_context = ClientContext(
                client=_Obj(**(client_context.get("client") or {})),
                custom=client_context.get("custom"),
                env=client_context.get("env"),
            )
        self._deadline_ms = int(deadline * 1000)

    def get_remaining_time_in_millis(self) -> int:
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0


def _default(obj: Any) -> Any:
    # RIC: a Decimal is written as its own digits (a JSON number: "1" stays an integer, "1.50" a
    # fraction), NaN as NaN; anything else unknown is a marshal error.
    if isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            return math.nan
        exponent = obj.as_tuple().exponent
        return int(obj) if isinstance(exponent, int) and exponent >= 0 else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def encode_result(result: Any) -> str:
    """The result as JSON like the RIC's marshaller; raises on what it cannot marshal."""
    return json.dumps(result, default=_default, allow_nan=True)


def load_handler(spec: str) -> Any:
    """The handler, or raise (type, message) as the RIC's _get_handler does."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as exc:
        raise HandlerFault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from None
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise HandlerFault(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise HandlerFault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        raise HandlerFault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise HandlerFault(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None


class HandlerFault(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _error_line(error_type: str, message: str) -> str:
    # What the RIC logs for a failed init or invocation (one record, as on AWS).
    return f"[ERROR] {error_type}: {message}\n"


# Workers run below the embedded AWS's own priority (`nice`, relative to the runtime). The services
# they call (SQS, DynamoDB, S3, the gateway) are one Python process that every worker and client waits
# on; on AWS a function's CPU never slows them. With the workers at the same priority, that process
# waited for a core while they ran, and was busy ~77% of the time in a backlog's drain with the rest of
# the machine idle; at +10, 85-90% and 16% more jobs a second (bench/README.md, `load.py --throughput`).
# A worker still gets any core nothing else wants.
WORKER_NICENESS = 10


def _lower_priority() -> None:
    try:
        os.nice(WORKER_NICENESS)
    except (AttributeError, OSError):  # no nice() here (Windows): the same priority, as before
        pass


# What Lambda's Python runtime provides besides the standard library (lambda_interpreters.RUNTIME_LIBRARIES;
# repeated here: this module imports nothing but the standard library, whichever Python runs it).
_PROVIDED = ("boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six")


def _stdlib_entries() -> list[str]:
    """This interpreter's standard-library entries of sys.path: no site-packages, no working directory."""
    import sysconfig

    roots = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")}
    kept = []
    for entry in sys.path:
        if not entry or "site-packages" in entry or "dist-packages" in entry:
            continue
        real = os.path.realpath(entry)
        if real.endswith(".zip") or any(real == root or real.startswith(root + os.sep) for root in roots):
            kept.append(entry)
    return kept


def isolate(task_root: str, runtime_dir: str | None) -> None:
    """Import as on Lambda: the deployment package, the runtime's directory (boto3, botocore and their
    dependencies), the standard library; nothing of the process this worker was forked from (its
    site-packages, its editable-install finders, modules it had imported). Lambda's sys.path for Python:
    /var/task, /opt/python..., /var/runtime, /var/lang/lib/python3.x (docs.aws.amazon.com/lambda/latest/
    dg/python-package.html, "Dependency search path and runtime-included libraries")."""
    import importlib

    sys.path[:] = [task_root, *([runtime_dir] if runtime_dir else []), *_stdlib_entries()]
    allowed = set(sys.stdlib_module_names) | set(_PROVIDED) | {"__main__", "__mp_main__"}
    for name in [n for n in sys.modules if n.split(".", 1)[0] not in allowed]:
        del sys.modules[name]  # their code lives on where referenced; a new import cannot find them
    sys.meta_path[:] = [f for f in sys.meta_path if _module_of(f).split(".", 1)[0] in allowed]
    sys.path_hooks[:] = [h for h in sys.path_hooks if _module_of(h).split(".", 1)[0] in allowed]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def _module_of(hook: Any) -> str:
    """The module a finder or path hook comes from (a class, an instance, a function or a method)."""
    owner = getattr(hook, "__self__", hook)
    if callable(owner) and not isinstance(owner, type) and hasattr(owner, "__module__"):
        return str(owner.__module__ or "")
    kind = owner if isinstance(owner, type) else type(owner)
    return str(getattr(kind, "__module__", "") or "")


def main() -> None:
    _lower_priority()
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the handler's stdout goes to the log, like its stderr
    sys.stdout = sys.stderr
    isolate(os.environ["LAMBDA_TASK_ROOT"], os.environ.get("LAMBDA_RUNTIME_DIR"))
    init_error: dict[str, Any] | None = None
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except HandlerFault as fault:
        handler, init_error = None, {"errorType": fault.error_type, "errorMessage": fault.message}
    except Exception as exc:  # the module raised while importing
        traceback.print_exc(file=sys.stderr)
        handler, init_error = None, {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    if init_error is not None:
        sys.stderr.write(_error_line(init_error["errorType"], init_error["errorMessage"]))
        sys.stderr.flush()
    # What the init phase loaded (the handler's module, boto3 if it imports it) lives as long as the
    # worker: frozen out of the collector's reach, the collections during invocations skip it.
    gc.collect()
    gc.freeze()
    protocol.write(json.dumps({"init": "error" if init_error else "ok", **(init_error or {})}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        answer: dict[str, Any]
        if init_error is not None:
            answer = {"ok": False, **init_error}
        else:
            context = LambdaContext(
                request["requestId"],
                request["deadline"],
                request.get("clientContext"),
                request.get("identity"),
            )
            try:
                result = handler(request["event"], context)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                # The RIC's error document: the stack from the handler down (this module's frame left
                # out), as AWS returns it to Invoke (LocalStack snapshot test_lambda_handler_error).
                stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
                answer = {
                    "ok": False,
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "requestId": request["requestId"],
                    "stackTrace": stack,
                }
            else:
                try:
                    answer = {"ok": True, "raw": encode_result(result)}
                except (TypeError, ValueError, RecursionError) as exc:
                    message = f"Unable to marshal response: {exc}"
                    sys.stderr.write(_error_line("Runtime.MarshalError", message))
                    answer = {"ok": False, "errorType": "Runtime.MarshalError", "errorMessage": message}
        # Marks the end of this invocation's output, so the runtime writes END after it.
        sys.stderr.write(f"\x00asyncapi-end {request['requestId']}\n")
        sys.stderr.flush()
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
