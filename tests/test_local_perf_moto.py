"""moto's SQS, patched for speed (asyncapi_cli/local/compat): same answers, no slowdown with depth.

Each patched function is compared with the moto original it replaced, on the same queue state.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from asyncapi_cli.local.compat import REGISTRY
from asyncapi_cli.local.compat.moto_fixes import SnapshotDict, watch_function_code

from .conftest import apply_embedded_moto_patches
from .fidelity_apigw import LAMBDA_TRUST
from .test_fidelity_lambda import function_zip

ACCOUNT = "123456789012"


def _original(target: str) -> Any:
    """What the registered patch of `target` replaced (moto's own)."""
    return REGISTRY.get(target).original
REGION = "us-east-1"


@pytest.fixture
def sqs(mocked_aws: None) -> Iterator[Any]:
    apply_embedded_moto_patches()
    yield boto3.client("sqs", region_name=REGION)


def backend() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT][REGION]


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return tuple(int(found[n]) for n in names)  # type: ignore[return-value]


def test_counts_are_right_after_sends_receives_delays_and_deletes(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="counted", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for _ in range(5):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    assert counts(sqs, url) == (5, 0, 1)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert counts(sqs, url) == (3, 2, 1)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    assert counts(sqs, url) == (3, 1, 1)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=received[1]["ReceiptHandle"], VisibilityTimeout=0
    )
    assert counts(sqs, url) == (4, 0, 1)


def test_a_send_does_not_walk_the_queue(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's SendMessage built every queue attribute, the message counts among them, to read
    ContentBasedDeduplication: a pass over the queue per send. The counts stay right afterwards, and
    a FIFO queue's content-based deduplication (SQS Developer Guide, "Exactly-once processing") holds."""
    from moto.sqs.models import Message

    url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)])
    looked_at: list[int] = []
    visible = Message.visible

    def counted(self: Any) -> bool:
        looked_at.append(1)
        return visible.fget(self)

    monkeypatch.setattr(Message, "visible", property(counted))
    sqs.send_message(QueueUrl=url, MessageBody="one more")
    assert looked_at == []
    assert counts(sqs, url) == (11, 0, 0)
    fifo = sqs.create_queue(
        QueueName="dedup.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    assert counts(sqs, fifo)[0] == 1
    strict = sqs.create_queue(QueueName="strict.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError, match="ContentBasedDeduplication"):  # no deduplication id given
        sqs.send_message(QueueUrl=strict, MessageBody="same", MessageGroupId="g")
    assert (
        sqs.get_queue_attributes(QueueUrl=strict, AttributeNames=["All"])["Attributes"]["FifoQueue"] == "true"
    )


def test_visibility_and_delay_match_moto(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="same")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="now")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=30)
    sqs.receive_message(QueueUrl=url)
    queue = backend().get_queue("same")
    for message in queue._messages:
        assert message.visible == _original("moto.sqs.models:Message.visible").fget(message)
        assert message.delayed == _original("moto.sqs.models:Message.delayed").fget(message)
    assert {(m.body, m.visible, m.delayed) for m in queue._messages} == {
        ("now", False, False),
        ("later", True, True),
    }


def test_retention_still_expires_messages(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="retained", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    sqs.send_message(QueueUrl=url, MessageBody="new")
    queue = backend().get_queue("retained")
    old, new = queue._messages
    old.sent_timestamp -= 61_000  # sent 61 s ago: past its 60 s retention
    original = _original("moto.sqs.models:SQSBackend.is_message_valid_based_on_retention_period")
    for message, valid in ((old, False), (new, True)):
        assert backend().is_message_valid_based_on_retention_period("retained", message) is valid
        assert original(backend(), "retained", message) is valid
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert "old" not in bodies


def test_delete_semantics_are_moto_and_aws(sqs: Any) -> None:
    from botocore.exceptions import ClientError

    url = sqs.create_queue(QueueName="deleted", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    second = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    assert first != second
    assert re.fullmatch(r"[a-z]{185}", second)  # moto's receipt handle shape, kept
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first)  # an older handle of the message deletes it
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second)  # deleting again succeeds
    assert counts(sqs, url) == (0, 0, 0)
    with pytest.raises(ClientError) as error:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert error.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"


