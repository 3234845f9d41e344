"""asyncapi_cli/botocore_speedups.py: each change gives botocore's own answers (its own code, run beside
it, is the reference), and copies of an emitter stay independent."""

from __future__ import annotations

import copy
import functools
import inspect
import random
from collections import defaultdict
from typing import Any

import boto3
import botocore.config
import botocore.hooks
import pytest

from asyncapi_cli import botocore_speedups
from asyncapi_cli.aws import botocore_session

botocore_speedups.apply()


def _replayed(history: list[tuple[str, str, str]]) -> Any:
    """The reference: a trie never copied (botocore's own code changes it in place), given the same
    appends and removals."""
    trie = botocore.hooks._PrefixTrie()
    for action, key, item in history:
        (trie.append_item if action == "append" else trie.remove_item)(key, item)
    return trie


@pytest.mark.parametrize("seed", range(4))
def test_copied_tries_answer_as_botocore_and_stay_independent(seed: int) -> None:
    rng = random.Random(seed)
    parts = ["before-call", "after-call", "sqs", "s3", "*", "SendMessage", "GetObject"]
    probes = ["before-call.sqs.SendMessage", "after-call.s3", "sqs", "before-call.*.GetObject", "s3.*"]
    tries = [botocore.hooks._PrefixTrie()]
    histories: list[list[tuple[str, str, str]]] = [[]]
    for step in range(240):
        which = rng.randrange(len(tries))
        trie, history = tries[which], histories[which]
        present = defaultdict(list)
        for action, key, item in history:
            (present[key].append if action == "append" else present[key].remove)(item)
        roll = rng.random()
        if roll < 0.1:  # botocore copies an emitter for every client
            tries.append(copy.copy(trie))
            histories.append(list(history))
        elif roll < 0.25 and any(present.values()):
            key = rng.choice([k for k, v in present.items() if v])
            item = rng.choice(present[key])
            trie.remove_item(key, item)
            history.append(("remove", key, item))
        else:
            key = ".".join(rng.choice(parts) for _ in range(rng.randint(1, 3)))
            trie.append_item(key, f"handler-{step}")
            history.append(("append", key, f"handler-{step}"))
        if step % 20 == 19:
            for other, other_history in zip(tries, histories, strict=True):
                reference = _replayed(other_history)
                for probe in probes:
                    assert list(other.prefix_search(probe)) == list(reference.prefix_search(probe))
    assert len(tries) > 5


def test_first_and_last_sections_keep_their_order_in_copies() -> None:
    emitter = botocore.hooks.HierarchicalEmitter()
    calls: list[str] = []
    emitter.register("event.x", lambda **_: calls.append("middle"))
    copied = copy.copy(emitter)
    copied.register_first("event.x", lambda **_: calls.append("first"))
    copied.register_last("event", lambda **_: calls.append("last, less specific"))
    copied.emit("event.x")
    assert calls == ["first", "middle", "last, less specific"]
    calls.clear()
    emitter.emit("event.x")  # the original is unchanged
    assert calls == ["middle"]


class _Callable:
    def __call__(self, a: int, **kwargs: Any) -> None: ...


class _Methods:
    def with_kwargs(self, **kwargs: Any) -> None: ...

    def without(self, a: int) -> None: ...

    @staticmethod
    def static(**kwargs: Any) -> None: ...


def _plain(a: int, *args: Any) -> None: ...


@pytest.mark.parametrize(
    "func",
    [
        lambda **kw: None,
        lambda a: None,
        _plain,
        _Methods().with_kwargs,
        _Methods().without,
        _Methods.static,
        _Callable(),
        functools.partial(lambda a, **kw: None, 1),
        print,
    ],
)
def test_kwargs_check_answers_as_getfullargspec(func: Any) -> None:
    try:
        expected: Any = inspect.getfullargspec(func)[2] is not None
    except TypeError as exc:
        expected = type(exc)
    try:
        found: Any = botocore.hooks.accepts_kwargs(func)
    except TypeError as exc:
        found = type(exc)
    assert found == expected


def test_aliases_are_botocores_and_other_tables_keep_their_own_cache() -> None:
    events = ["before-call.apigateway.GetRestApis", "creating-client-class.api-gateway", "after-call.s3"]
    shared = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
    for event in events:
        private = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
        private._alias_name_cache = {}  # botocore's own computation, from nothing
        assert shared._alias_event_name(event) == private._alias_event_name(event)
    custom = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter(), {"foo": "bar"})
    assert custom._alias_event_name("x.foo") == "x.bar"
    assert "x.foo" not in shared._alias_name_cache


