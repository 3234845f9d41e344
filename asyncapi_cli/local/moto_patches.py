"""Every change the embedded AWS makes to moto, in one place (applied once by `apply()`).

1. moto's own event source execution is switched off: moto invokes a mapped function inside
   SendMessage / PutItem (through Docker) and consumes the messages or stream records. Our pollers own
   that job, so queues and tables see no mappings.
2. SQS cost per call no longer grows with queue depth. moto computes every message's
   visibility with datetime arithmetic, builds every queue attribute (three passes over the messages)
   for each SendMessage, and runs that attribute build again for *each* message in ReceiveMessage to
   read the retention period: quadratic in the depth. The patched versions compute the same answers:
   - Message.visible / delayed / had_receipt_handle: the same comparisons, on a cheap clock
     (time.time() is what moto's unix_time_millis() computes, minus the datetime round trip);
   - SQSBackend.is_message_valid_based_on_retention_period: reads the one attribute it needs;
   - Queue.delete_message: stops at the message instead of three passes over the queue;
   - receipt handles: the same 185 lowercase letters, from os.urandom instead of 185 random.choice();
   - SendMessage reads queue.attributes for ContentBasedDeduplication alone, and moto builds them all
     (counting the queue's messages three times): within SendMessage, only the FIFO attributes.
   Worth proposing upstream: none of them changes an answer (tests/test_local_perf_moto.py).
3. A table's stream may be turned off and on again (allow_stream_reenable).
3b. DynamoDB UpdateItem costs less CPU, with the same answers (moto_dynamodb_speedups.py; the validated
    tree of a simple expression built in one step: moto_dynamodb_validated.py).
3c. Backend lookups skip moto's global lock once the account's backends exist (lock_free_backend_lookups).
4. CreateDeployment for an existing stage keeps the stage (its method settings, access log settings,
   tags) and points it at the new deployment, as API Gateway does; moto replaced the stage with a
   fresh one, so a redeploy silently dropped the stage's settings (keep_stage_on_redeploy).
5. IAM role lookups iterate over a snapshot: moto's failed when another thread created a role
   meanwhile (snapshot_iam_role_listing); so do CloudWatch Logs' listings of groups and streams
   (snapshot_logs_listing).
6. How moto routes a request to its backend is remembered, not worked out again per request
   (moto_routing.py).
6b. JSON-protocol requests are parsed by a walk worked out once per input shape (moto_json_requests.py)
    and their answers of plain data serialized directly (moto_json_answers.py); XML answers of plain
    nested strings are written directly (moto_xml_answers.py); request ids are drawn with fewer calls,
    the same draws (moto_request_ids.py).
7. What AWS applies atomically and moto does in several steps runs one at a time: DynamoDB writes, S3
   object operations (moto_atomic.py).
8. CreateFunction and UpdateFunctionCode tell the Lambda runtime, which prepares the code then
   (watch_function_code, installed by the server with its runtime).
9. Invoke is answered by the embedded Lambda runtime, in AWS's shape (answer_invocations, installed by
   the server with its runtime; lambda_invoke.py): moto's own runs the function in Docker.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

_applied = False
_lock = threading.Lock()
originals: dict[str, Any] = {}  # what each patch replaced (tests compare against it)


def _now_ms() -> float:
    return time.time() * 1000.0


def _no_mappings(self: Any) -> dict[str, Any]:
    return {}


def _ignore(self: Any, value: Any) -> None:
    pass


def neutralize_moto_event_sources() -> None:
    from moto.dynamodb.models.table import Table
    from moto.sqs.models import Queue

    Queue.lambda_event_source_mappings = property(_no_mappings, _ignore)  # type: ignore[assignment]
    Table.lambda_event_source_mappings = property(_no_mappings, _ignore)  # type: ignore[assignment]


def speed_up_sqs() -> None:
    from moto.core.utils import camelcase_to_underscores, unix_time
    from moto.sqs import models as sqs_models
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Message, Queue, SQSBackend

    def visible(self: Message) -> bool:
        return _now_ms() > self.visible_at

    def delayed(self: Message) -> bool:
        return _now_ms() < self.delayed_until

    def had_receipt_handle(self: Message, receipt_handle: str) -> bool:
        return receipt_handle == self.receipt_handle or receipt_handle in self._old_receipt_handles

    def is_message_valid_based_on_retention_period(
        self: SQSBackend, queue_name: str, message: Message
    ) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return retention_period + message.sent_timestamp / 1000 > unix_time()  # type: ignore[operator]

    def delete_message(self: Queue, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: deleting again succeeds, as on AWS
        # A receipt handle belongs to one message: stop at it (received messages are the oldest,
        # near the front), instead of moto's any() + full rebuild of the list.
        # Under the queue's own lock (add_message takes it too): two deletes must not shift each
        # other's index.
        with self._messages_lock:
            for index, message in enumerate(self._messages):
                if message.had_receipt_handle(receipt_handle):
                    self.pending_messages.discard(message)
                    self.deleted_messages.update(message.all_receipt_handles)
                    del self._messages[index]
                    return
        raise ReceiptHandleIsInvalid()

    def generate_receipt_handle() -> str:
        # moto draws 185 letters one random.choice() at a time (~2.5 ms a message); same shape, from urandom.
        return bytes(97 + byte % 26 for byte in os.urandom(185)).decode("ascii")

    sending = threading.local()  # set while this thread is inside SendMessage
    attributes, send = Queue.attributes, SQSBackend.send_message

    def attributes_while_sending(self: Queue) -> dict[str, Any]:
        if not getattr(sending, "active", False):
            return attributes.fget(self)  # type: ignore[no-any-return]
        # Within SendMessage moto reads ContentBasedDeduplication alone (its FIFO checks and its
        # deduplication): the FIFO attributes as moto renders them, not the rest (the three message
        # counts walk the queue; each name goes through a regex).
        if not self.fifo_queue:
            return {}
        found = {name: getattr(self, camelcase_to_underscores(name)) for name in self.FIFO_ATTRIBUTES}
        return {
            name: str(value).lower() if isinstance(value, bool) else value for name, value in found.items()
        }

    def send_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Message:
        # moto builds every queue attribute for that one: a send's cost grew with the queue's depth.
        outer = getattr(sending, "active", False)
        sending.active = True
        try:
            return send(self, *args, **kwargs)
        finally:
            sending.active = outer

    originals.update(
        visible=Message.visible,
        delayed=Message.delayed,
        had_receipt_handle=Message.had_receipt_handle,
        is_message_valid_based_on_retention_period=SQSBackend.is_message_valid_based_on_retention_period,
        delete_message=Queue.delete_message,
        generate_receipt_handle=sqs_models.generate_receipt_handle,
        send_message=send,
        queue_attributes=attributes,
    )
    Message.visible = property(visible)  # type: ignore[assignment,method-assign]
    Message.delayed = property(delayed)  # type: ignore[assignment,method-assign]
    Message.had_receipt_handle = had_receipt_handle  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    Queue.delete_message = delete_message  # type: ignore[method-assign]
    sqs_models.generate_receipt_handle = generate_receipt_handle
    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    Queue.attributes = property(attributes_while_sending)  # type: ignore[assignment,method-assign]


def lock_free_backend_lookups() -> None:
    """moto takes one process-wide lock on every backend lookup (BackendDict.__getitem__), several
    per request, to create an account's backends on first use; under load the server's threads queue
    on it (7% of samples waiting). Once the account's backends exist the lookup is a plain
    dict read: an account key is only ever added together with the BackendDict's registration (for
    reset), and reset removes both under the lock, so a missing key still takes moto's path."""
    from moto.core.base_backend import BackendDict

    if "backend_getitem" in originals:
        return
    original = BackendDict.__getitem__

    def getitem(self: Any, account_id: str) -> Any:
        if dict.__contains__(self, account_id):
            return dict.__getitem__(self, account_id)
        return original(self, account_id)

    originals["backend_getitem"] = original
    BackendDict.__getitem__ = getitem  # type: ignore[method-assign,assignment]