# How fast a 1,000-message backlog drains is a timing goal: bench/load.py --throughput measures it
# (timing goals live in bench/, not in tests).


def test_backend_lookups_after_a_reset_register_again(sqs: Any) -> None:
    # The lock-free lookup (the backend-lookups patch) must not skip moto's registration
    # of a BackendDict for reset: after a reset, state made again is reset again.
    from moto.core.base_backend import BackendDict
    from moto.sqs.models import sqs_backends

    sqs.create_queue(QueueName="before-reset")
    assert sqs_backends in BackendDict._instances
    BackendDict.reset()
    assert ACCOUNT not in dict.keys(sqs_backends)
    assert backend().queues == {}  # a lookup after the reset creates and registers again
    assert sqs_backends in BackendDict._instances
    sqs.create_queue(QueueName="after-reset")
    BackendDict.reset()
    assert backend().queues == {}


def test_a_role_created_while_roles_are_listed_does_not_break_the_listing(mocked_aws: None) -> None:
    """A role lookup iterates over the roles; a CreateRole on another thread meanwhile made moto's
    lookup fail ("dictionary changed size during iteration"). The patched listing is a snapshot."""
    from moto.iam.models import iam_backends

    REGISTRY.apply(["iam-role-listing"])
    iam = boto3.client("iam", region_name=REGION)
    trust = '{"Version": "2012-10-17", "Statement": []}'
    iam.create_role(RoleName="first", AssumeRolePolicyDocument=trust)
    backend = iam_backends[ACCOUNT]["global"]
    listing = iter(backend.get_roles())
    next(listing)
    iam.create_role(RoleName="second", AssumeRolePolicyDocument=trust)  # as another thread would
    assert [role.name for role in listing] == []  # the snapshot ends where it was taken
    with pytest.raises(RuntimeError):  # moto's own live view fails exactly there
        original = iter(_original("moto.iam.models:IAMBackend.get_roles")(backend))
        next(original)
        iam.create_role(RoleName="third", AssumeRolePolicyDocument=trust)
        list(original)
    assert backend.get_role("third").name == "third"


def test_a_log_group_created_while_log_groups_are_listed_does_not_break_the_listing(mocked_aws: None) -> None:
    """The engine's units create log groups on threads while another unit describes its own; moto's
    listing iterated its dict live and failed ("dictionary changed size during iteration", seen in the
    interruption matrix). The patched dicts iterate over a snapshot."""
    from moto.logs.models import logs_backends

    REGISTRY.apply(["logs-listing"])
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="/first")
    logs.create_log_stream(logGroupName="/first", logStreamName="a")
    backend = logs_backends[ACCOUNT][REGION]
    for live, create in (
        (backend.groups, lambda: logs.create_log_group(logGroupName="/second")),
        (
            backend.groups["/first"].streams,
            lambda: logs.create_log_stream(logGroupName="/first", logStreamName="b"),
        ),
    ):
        listing = iter(live.items())
        next(listing)
        create()  # as another thread would, mid-listing
        assert list(listing) == []  # the snapshot ends where it was taken
        assert len(live) == 2 and isinstance(live, SnapshotDict)
    names = [group["logGroupName"] for group in logs.describe_log_groups()["logGroups"]]
    assert names == ["/first", "/second"]
    streams = logs.describe_log_streams(logGroupName="/first")["logStreams"]
    assert [stream["logStreamName"] for stream in streams] == ["a", "b"]