def test_clients_of_one_service_keep_every_method_and_their_customisations() -> None:
    first = boto3.Session(botocore_session=botocore_session(), region_name="us-east-1")
    second = boto3.Session(botocore_session=botocore_session(), region_name="us-east-1")
    credentials = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}
    a = first.client("s3", **credentials)
    b = second.client("s3", **credentials)
    operations = set(a.meta.service_model.operation_names)
    assert len(operations) > 50
    assert set(a._PY_TO_OP_NAME.values()) == operations
    for client in (a, b):
        for name in ("put_object", "list_objects_v2", "generate_presigned_url", "upload_file"):
            assert callable(getattr(client, name)), name
    assert type(a) is not type(b)  # each client still gets its own class, customised as botocore does
    url = b.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    assert "X-Amz-Expires=60" in url or "Expires=" in url


class _Sent(Exception):
    """Raised instead of sending: carries the URL botocore resolved for the request."""


def _url_of(client: Any, operation: str, **params: Any) -> str:
    def refuse(request: Any, **_: Any) -> None:
        raise _Sent(request.url)

    client.meta.events.register_first("before-send", refuse)
    try:
        getattr(client, operation)(**params)
    except _Sent as sent:
        return str(sent)
    raise AssertionError("the request was sent")


def test_clients_share_a_services_model_and_rules_yet_resolve_their_own_endpoints() -> None:
    credentials = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}

    def client(service: str, region: str, **config: Any) -> Any:
        session = boto3.Session(botocore_session=botocore_session())
        return session.client(
            service, region_name=region, config=botocore.config.Config(**config), **credentials
        )

    east, west = client("sqs", "us-east-1"), client("sqs", "eu-west-1")
    fips, china = client("sqs", "us-east-1", use_fips_endpoint=True), client("sqs", "cn-north-1")
    assert east.meta.service_model is west.meta.service_model is fips.meta.service_model
    assert east._ruleset_resolver._provider is west._ruleset_resolver._provider
    # Each client's own region, FIPS and partition still decide its endpoint: the rule set's answers
    # (botocore/data/sqs/*/endpoint-rule-set-1.json), whichever client asked first.
    for _repeat in range(2):
        assert _url_of(west, "list_queues") == "https://sqs.eu-west-1.amazonaws.com/"
        assert _url_of(east, "list_queues") == "https://sqs.us-east-1.amazonaws.com/"
        assert _url_of(fips, "list_queues") == "https://sqs-fips.us-east-1.amazonaws.com/"
        assert _url_of(china, "list_queues") == "https://sqs.cn-north-1.amazonaws.com.cn/"
    # S3: a provider of its own (its own rule set; newer botocores also leave S3_UNREFERENCED_PARAMS out).
    s3 = client("s3", "eu-west-1", s3={"addressing_style": "path"})
    assert s3._ruleset_resolver._provider is not east._ruleset_resolver._provider
    assert (
        _url_of(s3, "get_object", Bucket="my-bucket", Key="k")
        == "https://s3.eu-west-1.amazonaws.com/my-bucket/k"
    )
    virtual = client("s3", "eu-west-1")
    assert (
        _url_of(virtual, "get_object", Bucket="my-bucket", Key="k")
        == "https://my-bucket.s3.eu-west-1.amazonaws.com/k"
    )


def test_event_aliases_are_the_ones_botocores_own_walk_gives() -> None:
    """Names with every entry of botocore's table (EVENT_ALIASES) as a part, at each position, twice, as
    a dotted run that lines up and one that does not, and none; each aliased from an empty cache, by
    botocore's own function (kept as __wrapped__) and by the one that replaced it."""
    from botocore.utils import EVENT_ALIASES

    botocores = botocore.hooks.EventAliaser._alias_event_name.__wrapped__
    names = ["before-call", "before-call.sqs.SendMessage", "", "a..b", "x.data.iotx.y", "data.iot"]
    for old in EVENT_ALIASES:
        names += [
            f"before-call.{old}.Operation",
            f"creating-client-class.{old}",
            f"{old}.{old}.x",
            f"x.{old}x.y",
            f"before-send.x{old}.y",
            f"needs-retry.{old}.{old.replace('.', '-')}",
        ]
    tables = (dict(EVENT_ALIASES), {"foo": "bar", "a.b": "c", "b": "d"})
    for table in tables:
        for name in names + ["x.a.b.b", "a.b.foo", "foo.a.bb", "b.a.b"]:
            ours = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter(), table)
            theirs = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter(), table)
            ours._alias_name_cache, theirs._alias_name_cache = {}, {}
            assert ours._alias_event_name(name) == botocores(theirs, name), (table is tables[0], name)
            assert ours._alias_name_cache == theirs._alias_name_cache
    assert (
        botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())._alias_event_name(
            "before-call.apigateway.GetRestApis"
        )
        == "before-call.api-gateway.GetRestApis"
    )