def allow_stream_reenable() -> None:
    """Let a table's stream be turned off and on again, as DynamoDB does ("If you disable and then
    re-enable a stream on the table, a new stream is created with a different stream descriptor":
    DynamoDB developer guide, "Change data capture for DynamoDB Streams"). moto answers
    ResourceInUseException "Cannot enable stream" once a table had a stream, and after a stream is
    turned off it keeps the shard and fails every write (KeyError 'StreamViewType')."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.update_table_streams
    if getattr(original, "asyncapi_reenable", False):
        return

    def update_table_streams(self: Any, table: Any, specification: dict[str, Any]) -> None:
        if not (table.stream_specification or {}).get("StreamEnabled"):
            table.latest_stream_label = None  # the old stream is off: a new one may start
        original(self, table, specification)
        if not (specification.get("StreamEnabled") or specification.get("StreamViewType")):
            table.stream_shard = None  # off: writes no longer go to a stream

    update_table_streams.asyncapi_reenable = True  # type: ignore[attr-defined]
    DynamoDBBackend.update_table_streams = update_table_streams  # type: ignore[method-assign]


def snapshot_iam_role_listing() -> None:
    """moto's IAM looks a role up by iterating its dict of roles, live: a CreateRole on another thread
    (the engine creates roles while others read them; the server is threaded) fails that lookup with
    "dictionary changed size during iteration". AWS has no such failure. Iterate over a snapshot."""
    from moto.iam.models import IAMBackend

    if getattr(IAMBackend.get_roles, "_asyncapi_snapshot", False):
        return

    def get_roles(self: IAMBackend) -> list[Any]:
        return list(self.roles.values())

    get_roles._asyncapi_snapshot = True  # type: ignore[attr-defined]
    originals.setdefault("IAMBackend.get_roles", IAMBackend.get_roles)
    IAMBackend.get_roles = get_roles  # type: ignore[assignment,method-assign]


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


def snapshot_logs_listing() -> None:
    """moto's CloudWatch Logs lists log groups and a group's streams by iterating its dicts, live: a
    CreateLogGroup or CreateLogStream on another thread meanwhile (the engine creates log groups while
    another unit looks its own up; the embedded AWS's sink creates streams while `logs` lists them)
    failed the listing with "dictionary changed size during iteration" (seen in the interruption
    matrix). AWS has no such failure. The backends' dicts iterate over a snapshot. Idempotent."""
    from moto.logs.models import LogGroup, LogsBackend

    for cls, attribute in ((LogsBackend, "groups"), (LogGroup, "streams")):
        name = f"{cls.__name__}.__init__"
        if name in originals:
            continue
        init = cls.__init__

        def snapshotting(
            self: Any, *args: Any, _init: Any = init, _attribute: str = attribute, **kwargs: Any
        ) -> None:
            _init(self, *args, **kwargs)
            setattr(self, _attribute, SnapshotDict(getattr(self, _attribute)))

        originals[name] = init
        cls.__init__ = snapshotting  # type: ignore[method-assign]


CodeWatcher = Callable[[str, str, str], None]
_code_watchers: list[CodeWatcher] = []


def watch_function_code(watcher: CodeWatcher) -> Callable[[], None]:
    """watcher(account, region, function name or ARN) after each successful CreateFunction and
    UpdateFunctionCode: the Lambda runtime unpacks the code and starts its worker zygote then, not
    inside the first invocation. A watcher's failure never fails the call. Returns what
    stops the watching."""
    from moto.awslambda.models import LambdaBackend

    def unwatch() -> None:
        with _lock:
            if watcher in _code_watchers:
                _code_watchers.remove(watcher)

    with _lock:
        if watcher not in _code_watchers:
            _code_watchers.append(watcher)
        if "LambdaBackend.create_function" in originals:
            return unwatch
        create, update = LambdaBackend.create_function, LambdaBackend.update_function_code

        def create_function(self: Any, spec: dict[str, Any]) -> Any:
            function = create(self, spec)
            _tell_code_watchers(self.account_id, self.region_name, function.function_name)
            return function

        def update_function_code(self: Any, function_name: str, qualifier: Any, body: dict[str, Any]) -> Any:
            answer = update(self, function_name, qualifier, body)
            _tell_code_watchers(self.account_id, self.region_name, function_name)
            return answer

        originals["LambdaBackend.create_function"] = create
        originals["LambdaBackend.update_function_code"] = update
        LambdaBackend.create_function = create_function  # type: ignore[method-assign]
        LambdaBackend.update_function_code = update_function_code  # type: ignore[method-assign]
    return unwatch


_invocation_answer: list[Callable[[Any], Any]] = []


def answer_invocations(answer: Callable[[Any], Any]) -> Callable[[], None]:
    """Invoke (POST /2015-03-31/functions/<name>/invocations) answered by answer(moto's LambdaResponse)
    -> (status, headers, body) instead of moto's Docker invocation. Returns what undoes it."""
    from moto.awslambda.responses import LambdaResponse

    def restore() -> None:
        with _lock:
            if answer in _invocation_answer:
                _invocation_answer.remove(answer)

    with _lock:
        _invocation_answer[:] = [answer]
        if "LambdaResponse.invoke" in originals:
            return restore
        original = LambdaResponse.invoke

        def invoke(self: Any) -> Any:
            current = _invocation_answer[0] if _invocation_answer else None
            return original(self) if current is None else current(self)

        originals["LambdaResponse.invoke"] = original
        LambdaResponse.invoke = invoke  # type: ignore[method-assign]
    return restore


def _tell_code_watchers(account: str, region: str, name: str) -> None:
    for watcher in list(_code_watchers):
        try:
            watcher(account, region, name)
        except Exception as exc:  # the function is saved; what the watcher prepares is done again later
            logging.getLogger("asyncapi.local").warning("watching function %s: %s", name, exc)


def keep_stage_on_redeploy() -> None:
    """CreateDeployment with the name of an existing stage updates that stage's deployment and
    variables and keeps everything else ("stageName: The name of the Stage resource for the Deployment
    resource to create", API Gateway REST API Reference, CreateDeployment; the stage's settings are
    the stage's, not the deployment's). moto builds a new Stage and loses methodSettings,
    accessLogSettings and tags. Idempotent."""
    from moto.apigateway.models import RestAPI

    original = RestAPI.create_deployment
    if getattr(original, "asyncapi_keep_stage", False):
        return

    def create_deployment(self: Any, name: str, description: str, stage_variables: Any = None) -> Any:
        kept = self.stages.get(name) if name else None
        deployment = original(self, name, description, stage_variables)
        if kept is not None:
            kept.deployment_id = deployment.id
            if stage_variables:
                kept.variables = {**(kept.variables or {}), **stage_variables}
            self.stages[name] = kept
        return deployment

    create_deployment.asyncapi_keep_stage = True  # type: ignore[attr-defined]
    RestAPI.create_deployment = create_deployment  # type: ignore[method-assign]


def apply() -> None:
    """Apply every patch once (idempotent; safe from several threads)."""
    global _applied
    with _lock:
        if _applied:
            return
        from . import (
            moto_atomic,
            moto_dynamodb_speedups,
            moto_json_answers,
            moto_json_requests,
            moto_request_ids,
            moto_routing,
            moto_xml_answers,
            sqs_move_tasks,
            stream_poller,
        )

        neutralize_moto_event_sources()
        speed_up_sqs()
        moto_dynamodb_speedups.apply()
        moto_json_answers.apply()
        moto_json_requests.apply()
        moto_xml_answers.apply()
        moto_request_ids.apply()
        lock_free_backend_lookups()
        allow_stream_reenable()
        keep_stage_on_redeploy()
        snapshot_iam_role_listing()
        snapshot_logs_listing()
        moto_atomic.apply()
        moto_routing.remember_routing()

        sqs_move_tasks.install()
        stream_poller.install()
        _applied = True