def test_the_remembered_backend_for_a_host_is_moto_own_choice() -> None:
    """The routing patches: the server's dispatcher answers each host as moto would (service
    hosts of every region form, S3's virtual hosts, moto's own API, and hosts it does not know)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    REGISTRY.apply(["routing", "routers-one-at-a-time"])
    original = _original("moto.moto_server.werkzeug_app:DomainDispatcherApplication.get_backend_for_host")
    dispatcher = DomainDispatcherApplication(create_backend_app)
    hosts = [
        *(
            f"{service}.{region}.amazonaws.com"
            for service in (
                "sqs",
                "dynamodb",
                "lambda",
                "iam",
                "apigateway",
                "logs",
                "sts",
                "secretsmanager",
                "scheduler",
                "monitoring",
                "events",
            )
            for region in ("us-east-1", "eu-west-3")
        ),  # fmt: skip
        "s3.amazonaws.com",
        "my-bucket.s3.amazonaws.com",
        "moto_api",
        "awslambda",  # a module's name
        "lambda",
        "example.com",
        None,
    ]
    expected = [original(dispatcher, host) for host in hosts]
    assert [host for host, backend in zip(hosts, expected, strict=True) if backend is None] == [
        "lambda",
        "example.com",
        None,
    ]
    assert [dispatcher.get_backend_for_host(host) for host in hosts] == expected
    assert [dispatcher.get_backend_for_host(host) for host in hosts] == expected  # and again, remembered
    fresh = DomainDispatcherApplication(create_backend_app)
    assert [fresh.get_backend_for_host(host) for host in hosts] == expected


def test_the_remembered_backends_and_url_tables_are_moto_own() -> None:
    """The routing patches: in-process moto (mock_aws) looks each request's backend up through
    moto.backends.get_backend and the backend's URL table; the remembered ones are moto's own."""
    import moto.backends
    from moto.core.base_backend import BaseBackend

    REGISTRY.apply(["routing", "routers-one-at-a-time"])
    get_backend = _original("moto.backends:get_backend")
    urls = _original("moto.core.base_backend:BaseBackend.urls")
    for service in ("sqs", "dynamodb", "s3", "iam", "lambda", "apigateway", "logs", "scheduler"):
        backends = moto.backends.get_backend(service)
        assert backends is get_backend(service)
        assert moto.backends.get_backend(service) is backends  # remembered
        region = "global" if service in ("iam",) else "us-east-1"
        backend = backends[ACCOUNT][region if region in backends[ACCOUNT] else "aws"]
        assert isinstance(backend, BaseBackend)
        assert backend.urls == urls.fget(backend)
        assert backend.urls is backend.urls  # built once


def test_the_remembered_action_methods_are_moto_own() -> None:
    """The routing patches: moto finds the method serving an action among the response class's functions,
    listed with inspect.getmembers on every request; the remembered lists are moto's own."""
    import moto.core.responses
    from moto.apigateway.responses import APIGatewayResponse
    from moto.awslambda.responses import LambdaResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    REGISTRY.apply(["routing", "routers-one-at-a-time"])
    original = _original("moto.core.responses:method_names_from_class")
    remembered = moto.core.responses.method_names_from_class
    assert remembered is not original
    for clazz in (SQSResponse, DynamoHandler, LambdaResponse, APIGatewayResponse):
        assert remembered(clazz) == original(clazz)
        assert remembered(clazz) is remembered(clazz)  # listed once
    assert "send_message" in remembered(SQSResponse) and "update_item" in remembered(DynamoHandler)

    class Added(SQSResponse):  # an action added after the first request (as sqs_move_tasks.py does)
        pass

    assert "an_added_action" not in remembered(Added)
    Added.an_added_action = lambda self: None  # type: ignore[attr-defined]
    assert "an_added_action" in remembered(Added) and remembered(Added) == original(Added)


