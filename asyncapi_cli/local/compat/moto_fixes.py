"""Fidelity patches to moto's backends: where moto answers differently from AWS, or breaks under threads.

Each one that fixes a moto bug has a ready-to-send upstream patch (against moto 5.2.5, with its test in
moto's style) in the repository's upstream/ folder, named in its registration.

- stream-reenable: a table's stream may be turned off and on again ("If you disable and then re-enable a
  stream on the table, a new stream is created with a different stream descriptor": DynamoDB developer
  guide, "Change data capture for DynamoDB Streams"). moto answers ResourceInUseException "Cannot enable
  stream" once a table had a stream, and after a stream is turned off it keeps the shard and fails every
  write (KeyError 'StreamViewType').
- stage-on-redeploy: CreateDeployment with the name of an existing stage points that stage at the new
  deployment and merges the given variables, keeping everything else ("stageName: The name of the Stage
  resource for the Deployment resource to create", API Gateway REST API Reference, CreateDeployment).
  moto builds a new Stage and loses methodSettings, accessLogSettings and tags. The one wrapper of
  RestAPI.create_deployment: the gateway's snapshot of each deployment is a watcher of it.
- iam-role-listing, logs-listing: moto's IAM looks roles up, and its CloudWatch Logs lists groups and
  streams, by iterating live dicts: a create on another thread meanwhile failed them with "dictionary
  changed size during iteration". AWS has no such failure: they iterate over a snapshot.
- atomic-dynamodb, atomic-s3: what AWS applies atomically and moto does in several Python steps runs one
  at a time (DynamoDB writes to an item: Developer Guide, "Atomic counters" and "Condition expressions";
  S3 object operations: User Guide, "Amazon S3 data consistency model"). Two threads' ADD to one item
  lost one; PutObject closed the buffer another thread was reading ("I/O operation on closed file").
- function-code-watch: CreateFunction and UpdateFunctionCode tell the Lambda runtime, which prepares the
  code then (the embedded AWS's own hook, no moto bug).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .registry import Patch, register

UPSTREAM = "upstream"  # the repository's top-level folder


# --- stream-reenable ------------------------------------------------------------------------------------


def _update_table_streams(original: Any) -> Any:
    def update_table_streams(self: Any, table: Any, specification: dict[str, Any]) -> None:
        if not (table.stream_specification or {}).get("StreamEnabled"):
            table.latest_stream_label = None  # the old stream is off: a new one may start
        original(self, table, specification)
        if not (specification.get("StreamEnabled") or specification.get("StreamViewType")):
            table.stream_shard = None  # off: writes no longer go to a stream

    return update_table_streams


# --- stage-on-redeploy ----------------------------------------------------------------------------------

DeploymentWatcher = Callable[[Any, Any], None]  # (the RestAPI, the new Deployment)
deployment_watchers: list[DeploymentWatcher] = []


def _create_deployment(original: Any) -> Any:
    def create_deployment(self: Any, name: str, description: str, stage_variables: Any = None) -> Any:
        kept = self.stages.get(name) if name else None
        deployment = original(self, name, description, stage_variables)
        for watcher in list(deployment_watchers):
            watcher(self, deployment)
        if kept is not None:
            kept.deployment_id = deployment.id
            if stage_variables:
                kept.variables = {**(kept.variables or {}), **stage_variables}
            self.stages[name] = kept
        return deployment

    return create_deployment


# --- iam-role-listing, logs-listing ---------------------------------------------------------------------


def _get_roles(original: Any) -> Any:
    def get_roles(self: Any) -> list[Any]:
        return list(self.roles.values())

    return get_roles


class SnapshotDict(dict):  # type: ignore[type-arg]
    """A dict whose iteration runs over a copy, taken in one step (a C-level copy, under the GIL): an entry
    added or removed by another thread meanwhile cannot break it. items()/keys()/values() are lists."""

    def __iter__(self) -> Any:
        return iter(list(dict.keys(self)))

    def keys(self) -> Any:
        return list(dict.keys(self))

    def values(self) -> Any:
        return list(dict.values(self))

    def items(self) -> Any:
        return list(dict.items(self))


def _snapshotting(attribute: str) -> Callable[[Any], Any]:
    def make(init: Any) -> Any:
        def snapshotting_init(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            setattr(self, attribute, SnapshotDict(getattr(self, attribute)))

        return snapshotting_init

    return make


# --- atomic-dynamodb, atomic-s3 -------------------------------------------------------------------------


def _one_at_a_time(lock: threading.RLock) -> Callable[[Any], Any]:
    """The method under `lock` (reentrant: a transaction's writes may go through the others)."""

    def make(original: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return call

    return make


# --- function-code-watch --------------------------------------------------------------------------------

CodeWatcher = Callable[[str, str, str], None]
_code_watchers: list[CodeWatcher] = []
_watchers_lock = threading.Lock()


def watch_function_code(watcher: CodeWatcher) -> Callable[[], None]:
    """watcher(account, region, function name or ARN) after each successful CreateFunction and
    UpdateFunctionCode (once the function-code-watch patches are applied). A watcher's failure never fails
    the call. Returns what stops the watching."""

    def unwatch() -> None:
        with _watchers_lock:
            if watcher in _code_watchers:
                _code_watchers.remove(watcher)

    with _watchers_lock:
        if watcher not in _code_watchers:
            _code_watchers.append(watcher)
    return unwatch


def _tell_code_watchers(account: str, region: str, name: str) -> None:
    for watcher in list(_code_watchers):
        try:
            watcher(account, region, name)
        except Exception as exc:  # the function is saved; what the watcher prepares is done again later
            logging.getLogger("asyncapi.local").warning("watching function %s: %s", name, exc)


def _create_function(create: Any) -> Any:
    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        function = create(self, spec)
        _tell_code_watchers(self.account_id, self.region_name, function.function_name)
        return function

    return create_function


def _update_function_code(update: Any) -> Any:
    def update_function_code(self: Any, function_name: str, qualifier: Any, body: dict[str, Any]) -> Any:
        answer = update(self, function_name, qualifier, body)
        _tell_code_watchers(self.account_id, self.region_name, function_name)
        return answer

    return update_function_code


# --- lambda-invoke ---------------------------------------------------------------------------------------

_invocation_answer: list[Callable[[Any], Any]] = []


def answer_invocations(answer: Callable[[Any], Any]) -> Callable[[], None]:
    """Invoke (POST /2015-03-31/functions/<name>/invocations) answered by answer(moto's LambdaResponse) ->
    (status, headers, body), once the lambda-invoke patch is applied, instead of moto's Docker invocation.
    Returns what undoes it."""

    def restore() -> None:
        with _watchers_lock:
            if answer in _invocation_answer:
                _invocation_answer.remove(answer)

    with _watchers_lock:
        _invocation_answer[:] = [answer]
    return restore


def _invoke(original: Any) -> Any:
    def invoke(self: Any) -> Any:
        current = _invocation_answer[0] if _invocation_answer else None
        return original(self) if current is None else current(self)

    return invoke


_dynamodb_lock, _s3_lock = threading.RLock(), threading.RLock()
DYNAMODB = "moto.dynamodb.models:DynamoDBBackend"
register(
    Patch(
        f"{DYNAMODB}.update_table_streams",
        _update_table_streams,
        "fidelity",
        "a stream turned off may be turned on again",
        "stream-reenable",
        params=("self", "table", "stream_specification"),
        upstream=f"{UPSTREAM}/dynamodb-stream-reenable.diff",
    ),
    Patch(
        "moto.apigateway.models:RestAPI.create_deployment",
        _create_deployment,
        "fidelity",
        "a redeploy keeps the stage's settings",
        "stage-on-redeploy",
        params=("self", "name", "description", "stage_variables"),
        upstream=f"{UPSTREAM}/apigateway-keep-stage-on-redeploy.diff",
    ),
    Patch(
        "moto.iam.models:IAMBackend.get_roles",
        _get_roles,
        "fidelity",
        "role lookups under threads",
        "iam-role-listing",
        params=("self",),
        upstream=f"{UPSTREAM}/threadsafe-listings.diff",
    ),
    Patch(
        "moto.logs.models:LogsBackend.__init__",
        _snapshotting("groups"),
        "fidelity",
        "log group listings under threads",
        "logs-listing",
        params=("self", "region_name", "account_id"),
        upstream=f"{UPSTREAM}/threadsafe-listings.diff",
    ),
    Patch(
        "moto.logs.models:LogGroup.__init__",
        _snapshotting("streams"),
        "fidelity",
        "log stream listings under threads",
        "logs-listing",
        params=("self", "account_id", "region", "name", "kwargs"),
        upstream=f"{UPSTREAM}/threadsafe-listings.diff",
    ),
    *(
        Patch(
            f"{DYNAMODB}.{name}",
            _one_at_a_time(_dynamodb_lock),
            "fidelity",
            "item writes are atomic",
            "atomic-dynamodb",
            upstream=f"{UPSTREAM}/atomic-writes.diff",
        )
        for name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
    ),
    # Every request on an object (GET, HEAD, PUT, DELETE, copies) goes through key_response, on the server
    # and in-process alike, answer included.
    Patch(
        "moto.s3.responses:S3Response.key_response",
        _one_at_a_time(_s3_lock),
        "fidelity",
        "object operations are atomic",
        "atomic-s3",
        params=("self", "request", "full_url", "headers"),
        upstream=f"{UPSTREAM}/atomic-writes.diff",
    ),
    Patch(
        "moto.awslambda.models:LambdaBackend.create_function",
        _create_function,
        "fidelity",
        "the runtime prepares new code",
        "function-code-watch",
        params=("self", "spec"),
    ),
    Patch(
        "moto.awslambda.models:LambdaBackend.update_function_code",
        _update_function_code,
        "fidelity",
        "the runtime prepares new code",
        "function-code-watch",
        params=("self", "function_name", "qualifier", "body"),
    ),
    Patch(
        "moto.awslambda.responses:LambdaResponse.invoke",
        _invoke,
        "fidelity",
        "Invoke runs the function in the embedded Lambda runtime (moto's runs Docker)",
        "lambda-invoke",
        params=("self",),
    ),
)
