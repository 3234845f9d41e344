"""`[alarms] notify` in its recorded form: what the state keeps of a URL that can hold a credential, how
a subscription known only by that digest is found (in-process moto), and when the record applies."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from asyncapi_cli import alarms, configuration, ops
from asyncapi_cli.alarms import subscription_key
from asyncapi_cli.config import LoadedConfig
from asyncapi_cli.engine import SilentReporter
from asyncapi_cli.errors import InputError
from asyncapi_cli.notify_endpoints import digest_only, endpoint_digest, notify_problem, recorded_form
from asyncapi_cli.state import StackState, StateStore, Target

from .conftest import ACCOUNT, deploy, run_cli, stack_options

NAME = "notify-units"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:{NAME}-alarms"
# Two endpoints on one host: only the digest tells them apart.
HOOK = "https://events.pagerduty.example/integration/first-key/enqueue"
SAME_HOST = "https://events.pagerduty.example/integration/second-key/enqueue"


def test_the_recorded_form_keeps_scheme_host_and_the_unit_keys_digest() -> None:
    shown = recorded_form(HOOK)
    digest = endpoint_digest(HOOK)
    assert shown == f"https://events.pagerduty.example/… (sha256:{digest})"
    assert recorded_form(shown) == shown and digest_only(shown) == ("https", digest)
    assert subscription_key(HOOK) == subscription_key(shown) == f"alarm_notify_{digest}"
    assert recorded_form(SAME_HOST) != shown
    # Email addresses are kept as they are (not a credential; SNS needs them to subscribe again).
    assert recorded_form("email:ops@example.com") == "email:ops@example.com"
    assert digest_only("email:ops@example.com") is None and digest_only(HOOK) is None
    # The recorded form is not a valid entry of asyncapi.toml: a digest never reaches Subscribe.
    assert notify_problem([shown]) is not None


def test_the_recorded_list_stands_only_when_no_file_is_read() -> None:
    # The record cannot subscribe a retired endpoint again: with no asyncapi.toml at all, the list
    # stands; any other setting the file set falls back to the default as before; a file that exists
    # and no longer names notify drops it too.
    recorded = configuration.Configuration(
        {"alarm_notify": [recorded_form(HOOK)], "log_retention_days": 30},
        {"alarm_notify": "file", "log_retention_days": "file"},
    )
    none = configuration.Configuration()
    no_file = configuration.from_file(LoadedConfig())
    assert configuration.resolve(recorded, no_file, none).values == {"alarm_notify": [recorded_form(HOOK)]}
    empty_file = configuration.from_file(LoadedConfig(path=Path("asyncapi.toml")))
    assert configuration.resolve(recorded, empty_file, none).values == {}
    # The full URL from the file is what converges, but never what is recorded or described.
    given = configuration.from_file(LoadedConfig(overrides={"alarm_notify": (HOOK,)}))
    resolved = configuration.resolve(recorded, given, none)
    assert resolved.settings(local=False).alarm_notify == (HOOK,)
    assert "first-key" not in json.dumps([resolved.to_json(), resolved.describe()])


def test_a_digest_finds_its_own_subscription_and_never_subscribes_again(mocked_aws: None) -> None:
    # ListSubscriptionsByTopic answers each subscription's Endpoint as it was subscribed (SNS API
    # reference, the Subscription data type; the AWS CLI reference's list-subscriptions-by-topic output):
    # hashing it finds the endpoint a digest stands for.
    deploy(NAME, overrides={"alarm_notify": (HOOK, SAME_HOST)})
    # A later run given no list: the record's digests apply.
    again = ops.open_stack(stack_options(NAME), creating=False)
    assert again.ctx.settings.alarm_notify == (recorded_form(HOOK), recorded_form(SAME_HOST))
    outcomes = ops.up(again, SilentReporter())
    assert {o.action for o in outcomes} == {"exists"}
    sns = boto3.client("sns", region_name="us-east-1")
    listed = {
        s["Endpoint"]: s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
    }
    for endpoint in (HOOK, SAME_HOST):  # each digest found its own endpoint's ARN
        assert again.state.resources[subscription_key(endpoint)]["arn"] == listed[endpoint]

    sns.unsubscribe(SubscriptionArn=listed[HOOK])
    gone = ops.open_stack(stack_options(NAME), creating=False)
    planned = {o.key: o.action for o in ops.plan(gone)}
    assert planned[subscription_key(HOOK)] == "create" and planned[subscription_key(SAME_HOST)] == "exists"
    with pytest.raises(InputError, match=r"events\.pagerduty\.example/… \(sha256:[0-9a-f]{12}\) is gone"):
        ops.up(gone, SilentReporter())
    # The engine's own guard, were the check before any change skipped: create refuses, calls nothing.
    [unit] = [u for u in alarms.units(gone.ctx) if u.key == subscription_key(HOOK)]
    with pytest.raises(InputError, match=r"known only by its digest; name the endpoint again"):
        unit.create(gone.ctx)
    assert [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]] == [
        SAME_HOST
    ]


def test_export_needs_the_url_a_digest_stands_for() -> None:
    state = StackState(name=NAME, target=Target(kind="aws", region="us-east-1"))
    recorded = {"alarm_notify": [recorded_form(HOOK)]}
    state.configuration = {"values": recorded, "sources": {"alarm_notify": "file"}}
    StateStore(Path(".asyncapi") / f"{NAME}.json", state).save()
    offline = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    command = ["export", "cloudformation", "--state", f".asyncapi/{NAME}.json", "--output-dir", "cfn"]
    refused = run_cli(*command, env=offline)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert recorded_form(HOOK) in line and "[alarms] notify" in line
    Path("asyncapi.toml").write_text(f'[alarms]\nnotify = ["{HOOK}"]\n', encoding="utf-8")
    exported = run_cli(*command, env=offline)
    assert exported.returncode == 0, exported.stderr
    assert HOOK in Path("cfn/template.yaml").read_text(encoding="utf-8")  # the template needs the URL itself