def test_operation_routers_are_built_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """routers-one-at-a-time: two threads' first requests to a service built its router at once, and
    CPython 3.11's ast.parse is not safe for that (gh-106905: "AST constructor recursion depth
    mismatch", seen in a deploy's threads). The second waits for the first, then uses the router the
    first built."""
    import threading

    import moto.core.routing as routing

    REGISTRY.apply(["routing", "routers-one-at-a-time"])
    first_inside, second_inside = threading.Event(), threading.Event()
    inside, most_inside, built = [0], [0], []
    lock = threading.Lock()

    class Router:
        def __init__(self, _service_model: Any) -> None:
            with lock:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
                if inside[0] == 2:
                    second_inside.set()
            first_inside.set()
            # Bounded: without one-at-a-time the second build arrives at once and ends this wait.
            second_inside.wait(0.5)
            built.append(self)
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(routing, "get_router_class", lambda _service, _protocol: Router)
    router = routing.ServiceOperationRouter(routing.get_service_model("sqs"))
    got: list[Any] = []
    first = threading.Thread(target=lambda: got.append(router._get_router("json")))
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=lambda: got.append(router._get_router("json")))
    second.start()
    first.join(10)
    second.join(10)
    assert most_inside[0] == 1 and len(built) == 1
    assert got == [built[0], built[0]]


FN_SOURCE = "def handler(event, context):\n    return 1\n"


def create_function(name: str, code: bytes) -> Any:
    import json

    iam = boto3.client("iam", region_name=REGION)
    try:
        role = iam.get_role(RoleName="runner")["Role"]["Arn"]
    except ClientError:
        role = iam.create_role(RoleName="runner", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"][
            "Arn"
        ]
    lam = boto3.client("lambda", region_name=REGION)
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="fn.handler",
                        Code={"ZipFile": code})  # fmt: skip
    return lam


def test_create_function_and_update_function_code_tell_the_code_watchers(mocked_aws: None) -> None:
    """watch_function_code: the embedded AWS's Lambda runtime prepares a function's code when it is
    created or its code replaced; a watcher that fails does not fail the call, and one that
    stopped watching hears nothing more."""
    REGISTRY.apply(["function-code-watch"])
    told: list[tuple[str, str, str]] = []

    def failing(account: str, region: str, name: str) -> None:
        raise RuntimeError("a watcher's own failure")

    stops = [watch_function_code(failing), watch_function_code(
        lambda account, region, name: told.append((account, region, name)))]  # fmt: skip
    try:
        lam = create_function("fn", function_zip(FN_SOURCE))
        assert told == [(ACCOUNT, REGION, "fn")]
        lam.update_function_code(FunctionName="fn", ZipFile=function_zip(FN_SOURCE))
        assert told == [(ACCOUNT, REGION, "fn")] * 2
        with pytest.raises(ClientError):  # a call that fails tells nobody
            lam.update_function_code(FunctionName="missing", ZipFile=function_zip(FN_SOURCE))
        for stop in stops:
            stop()
        lam.update_function_code(FunctionName="fn", ZipFile=function_zip(FN_SOURCE))
        assert len(told) == 2
    finally:
        for stop in stops:
            stop()


def test_a_function_code_is_hashed_once_per_code_not_per_invocation(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lookup_function (every invocation): the code's digest is computed when the code is new and kept
    beside it; new code gets its own."""
    import hashlib
    import types

    from asyncapi_cli.local.lambda_ import runtime as lambda_runtime

    hashed: list[int] = []
    real_sha256 = hashlib.sha256

    def sha256(data: bytes = b"") -> Any:
        hashed.append(len(data))
        return real_sha256(data)

    first, second = function_zip(FN_SOURCE), function_zip("def handler(event, context):\n    return 2\n")
    lam = create_function("fn", first)
    # Counted where lookup_function hashes (moto computes CodeSha256 with hashlib too).
    monkeypatch.setattr(lambda_runtime, "hashlib", types.SimpleNamespace(sha256=sha256))
    specs = [lambda_runtime.lookup_function(ACCOUNT, REGION, "fn") for _ in range(3)]
    assert all(spec is not None and spec.digest == real_sha256(first).hexdigest() for spec in specs)
    assert hashed == [len(first)]  # once, not per lookup
    lam.update_function_code(FunctionName="fn", ZipFile=second)
    spec = lambda_runtime.lookup_function(ACCOUNT, REGION, "fn")
    assert spec is not None and spec.digest == real_sha256(second).hexdigest()
    assert hashed == [len(first), len(second)]
    assert specs[0].key != spec.key  # new code: new environments
